# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Turn ``nvidia-smi`` output into the ``ansible_facts.nvidia`` dictionary.

Plain functions, text in and plain data out, no AnsibleModule: the module
``nvidia_smi_facts`` does the I/O and calls these. This file travels to the
managed node, so it uses the standard library only and runs on Python 3.8+.

Inputs understood:

* ``nvidia-smi -q -x``: XML DTD v7 (driver 352) up to v13 (590+), inline
  DTDs, leading blank lines, placeholder values such as ``N/A``, ``[N/A]``,
  ``[Not Supported]``, ``ERR!``, ``Unknown Error`` and ``Not Found``.
* ``nvidia-smi --query-gpu=... --format=csv[,noheader][,nounits]``.
* the exit status and output of a failed ``nvidia-smi``.
"""

from __future__ import annotations

import csv
import io
import math
import re
import xml.etree.ElementTree as ET

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import NvidiaSmiError

NVIDIA_SMI = "nvidia-smi"
WSL_NVIDIA_SMI = "/usr/lib/wsl/lib/nvidia-smi"
USR_BIN_NVIDIA_SMI = "/usr/bin/nvidia-smi"
WSL_INTEROP = "/proc/sys/fs/binfmt_misc/WSLInterop"
WSL_LIB_DIR = "/usr/lib/wsl"

XML_ARGS = ["-q", "-x"]
COMPUTE_CAP_FIELDS = ["pci.bus_id", "compute_cap"]
COMPUTE_CAP_ARGS = ["--query-gpu=" + ",".join(COMPUTE_CAP_FIELDS), "--format=csv,noheader"]

# Values nvidia-smi prints instead of a reading (compared lower-case). Anything
# wholly in square brackets ("[N/A]", "[Not Supported]", "[Unknown Error]",
# "[Requested functionality has been deprecated]") is a placeholder as well.
_PLACEHOLDERS = frozenset([
    "n/a", "not supported", "not available", "not found", "err!", "unknown error", "unknown",
])

# MIG: streaming multiprocessors per GPU-instance slice, by <product_architecture>.
# A100/A30 (Ampere): 1g=14, 2g=28, 3g=42, 4g=56, 7g=98 SMs.
# H100/H200 (Hopper): 1g=16, 2g=32, 3g=60, 4g=64, 7g=132 SMs (captures
# nvidia_gpu_exporter/linux-x86_64__nvidia-h{1,2}00-mig__590.48.01.txt).
# Other architectures: the profile is left unknown (None) rather than guessed.
_MIG_SMS_PER_SLICE = {"ampere": 14, "hopper": 16}
_MIG_MAX_SLICES = 7

_MIB_RE = re.compile(r"^(\d+)(?:\s*MiB)?$")
_NOTE_RE = re.compile(r"^(?P<value>\S+)\s+\[[^\]]*\]$")
_COMPUTE_CAP_RE = re.compile(r"^\d+\.\d+$")
_BUS_ID_RE = re.compile(r"^([0-9A-Fa-f]{1,8}):([0-9A-Fa-f]{1,2}):([0-9A-Fa-f]{1,2})\.([0-7])$")
_CSV_HEADER_UNIT_RE = re.compile(r"^(?P<name>.*?)\s*\[(?P<unit>[^\]]*)\]$")
_CSV_NUMBER_RE = re.compile(r"^(?P<num>-?\d+(?:\.\d+)?)(?:\s*(?P<unit>MiB|KiB|GiB|%|W|MHz|C|us|ms|s|KB/s))?$")
_LABEL_VALUE_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")
_LABEL_VALUE_MAX = 63

LABEL_PREFIX = "nvidia.com/"


# ---------------------------------------------------------------- small values

def clean_value(text):
    """Return the stripped text, or None for nvidia-smi's placeholders."""
    if text is None:
        return None
    value = " ".join(str(text).split())
    if not value or value.lower() in _PLACEHOLDERS:
        return None
    if value.startswith("[") and value.endswith("]"):
        return None
    return value


def strip_version_note(text):
    """'610.57.04 [Deprecated; ... Use KMD Version instead]' -> '610.57.04'."""
    value = clean_value(text)
    if value is None:
        return None
    match = _NOTE_RE.match(value)
    return match.group("value") if match else value


def _to_int(text):
    value = clean_value(text)
    if value is None or not value.isdigit():
        return None
    return int(value)


def _to_mib(text):
    value = clean_value(text)
    match = _MIB_RE.match(value) if value is not None else None
    return int(match.group(1)) if match else None


def normalise_bus_id(bus_id):
    """'0000:00:03.0' and '00000000:00:03.0' -> '00000000:00:03.0' (lower-case hex)."""
    value = clean_value(bus_id)
    if value is None:
        return None
    match = _BUS_ID_RE.match(value)
    if not match:
        return value.lower()
    domain, bus, device, function = match.groups()
    return "%08x:%02x:%02x.%s" % (int(domain, 16), int(bus, 16), int(device, 16), function)


# ---------------------------------------------------------------- XML

def _shorten(text, limit=200):
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _garbage(msg):
    return NvidiaSmiError(msg, reason="garbage_output")


def _xml_start(text):
    """The text from where the XML document starts (lines printed before it are dropped), or None."""
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith("<"):
        return text
    for marker in ("<?xml", "<!DOCTYPE nvidia_smi_log", "<nvidia_smi_log"):
        pos = text.find(marker)
        if pos >= 0:
            return text[pos:]
    return None


def _as_text(value):
    """Text with every byte that is not UTF-8 as U+FFFD: from bytes, or from the str AnsibleModule.run_command
    returns, which carries such a byte as a lone surrogate (surrogateescape) that XML and JSON refuse."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value


def _parse_root(text):
    text = _as_text(text)
    if text is None or not text.strip():
        raise _garbage("nvidia-smi -q -x printed nothing; expected an <nvidia_smi_log> XML document.")
    body = _xml_start(text)
    if body is None:
        raise _garbage('nvidia-smi -q -x did not print XML; its output starts with: "%s"' % _shorten(text))
    try:
        # ElementTree (expat) never fetches the external DTD named in
        # <!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v11.dtd">; inline DTDs
        # (nvidia-smi -q -x --dtd) are read as part of the document.
        root = ET.fromstring(body)
    except (ET.ParseError, ValueError) as exc:
        raise _garbage('Could not parse the output of nvidia-smi -q -x as XML (%s); it starts with: "%s"'
                       % (exc, _shorten(body)))
    if root.tag != "nvidia_smi_log":
        raise _garbage("nvidia-smi -q -x printed XML with root element <%s>, expected <nvidia_smi_log>." % root.tag)
    return root


def _text(elem, path):
    return clean_value(elem.findtext(path))


def _first_version(root, *paths):
    """First usable version among the given elements (newest name first)."""
    for path in paths:
        value = strip_version_note(root.findtext(path))
        if value is not None:
            return value
    return None


def _index_gpus(gpu_elems):
    """Pair each <gpu> with its index.

    The index is the position in the document: nvidia-smi lists GPUs in NVML
    enumeration order (PCI bus order), which is the index that
    ``nvidia-smi -i``, ``--query-gpu=index`` and the device plugin's device
    lists use. <minor_number> (the /dev/nvidiaN number) can differ from it
    (see the pai/nvidia_smi_out_of_order.xml capture) and is N/A on Windows.
    """
    return list(enumerate(gpu_elems))


def mig_memory_gb(mig_memory_mib, gpu_memory_mib):
    """GB figure of a MIG profile name, computed the way NVIDIA's go-nvlib does.

    The MIG memory is rounded up to eighths of the whole GPU, then scaled by
    the GPU memory rounded up to whole GiB: 19968 of 40960 MiB -> 4/8 * 40 = 20.
    """
    if not mig_memory_mib or not gpu_memory_mib:
        return None
    eighths = math.ceil(mig_memory_mib * 8.0 / gpu_memory_mib)
    total_gb = -(-gpu_memory_mib // 1024)
    return int(math.floor(eighths * total_gb / 8.0 + 0.5))


def mig_profile_name(architecture, sm_count, mig_memory_mib, gpu_memory_mib):
    """Derive a GPU-instance profile name such as '3g.20gb', or None when unsure.

    nvidia-smi -q -x does not name MIG profiles. The slice count comes from the
    instance's multiprocessor count (SMs per slice by architecture, see
    _MIG_SMS_PER_SLICE), the memory part from mig_memory_gb(). This assumes the
    compute instance spans its whole GPU instance, which is what
    ``nvidia-smi mig -cgi ... -C`` and mig-parted create.
    """
    per_slice = _MIG_SMS_PER_SLICE.get((architecture or "").lower())
    gb = mig_memory_gb(mig_memory_mib, gpu_memory_mib)
    if not per_slice or not sm_count or gb is None:
        return None
    slices = min(sm_count // per_slice, _MIG_MAX_SLICES)
    if slices < 1:
        return None
    return "%dg.%dgb" % (slices, gb)


def _parse_mig_devices(gpu_elem, gpu_index, gpu_memory_mib):
    elems = gpu_elem.findall("mig_devices/mig_device")
    instance_ids = [_text(elem, "gpu_instance_id") for elem in elems]
    architecture = _text(gpu_elem, "product_architecture")
    devices = []
    for position, elem in enumerate(elems):
        mig_index = _to_int(elem.findtext("index"))
        profile = None
        if instance_ids.count(instance_ids[position]) == 1:
            # several compute instances sharing one GPU instance get
            # "<c>c.<g>g.<gb>gb" names that cannot be told apart from the XML
            profile = mig_profile_name(
                architecture,
                _to_int(elem.findtext("device_attributes/shared/multiprocessor_count")),
                _to_mib(elem.findtext("fb_memory_usage/total")),
                gpu_memory_mib,
            )
        devices.append({
            "index": "%d:%d" % (gpu_index, position if mig_index is None else mig_index),
            "uuid": _text(elem, "uuid"),
            "profile": profile,
        })
    return devices


def _parse_gpu(gpu_elem, index):
    memory_total = _to_mib(gpu_elem.findtext("fb_memory_usage/total"))
    return {
        "index": index,
        "uuid": _text(gpu_elem, "uuid"),
        "name": _text(gpu_elem, "product_name"),
        "pci_bus_id": _text(gpu_elem, "pci/pci_bus_id") or clean_value(gpu_elem.get("id")),
        "memory_total_mib": memory_total,
        "memory_used_mib": _to_mib(gpu_elem.findtext("fb_memory_usage/used")),
        # no XML schema up to v13 carries it; merge_csv_facts() fills it in
        "compute_capability": None,
        "mig_mode": _text(gpu_elem, "mig_mode/current_mig"),
        "mig_devices": _parse_mig_devices(gpu_elem, index, memory_total),
    }


def parse_smi_xml(text):
    """Parse ``nvidia-smi -q -x`` output into the facts dictionary.

    Raises NvidiaSmiError(reason='garbage_output') when the text is not an
    nvidia-smi XML document. ``wsl`` is left None for the caller to set.
    """
    root = _parse_root(text)
    gpus = [_parse_gpu(elem, index) for index, elem in _index_gpus(root.findall("gpu"))]
    facts = {
        "present": bool(gpus),
        "wsl": None,
        # driver 610 deprecates driver_version/cuda_version (a "[Deprecated; ...]"
        # note is appended) in favour of kmd_version/cuda_umd_version
        "driver_version": _first_version(root, "kmd_version", "driver_version"),
        "cuda_version": _first_version(root, "cuda_umd_version", "cuda_version"),
        "count": len(gpus),
        "attached_gpus": _to_int(root.findtext("attached_gpus")),
        "gpus": gpus,
    }
    facts["labels"] = gfd_labels(facts)
    return facts


def absent_facts(wsl=False):
    """Facts for a node without a usable nvidia-smi."""
    return {
        "present": False,
        "wsl": bool(wsl),
        "driver_version": None,
        "cuda_version": None,
        "count": 0,
        "attached_gpus": None,
        "gpus": [],
        "labels": {},
    }


# ---------------------------------------------------------------- labels

def is_valid_label_value(value):
    """A non-empty Kubernetes label value: <= 63 chars, [A-Za-z0-9._-], alnum at both ends."""
    return (isinstance(value, str) and len(value) <= _LABEL_VALUE_MAX
            and _LABEL_VALUE_RE.match(value) is not None)


def gfd_sanitise(name):
    """Product name as GPU feature discovery writes it: 'NVIDIA GeForce RTX 4090' -> 'NVIDIA-GeForce-RTX-4090'.

    Like GFD, drop characters outside [A-Za-z0-9-_. ] and join words with '-'.
    Unlike GFD, also trim to 63 characters and to alphanumeric ends, so the
    result is always a valid label value.
    """
    value = clean_value(name)
    if value is None:
        return None
    value = "-".join(re.sub(r"[^A-Za-z0-9\-_. ]", "", value).split())
    value = value[:_LABEL_VALUE_MAX]
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    return value or None


def _version_labels(prefix, version, parts):
    pieces = (version or "").split(".")
    if not 2 <= len(pieces) <= len(parts):
        return {}
    return dict((prefix + part, piece) for part, piece in zip(parts, pieces))


def gfd_labels(facts):
    """GFD-named node labels from the facts; {} when no GPU is present.

    Per-GPU labels describe the first GPU (lowest index). A label whose value
    is unknown or would be invalid is left out (GFD writes an empty
    cuda.driver.rev for a two-part driver version such as 595.80).
    """
    gpus = facts.get("gpus") or []
    if not facts.get("present") or not gpus:
        return {}
    first = gpus[0]
    labels = {
        "gpu.present": "true",
        "gpu.count": str(len(gpus)),
        "gpu.product": gfd_sanitise(first.get("name")),
        "gpu.memory": None if first.get("memory_total_mib") is None else str(first["memory_total_mib"]),
    }
    labels.update(_version_labels("cuda.driver.", facts.get("driver_version"), ("major", "minor", "rev")))
    labels.update(_version_labels("cuda.runtime.", facts.get("cuda_version"), ("major", "minor")))
    labels.update(_version_labels("gpu.compute.", first.get("compute_capability"), ("major", "minor")))
    return dict((LABEL_PREFIX + key, value) for key, value in labels.items() if is_valid_label_value(value))


# ---------------------------------------------------------------- CSV

def _csv_number(text):
    return float(text) if "." in text else int(text)


def _csv_value(raw, column_has_unit):
    value = clean_value(raw)
    if value is None:
        return None
    match = _CSV_NUMBER_RE.match(value)
    if match and (column_has_unit or match.group("unit")):
        return _csv_number(match.group("num"))
    return value


def _csv_header(cells):
    names, has_unit = [], []
    for cell in cells:
        match = _CSV_HEADER_UNIT_RE.match(cell.strip())
        names.append(match.group("name") if match else cell.strip())
        has_unit.append(bool(match))
    return names, has_unit


def parse_smi_csv(text, fields=None):
    """Parse ``--query-gpu=... --format=csv[,noheader][,nounits]`` output.

    With ``fields`` None the first line is the header; its unit suffixes
    (`` [MiB]``) are removed from the names. With ``fields`` given the output
    has no header and the columns are named by ``fields``.

    Placeholders become None. A value is turned into a number when its column
    carries a unit (header ``[MiB]``, ``[%]``, ...) or the value itself ends in
    one (``754 MiB``); everything else stays a string, so ``compute_cap``
    ``8.6`` and ``driver_version`` ``595.80`` keep their text.
    """
    text = _as_text(text)
    rows = [row for row in csv.reader(io.StringIO(text or ""), skipinitialspace=True)
            if any(cell.strip() for cell in row)]
    if fields is None:
        if not rows:
            return []
        names, has_unit = _csv_header(rows.pop(0))
    else:
        names, has_unit = list(fields), [False] * len(fields)
    result = []
    for number, row in enumerate(rows, 1):
        if len(row) != len(names):
            raise _garbage('nvidia-smi CSV row %d has %d values, expected %d (%s): "%s"'
                           % (number, len(row), len(names), ", ".join(names), _shorten(", ".join(row))))
        result.append(dict((name, _csv_value(cell, unit))
                           for name, cell, unit in zip(names, row, has_unit)))
    return result


def _compute_cap(value):
    value = clean_value(value)
    return value if value is not None and _COMPUTE_CAP_RE.match(value) else None


def _mib_or_none(value):
    return value if isinstance(value, int) else _to_mib(value)


# CSV field -> (facts key, converter); used only to fill what the XML lacks.
_CSV_FILL = (
    ("compute_cap", "compute_capability", _compute_cap),
    ("name", "name", clean_value),
    ("uuid", "uuid", clean_value),
    ("memory.total", "memory_total_mib", _mib_or_none),
    ("memory.used", "memory_used_mib", _mib_or_none),
    ("mig.mode.current", "mig_mode", clean_value),
)


def _unique_rows(rows, key_func):
    found = {}
    for row in rows:
        key = key_func(row)
        if key is not None:
            found.setdefault(key, []).append(row)
    return dict((key, matches[0]) for key, matches in found.items() if len(matches) == 1)


def _matching_row(gpu, by_bus, by_uuid, gpu_uuids):
    row = by_bus.get(normalise_bus_id(gpu.get("pci_bus_id")))
    if row is None and gpu.get("uuid") and gpu_uuids.count(gpu["uuid"]) == 1:
        row = by_uuid.get(gpu["uuid"])
    return row


def merge_csv_facts(facts, rows):
    """Fill values the XML lacks (compute_capability first) from parsed CSV rows.

    Rows are matched to GPUs by PCI bus id; rows without a bus id by UUID. A
    key seen twice, among the rows or among the GPUs (masked or duplicated
    UUIDs), matches nothing. Values the XML already has are kept. Labels are
    recomputed. Returns ``facts``.
    """
    by_bus = _unique_rows(rows, lambda row: normalise_bus_id(row.get("pci.bus_id")))
    by_uuid = _unique_rows([row for row in rows if normalise_bus_id(row.get("pci.bus_id")) is None],
                           lambda row: clean_value(row.get("uuid")))
    gpus = facts.get("gpus", [])
    gpu_uuids = [gpu.get("uuid") for gpu in gpus]
    for gpu in gpus:
        row = _matching_row(gpu, by_bus, by_uuid, gpu_uuids)
        if row is None:
            continue
        for field, key, convert in _CSV_FILL:
            if gpu.get(key) is None and field in row:
                gpu[key] = convert(row[field])
    facts["labels"] = gfd_labels(facts)
    return facts


def needs_compute_capability(facts):
    """True when some GPU has no compute capability yet."""
    return any(gpu.get("compute_capability") is None for gpu in facts.get("gpus", []))


# ---------------------------------------------------------------- finding nvidia-smi

def is_wsl(kernel_release, wsl_interop_exists=False, wsl_lib_dir_exists=False):
    """WSL 2 if the kernel says so ('...-microsoft-standard-WSL2'), or WSL's interop/lib paths exist."""
    release = (kernel_release or "").lower()
    return bool("microsoft" in release or "wsl" in release or wsl_interop_exists or wsl_lib_dir_exists)


def find_nvidia_smi(path_option, which_func, is_executable_func):
    """Locate nvidia-smi: the option, else PATH, else the WSL and /usr/bin locations.

    ``which_func(name)`` returns a path or None (PATH lookup);
    ``is_executable_func(path)`` tells whether a path is an executable file.
    Returns None when nothing is found; an explicit ``path_option`` that is not
    executable raises NvidiaSmiError(reason='not_found').
    """
    if path_option:
        if is_executable_func(path_option):
            return path_option
        raise NvidiaSmiError(
            "nvidia_smi_path=%s does not exist or is not an executable file. Point it at the nvidia-smi "
            "binary (on WSL %s), or leave it unset to search PATH, %s and %s."
            % (path_option, WSL_NVIDIA_SMI, WSL_NVIDIA_SMI, USR_BIN_NVIDIA_SMI),
            reason="not_found")
    found = which_func(NVIDIA_SMI)
    if found:
        return found
    for candidate in (WSL_NVIDIA_SMI, USR_BIN_NVIDIA_SMI):
        if is_executable_func(candidate):
            return candidate
    return None


def not_found_message():
    return ("nvidia-smi was not found (searched PATH, %s and %s). Install the NVIDIA driver (on WSL: the "
            "Windows NVIDIA driver, which provides %s), or set nvidia_smi_path."
            % (WSL_NVIDIA_SMI, USR_BIN_NVIDIA_SMI, WSL_NVIDIA_SMI))


# ---------------------------------------------------------------- failures

_NO_DRIVER_MARKERS = (
    "couldn't communicate with the nvidia driver",
    "couldn't find libnvidia-ml.so",
)


def _first_line(text):
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _version_mismatch(rc, output, wsl):
    match = re.search(r"NVML library version:\s*(\S+)", output)
    library = " (user-space NVML library %s)" % match.group(1) if match else ""
    msg = ("nvidia-smi failed (rc=%s): Driver/library version mismatch%s. The NVIDIA kernel module that is "
           "loaded is older or newer than the installed driver libraries; this follows a driver upgrade "
           "without a reboot. Fix: reboot the node, or unload and reload the nvidia kernel modules "
           "(stop GPU users, then 'modprobe -r nvidia_uvm nvidia_drm nvidia_modeset nvidia && modprobe nvidia'). "
           "Do not reinstall the driver." % (rc, library))
    if wsl:
        msg += (" On WSL the driver comes from Windows: a Linux NVIDIA driver installed inside the distribution "
                "causes this mismatch; remove those packages and use %s." % WSL_NVIDIA_SMI)
    return NvidiaSmiError(msg, reason="version_mismatch")


def _no_driver(rc, output, wsl):
    msg = 'nvidia-smi failed (rc=%s): "%s".' % (rc, _first_line(output))
    if wsl:
        msg += (" Fix: install or update the NVIDIA driver on the Windows host (WSL 2 uses the Windows "
                "driver through /dev/dxg and %s), then run 'wsl --shutdown'. Never install a Linux NVIDIA "
                "driver inside WSL." % WSL_LIB_DIR)
    else:
        msg += (" Fix: install the NVIDIA driver and make sure its kernel module is loaded ('modprobe nvidia'; "
                "after a kernel update the module must be rebuilt for the running kernel, and with Secure Boot "
                "it must be signed).")
    return NvidiaSmiError(msg, reason="no_driver")


def classify_failure(rc, stdout, stderr, wsl=False):
    """Map a failed nvidia-smi run to an NvidiaSmiError whose message says how to fix it.

    reasons: no_driver (exit 9, "couldn't communicate with the NVIDIA driver"),
    version_mismatch ("Failed to initialize NVML: Driver/library version
    mismatch", with an "NVML library version: X" line on newer drivers),
    no_devices ("No devices were found"), unknown (anything else, quoted).
    """
    output = "\n".join(part for part in (stdout, stderr) if part and part.strip()).strip()
    lowered = output.lower()
    if "driver/library version mismatch" in lowered:
        return _version_mismatch(rc, output, wsl)
    if any(marker in lowered for marker in _NO_DRIVER_MARKERS):
        return _no_driver(rc, output, wsl)
    if "no devices were found" in lowered:
        return NvidiaSmiError(
            'nvidia-smi failed (rc=%s): "%s". The driver is loaded but sees no GPU (check the card, its PCI '
            "passthrough, or that the device nodes are visible to this container)." % (rc, _first_line(output)),
            reason="no_devices")
    return NvidiaSmiError('nvidia-smi failed (rc=%s) with output: "%s"' % (rc, _shorten(output, 500) or "(none)"),
                          reason="unknown")
