# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""GPU doctor, node side: why does a pod on this node not get a GPU? Plain data in, checks out.

Pure functions, standard library only (Python 3.8+); nothing here runs a command or
reads a file. The module ``gpu_node_doctor`` collects *probes* on a node (nvidia-smi's
output, device nodes, the engine's live config, the engine's service) and calls
:func:`diagnose_node`. Only this file (and what it imports) is shipped to the nodes; the
cluster checks, the report and its tables run on the controller
(``plugins/plugin_utils/_doctor_cluster.py``).

containerd's paths, CRI table names and how imports merge live in ``_runtime_config``
(the module that writes those files); this file only reads them.

A check is ``{"id", "status", "detail", "fix"}`` with status ``pass``, ``fail`` or
``skip``; ``fix`` is one line, empty when there is nothing to do.
"""

from __future__ import annotations

import datetime
import posixpath
import re

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import NvidiaSmiError
from ansible_collections.homelab.gpu_node.plugins.module_utils._nvidia_smi import (
    WSL_LIB_DIR,
    WSL_NVIDIA_SMI,
    classify_failure,
    merge_csv_facts,
    parse_smi_csv,
    parse_smi_xml,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    CRI_PLUGIN_ANY_VERSION,
    DEFAULT_CONFIG_PATHS,
    DEFAULT_RUNTIME_NAME,
    K3S_AGENT_CONFIG,
    K3S_TEMPLATE,
    MICROK8S_ARGS,
    MICROK8S_RENDERED_CONFIG,
    RUNTIME_BINARY,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._service_state import stale_paths

PASS = "pass"
FAIL = "fail"
SKIP = "skip"
STATUSES = (PASS, FAIL, SKIP)

RUNTIME_NAME = DEFAULT_RUNTIME_NAME
K3S_CONFIG = DEFAULT_CONFIG_PATHS["k3s"]
MICROK8S_CONFIG = MICROK8S_RENDERED_CONFIG
MICROK8S_TEMPLATE = DEFAULT_CONFIG_PATHS["microk8s"]
CONTAINERD_CONFIG = DEFAULT_CONFIG_PATHS["containerd"]
DOCKER_CONFIG = DEFAULT_CONFIG_PATHS["docker"]

#: systemd units to look at, by engine (first active one wins).
ENGINE_UNITS = {
    "containerd": ["containerd.service"],
    "k3s": ["k3s.service", "k3s-agent.service"],
    "microk8s": ["snap.microk8s.daemon-containerd.service", "snap.microk8s.daemon-kubelite.service"],
    "docker": ["docker.service"],
}

NODE_CHECK_IDS = ("nvidia_smi", "driver_mismatch", "device_nodes", "container_runtime", "engine_runtime",
                  "engine_running", "default_runtime", "daemon_reload")
#: The Windows driver's NVML inside WSL 2: what nvidia-smi and the device plugin load there.
WSL_NVML = posixpath.join(posixpath.dirname(WSL_NVIDIA_SMI), "libnvidia-ml.so.1")
#: Toolkit issue about GPU containers that lose their devices on 'systemctl daemon-reload'.
DAEMON_RELOAD_ISSUE = "https://github.com/NVIDIA/nvidia-container-toolkit/issues/48"


def check(check_id, status, detail, fix=""):
    """One check row."""
    if status not in STATUSES:
        raise ValueError("unknown status %r" % status)
    return {"id": check_id, "status": status, "detail": " ".join(str(detail).split()), "fix": " ".join(str(fix).split())}


def summarise(checks):
    counts = dict((status, 0) for status in STATUSES)
    for item in checks:
        counts[item["status"]] += 1
    return counts


def _first_line(text, limit=200):
    for line in (text or "").splitlines():
        line = line.strip()
        if line:
            return line if len(line) <= limit else line[:limit - 3] + "..."
    return ""


def _first_sentence(text, limit=200):
    """The first sentence of a message (when its quotes are balanced), else its first line."""
    line = _first_line(text, 10000)
    match = re.match(r"^(.+?\.)\s+[A-Z]", line)
    if match and match.group(1).count('"') % 2 == 0:
        line = match.group(1)
    return _first_line(line, limit)


def _get(obj, *path, **kwargs):
    default = kwargs.get("default")
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return default
        obj = obj[key]
    return default if obj is None else obj


def _plural(count, word, plural=None):
    return "%d %s" % (count, word if count == 1 else (plural or word + "s"))


# =========================================================================== node side


def choose_engine(requested, k3s_config_exists=False, k3s_binary=None, microk8s=False, containerd_binary=None,
                  docker_binary=None):
    """``(engine or None, how it was chosen)``; ``requested`` is auto, none or an engine name."""
    if requested and requested not in ("auto", "none"):
        return requested, "engine=%s" % requested
    if requested == "none":
        return None, "engine=none"
    if k3s_config_exists or k3s_binary:
        return "k3s", "found %s" % (K3S_CONFIG if k3s_config_exists else k3s_binary)
    if microk8s:
        return "microk8s", "found %s" % MICROK8S_ARGS
    if containerd_binary:
        return "containerd", "found %s" % containerd_binary
    if docker_binary:
        return "docker", "found %s" % docker_binary
    return None, "no containerd, k3s, MicroK8s or Docker found"


def _cri_section(data):
    version = data.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version not in CRI_PLUGIN_ANY_VERSION:
        raise ValueError("unsupported containerd config version %r" % (version,))
    cri = _get(data, "plugins", CRI_PLUGIN_ANY_VERSION[version], default={})
    return version, cri if isinstance(cri, dict) else {}


def containerd_view(data, source):
    """Runtimes and default runtime from a parsed containerd config (``config dump`` or a k3s file)."""
    version, cri = _cri_section(data)
    ctd = cri.get("containerd") if isinstance(cri.get("containerd"), dict) else {}
    runtimes = {}
    for name, table in sorted((ctd.get("runtimes") or {}).items()):
        table = table if isinstance(table, dict) else {}
        options = table.get("options") if isinstance(table.get("options"), dict) else {}
        binary = options.get("BinaryName") or table.get("runtime_engine") or None
        runtimes[name] = {"type": table.get("runtime_type") or "", "binary": binary,
                          "systemd_cgroup": bool(options.get("SystemdCgroup"))}
    imports = data.get("imports") if isinstance(data.get("imports"), list) else []
    return {
        "source": source,
        "version": version,
        "runtimes": runtimes,
        "default": ctd.get("default_runtime_name") or "runc",
        "cdi": bool(cri.get("enable_cdi")),
        "files": [str(p) for p in imports],
    }


def docker_view(info, source="docker info"):
    """Runtimes and default runtime from ``docker info --format '{{json .}}'`` (parsed)."""
    runtimes = {}
    for name, table in sorted((info.get("Runtimes") or {}).items()):
        table = table if isinstance(table, dict) else {}
        runtimes[name] = {"type": "docker", "binary": table.get("path") or None,
                          "systemd_cgroup": info.get("CgroupDriver") == "systemd"}
    return {"source": source, "version": None, "runtimes": runtimes, "default": info.get("DefaultRuntime") or "runc",
            "cdi": False, "files": [DOCKER_CONFIG]}


def smi_facts(smi, wsl):
    """``(facts, failure)`` from the nvidia-smi probe: facts dict or None, NvidiaSmiError or None."""
    if smi.get("error"):
        return None, NvidiaSmiError(smi["error"], reason="not_found")
    if not smi.get("path"):
        return None, None
    if smi.get("rc") != 0:
        return None, classify_failure(smi.get("rc"), smi.get("stdout") or "", smi.get("stderr") or "", wsl=wsl)
    try:
        facts = parse_smi_xml(smi.get("stdout") or "")
    except NvidiaSmiError as exc:
        return None, exc
    facts["wsl"] = wsl
    csv = smi.get("csv")
    if csv and csv[0] == 0:
        try:
            merge_csv_facts(facts, parse_smi_csv(csv[1], fields=["pci.bus_id", "compute_cap"]))
        except NvidiaSmiError:
            pass
    return facts, None


def _wsl_driver_fix():
    return ("install or update the NVIDIA driver on Windows (it provides %s), then run 'wsl --shutdown'; never "
            "install a Linux NVIDIA driver inside WSL" % WSL_NVIDIA_SMI)


def _smi_fix(reason, wsl, outside_wsl_lib):
    if wsl and (outside_wsl_lib or reason == "version_mismatch"):
        return ("remove the Linux NVIDIA driver packages from this WSL distro (apt purge 'nvidia-*' "
                "'libnvidia-*'); WSL uses the Windows driver through %s" % WSL_LIB_DIR)
    if wsl:
        return _wsl_driver_fix()
    return {
        "not_found": "install the NVIDIA driver (playbooks/gpu_node.yml, gpu_runtime_driver) or set nvidia_smi_path",
        "no_driver": "load the driver: modprobe nvidia (after a kernel update rebuild it: dkms autoinstall; "
                     "Secure Boot needs a signed module), or reinstall the driver",
        "version_mismatch": "reboot the node: the loaded kernel module is older/newer than the driver libraries "
                            "(driver upgraded without a reboot)",
        "no_devices": "the driver sees no GPU: check the card, its PCI passthrough, or the node's device access",
        "garbage_output": "run 'nvidia-smi -q -x' by hand; reinstall the driver if it prints no XML",
    }.get(reason, "run nvidia-smi on the node and read its error")


def _check_nvidia_smi(probe, facts, failure):
    smi, wsl = probe.get("smi") or {}, bool(probe.get("wsl"))
    path = smi.get("path")
    outside = bool(wsl and path and not str(path).startswith(WSL_LIB_DIR + "/"))
    where = " (%s)" % path if path else ""
    note = " - on WSL this is not the Windows driver's %s" % WSL_NVIDIA_SMI if outside else ""
    if failure is not None:
        return check("nvidia_smi", FAIL, "%s%s%s" % (_first_sentence(str(failure), 160), where, note),
                     _smi_fix(failure.reason, wsl, outside))
    if not path:
        return check("nvidia_smi", FAIL, "nvidia-smi not found (searched PATH, %s, /usr/bin)" % WSL_NVIDIA_SMI,
                     _smi_fix("not_found", wsl, False))
    if not facts.get("present"):
        return check("nvidia_smi", FAIL, "nvidia-smi ran but reported no GPU%s" % where, _smi_fix("no_devices", wsl, False))
    names = sorted(set(g.get("name") or "?" for g in facts.get("gpus") or []))
    detail = "driver %s, CUDA %s, %s: %s%s%s" % (
        facts.get("driver_version") or "?", facts.get("cuda_version") or "?", _plural(facts.get("count") or 0, "GPU"),
        ", ".join(names), where, note)
    return check("nvidia_smi", PASS, detail)


def _check_mismatch(probe, facts, failure):
    wsl = bool(probe.get("wsl"))
    if facts is not None:
        return check("driver_mismatch", PASS, "kernel module and NVML library agree (driver %s)"
                     % (facts.get("driver_version") or "?"))
    if failure is not None and failure.reason == "version_mismatch":
        smi = probe.get("smi") or {}
        match = re.search(r"NVML library version:\s*(\S+)", "%s\n%s" % (smi.get("stdout") or "", smi.get("stderr") or ""))
        library = ", NVML library %s" % match.group(1) if match else ""
        return check("driver_mismatch", FAIL, "Driver/library version mismatch%s" % library,
                     _smi_fix("version_mismatch", wsl, False))
    return check("driver_mismatch", SKIP, "nvidia-smi did not run far enough to tell (see nvidia_smi)")


def _check_device_nodes(probe, facts):
    devices = probe.get("devices") or {}
    chars = set(devices.get("char") or [])
    others = set(devices.get("other") or [])
    if probe.get("wsl"):
        nvml = devices.get("wsl_nvml")
        missing = []
        if "dxg" not in chars:
            missing.append("/dev/dxg is not a character device" if "dxg" in others else "/dev/dxg missing")
        if nvml is False:
            missing.append("%s missing (the Windows driver's NVML, which nvidia-smi and the device plugin load)"
                           % WSL_NVML)
        if missing:
            return check("device_nodes", FAIL, "; ".join(missing),
                         "update WSL ('wsl --update') and the Windows NVIDIA driver, then 'wsl --shutdown'; a WSL 1 "
                         "distro has no GPU: 'wsl --set-version <distro> 2'")
        return check("device_nodes", PASS, "/dev/dxg present (WSL 2 GPU paravirtualisation)%s"
                     % (", %s present" % WSL_NVML if nvml else ""))
    count = (facts or {}).get("count") or 0
    gpu_nodes = sorted(n for n in chars if re.match(r"^nvidia\d+$", n))
    missing = [n for n in ("nvidiactl",) if n not in chars]
    wanted = max(count, 1)
    if len(gpu_nodes) < wanted:
        absent = [n for n in ("nvidia%d" % i for i in range(wanted)) if n not in chars]
        missing.extend(absent or ["nvidiaN (%d found for %s)" % (len(gpu_nodes), _plural(count, "GPU"))])
    no_uvm = "nvidia-uvm" not in chars
    not_char = sorted(n for n in others if n in ("nvidiactl", "nvidia-uvm") or re.match(r"^nvidia\d+$", n))
    if missing or not_char:
        detail = "missing: /dev/%s" % ", /dev/".join(missing) if missing else ""
        if not_char:
            detail += "%snot character devices: /dev/%s" % ("; " if detail else "", ", /dev/".join(not_char))
        return check("device_nodes", FAIL, detail,
                     "load the driver (modprobe nvidia; 'nvidia-smi' run as root creates the device nodes); in a "
                     "container or VM pass the GPU through")
    if no_uvm:
        return check("device_nodes", FAIL, "/dev/nvidia-uvm missing (CUDA needs it; present: /dev/%s)"
                     % ", /dev/".join(sorted(chars)),
                     "run 'nvidia-modprobe -u -c=0' (or modprobe nvidia-uvm) and load it at boot "
                     "(/etc/modules-load.d/nvidia-uvm.conf)")
    return check("device_nodes", PASS, "/dev/%s" % ", /dev/".join(sorted(chars)))


def _install_toolkit_fix():
    return ("install the NVIDIA container toolkit (playbooks/gpu_node.yml runs homelab.gpu_node.gpu_runtime, or "
            "apt/dnf install nvidia-container-toolkit)")


def _check_runtime_binary(probe):
    found = probe.get("runtime_binary")
    if found:
        return check("container_runtime", PASS, found)
    searched = probe.get("runtime_searched") or []
    return check("container_runtime", FAIL, "%s not found (searched %s)" % (RUNTIME_BINARY, ", ".join(searched) or "PATH"),
                 _install_toolkit_fix())


def _restart_cmd(engine, service):
    unit = (service or {}).get("unit") or (ENGINE_UNITS.get(engine) or ["?"])[0]
    if engine == "microk8s":
        return "snap restart microk8s"
    return "systemctl restart %s" % unit.replace(".service", "")


def register_fix(engine, runtime_name, service):
    if engine == "k3s":
        return ("k3s registers runtime %s only if %s exists when k3s starts: install the toolkit, then %s"
                % (runtime_name, RUNTIME_BINARY, _restart_cmd(engine, service)))
    return ("register it: homelab.gpu_node.containerd_nvidia_runtime engine=%s (playbooks/gpu_node.yml), then %s"
            % (engine, _restart_cmd(engine, service)))


def _check_engine_runtime(probe):
    engine = probe.get("engine") or {}
    name = engine.get("name")
    runtime_name = probe.get("runtime_name") or RUNTIME_NAME
    if not name:
        return check("engine_runtime", SKIP, engine.get("how") or "no container engine found",
                     "install/join a container engine first, or set the engine explicitly")
    if engine.get("error"):
        kind = engine.get("error_kind")
        if kind == "toml":
            return check("engine_runtime", SKIP, engine["error"], "install python3-tomli on the node (Python < 3.11)")
        if kind == "missing" and name == "k3s":
            return check("engine_runtime", FAIL, "%s does not exist: k3s has not started its containerd" % engine.get("source"),
                         "start k3s (systemctl start k3s-agent or k3s) and read 'journalctl -u k3s-agent'")
        if name == "docker":
            fix = "start the Docker daemon (systemctl start docker) and read why it stopped: journalctl -u docker -b"
        else:
            fix = ("%s cannot read its config: fix the error shown (or restore the .bak backup), then %s"
                   % (name, _restart_cmd(name, engine.get("service"))))
        return check("engine_runtime", FAIL, "%s: %s" % (engine.get("source") or name, _first_line(engine["error"], 160)),
                     fix)
    view = engine.get("view") or {}
    runtimes = view.get("runtimes") or {}
    where = "%s via %s" % (name, view.get("source") or "?")
    if runtime_name not in runtimes:
        detail = "no runtime %s in %s (runtimes: %s)" % (runtime_name, where, ", ".join(sorted(runtimes)) or "none")
        started = (engine.get("service") or {}).get("started")
        # when the file arrived: its inode change time (dpkg and rpm keep the package's mtimes,
        # which are the build date, not the install date); the mtime only when no ctime was probed
        installed = probe.get("runtime_binary_ctime")
        installed = probe.get("runtime_binary_mtime") if installed is None else installed
        if name == "k3s" and probe.get("runtime_binary") and started is not None and installed is not None \
                and installed > started:
            unit = (engine.get("service") or {}).get("unit") or "k3s"
            return check("engine_runtime", FAIL, "%s: %s started %s, before %s was installed (%s), so k3s did not "
                         "find it when it wrote its containerd config" % (detail, unit, _iso(started),
                                                                          probe["runtime_binary"], _iso(installed)),
                         "%s: k3s looks for %s at every start and adds runtime %s"
                         % (_restart_cmd(name, engine.get("service")), RUNTIME_BINARY, runtime_name))
        return check("engine_runtime", FAIL, detail, register_fix(name, runtime_name, engine.get("service")))
    binary = runtimes[runtime_name].get("binary")
    if not binary:
        return check("engine_runtime", FAIL, "runtime %s in %s has no BinaryName: it runs plain runc" % (runtime_name, where),
                     register_fix(name, runtime_name, engine.get("service")))
    executable = (engine.get("binaries") or {}).get(binary)
    if executable is False:
        return check("engine_runtime", FAIL, "runtime %s -> %s, which is not an executable file (%s)"
                     % (runtime_name, binary, where), _install_toolkit_fix())
    return check("engine_runtime", PASS, "runtime %s -> %s (%s)" % (runtime_name, binary, where))


def _iso(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _check_engine_running(probe):
    engine = probe.get("engine") or {}
    name = engine.get("name")
    if not name:
        return check("engine_running", SKIP, "no container engine")
    service = engine.get("service")
    if not service:
        if name == "docker" and not engine.get("error"):
            return check("engine_running", PASS, "docker info answered (live daemon state)")
        return check("engine_running", SKIP, "no systemd unit for %s found (%s): cannot tell whether it runs its "
                     "current config" % (name, ", ".join(ENGINE_UNITS.get(name, []))))
    unit = service.get("unit") or name
    if service.get("active") != "active":
        return check("engine_running", FAIL, "%s is %s (%s)" % (unit, service.get("active") or "?", service.get("sub") or "?"),
                     "%s, then read why it stopped: journalctl -u %s -b" % (_restart_cmd(name, service), unit))
    started = service.get("started")
    if started is None:
        return check("engine_running", PASS, "%s active" % unit)
    newer = stale_paths(dict((f["path"], f.get("mtime")) for f in engine.get("files") or []), service)
    if newer:
        return check("engine_running", FAIL, "%s changed after %s started (%s): the running engine still uses the "
                     "old config" % (", ".join(newer), unit, _iso(started)),
                     _restart_cmd(name, service))
    return check("engine_running", PASS, "%s active since %s, config unchanged since" % (unit, _iso(started)))


def _default_runtime_fix(engine, runtime_name):
    if engine == "k3s":
        return "add 'default-runtime: %s' to /etc/rancher/k3s/config.yaml, then restart k3s" % runtime_name
    return ("homelab.gpu_node.containerd_nvidia_runtime engine=%s set_as_default=true (gpu_runtime_set_as_default), "
            "then restart the engine" % engine)


def _check_default_runtime(probe):
    engine = probe.get("engine") or {}
    name = engine.get("name")
    runtime_name = probe.get("runtime_name") or RUNTIME_NAME
    view = engine.get("view")
    if not name or not view:
        return check("default_runtime", SKIP, "engine config not available (see engine_runtime)")
    default = view.get("default") or "runc"
    runtimes = view.get("runtimes") or {}
    if runtimes and default not in runtimes and name != "docker":
        return check("default_runtime", FAIL, "default runtime %s is not defined (runtimes: %s): containerd's CRI "
                     "plugin does not load" % (default, ", ".join(sorted(runtimes))),
                     "define runtime %s or set default_runtime_name back to runc" % default)
    if default == runtime_name:
        return check("default_runtime", PASS, "default runtime is %s: every pod gets the NVIDIA runtime" % default)
    if probe.get("require_default_runtime"):
        return check("default_runtime", FAIL, "default runtime is %s, %s is required" % (default, runtime_name),
                     _default_runtime_fix(name, runtime_name))
    return check("default_runtime", PASS, "default runtime is %s: GPU pods need runtimeClassName: %s"
                 % (default, runtime_name))


def _check_daemon_reload(probe):
    """GPU containers that lose their devices on 'systemctl daemon-reload' ("Failed to initialize NVML:
    Unknown Error"): runc with the systemd cgroup driver re-applies device rules by /dev/char paths,
    which the NVIDIA device nodes lack unless links are made; CDI does not depend on them."""
    engine = probe.get("engine") or {}
    view = engine.get("view") or {}
    runtime_name = probe.get("runtime_name") or RUNTIME_NAME
    runtime = (view.get("runtimes") or {}).get(runtime_name)
    if probe.get("wsl"):
        return check("daemon_reload", SKIP, "WSL 2: GPU access goes through /dev/dxg, not device cgroup rules")
    if runtime is None:
        return check("daemon_reload", SKIP, "no runtime %s (see engine_runtime)" % runtime_name)
    if view.get("cdi"):
        return check("daemon_reload", PASS, "CDI is enabled in %s: devices do not depend on /dev/char links" % engine.get("name"))
    if not runtime.get("systemd_cgroup"):
        return check("daemon_reload", PASS, "runtime %s uses the cgroupfs driver: a daemon-reload leaves its device "
                     "rules alone" % runtime_name)
    devices = probe.get("devices") or {}
    links = devices.get("char_links") or {}
    gpu_nodes = sorted(n for n in devices.get("char") or [] if n == "nvidiactl" or n == "nvidia-uvm" or re.match(r"^nvidia\d+$", n))
    missing = [n for n in gpu_nodes if not links.get(n)]
    if not gpu_nodes:
        return check("daemon_reload", SKIP, "no NVIDIA device nodes (see device_nodes)")
    if missing:
        return check("daemon_reload", FAIL, "runtime %s uses SystemdCgroup = true and /dev/char has no link to /dev/%s: "
                     "after 'systemctl daemon-reload' running GPU containers lose the GPU ('Failed to initialize NVML: "
                     "Unknown Error')" % (runtime_name, ", /dev/".join(missing)),
                     "use CDI (gpu_runtime_cdi: true, device plugin deviceListStrategy cdi-cri), or create the links: "
                     "nvidia-ctk system create-dev-char-symlinks --create-all (and its udev rule); see %s"
                     % DAEMON_RELOAD_ISSUE)
    return check("daemon_reload", PASS, "runtime %s uses SystemdCgroup = true and /dev/char links /dev/%s"
                 % (runtime_name, ", /dev/".join(gpu_nodes)))


def diagnose_node(probe):
    """Checks for one node from its probes.

    ``probe`` keys: ``wsl``; ``smi`` ({path, error, rc, stdout, stderr, csv}); ``devices``
    ({char: [...], other: [...]}, names under /dev); ``runtime_binary``, ``runtime_searched``;
    ``engine`` ({name, how, source, error, error_kind, view, binaries, files, service});
    ``runtime_name``; ``require_default_runtime``.
    Returns ``{checks, summary, ok, nvidia, node}`` where ``nvidia`` is the facts dict
    (the shape of ansible_facts.nvidia) when nvidia-smi worked, else None.
    """
    facts, failure = smi_facts(probe.get("smi") or {}, bool(probe.get("wsl")))
    checks = [
        _check_nvidia_smi(probe, facts or {}, failure),
        _check_mismatch(probe, facts, failure),
        _check_device_nodes(probe, facts),
        _check_runtime_binary(probe),
        _check_engine_runtime(probe),
        _check_engine_running(probe),
        _check_default_runtime(probe),
        _check_daemon_reload(probe),
    ]
    engine = probe.get("engine") or {}
    view = engine.get("view") or {}
    summary = summarise(checks)
    return {
        "checks": checks,
        "summary": summary,
        "ok": summary[FAIL] == 0,
        "nvidia": facts,
        "node": {
            "hostname": probe.get("hostname"),
            "wsl": bool(probe.get("wsl")),
            "engine": engine.get("name"),
            "runtimes": sorted(view.get("runtimes") or {}),
            "default_runtime": view.get("default") if view else None,
            "toolkit": probe.get("toolkit"),
            "network": network_facts(probe.get("network")),
        },
    }


def engine_files(engine, view, config_path=None):
    """Files whose change needs an engine restart, given the engine and its view."""
    if engine == "containerd":
        files = list((view or {}).get("files") or [])
        main = config_path or CONTAINERD_CONFIG
        return files if main in files else [main] + files
    if engine == "k3s":
        base = posixpath.dirname(config_path or K3S_CONFIG)
        return [posixpath.join(base, K3S_TEMPLATE[v]) for v in sorted(K3S_TEMPLATE)] + [K3S_AGENT_CONFIG]
    if engine == "microk8s":
        return [MICROK8S_TEMPLATE]
    if engine == "docker":
        return [DOCKER_CONFIG]
    return []


# =========================================================================== doctor v2: toolkit version probe
# The check itself (toolkit_version) runs on the controller, against the version matrix's
# known-bad list (plugins/plugin_utils/_doctor_cluster.py); the node only says what it has.

#: Packages of the NVIDIA container toolkit, the one that carries the version first.
TOOLKIT_PACKAGES = ("nvidia-container-toolkit", "nvidia-container-toolkit-base")
DPKG_TOOLKIT_ARGS = ["-W", "-f", "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n"] + list(TOOLKIT_PACKAGES)
RPM_TOOLKIT_ARGS = ["-q", "--qf", "%{NAME}\\t%{VERSION}-%{RELEASE}\\n"] + list(TOOLKIT_PACKAGES)
_CTK_VERSION_RE = re.compile(r"NVIDIA Container Toolkit CLI version\s+v?(\d+\.\d+\.\d+\S*)")


def upstream_version(package_version):
    """'1.19.1-1' -> '1.19.1'; '1:1.17.8-1.el9' -> '1.17.8' (epoch and package release dropped)."""
    text = str(package_version or "").strip()
    text = text.split(":", 1)[1] if re.match(r"^\d+:", text) else text
    match = re.match(r"^v?(\d+(?:\.\d+)+)", text)
    return match.group(1) if match else None


def toolkit_version(dpkg=None, rpm=None, ctk=None):
    """The installed toolkit version from what the node answered.

    ``dpkg``/``rpm``: ``(rc, stdout)`` of ``dpkg-query``/``rpm -q`` with DPKG_TOOLKIT_ARGS /
    RPM_TOOLKIT_ARGS, or None when the tool is absent; ``ctk``: ``(rc, stdout, path)`` of
    ``nvidia-ctk --version`` or None. Returns ``{version, package_version, source}``
    (version None when none of them names one) plus ``searched``.
    """
    searched = []
    if dpkg is not None:
        searched.append("dpkg")
        for line in (dpkg[1] or "").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[0] in TOOLKIT_PACKAGES and parts[2].startswith("ii") and upstream_version(parts[1]):
                return {"version": upstream_version(parts[1]), "package_version": parts[1], "source": "dpkg %s" % parts[0],
                        "searched": searched}
    if rpm is not None:
        searched.append("rpm")
        for line in (rpm[1] or "").splitlines():
            parts = line.split("\t")
            if len(parts) == 2 and parts[0] in TOOLKIT_PACKAGES and upstream_version(parts[1]):
                return {"version": upstream_version(parts[1]), "package_version": parts[1], "source": "rpm %s" % parts[0],
                        "searched": searched}
    if ctk is not None:
        searched.append(ctk[2] if len(ctk) > 2 and ctk[2] else "nvidia-ctk")
        match = _CTK_VERSION_RE.search(ctk[1] or "") if ctk[0] == 0 else None
        if match:
            return {"version": upstream_version(match.group(1)), "package_version": None,
                    "source": "%s --version" % (ctk[2] if len(ctk) > 2 and ctk[2] else "nvidia-ctk"), "searched": searched}
    return {"version": None, "package_version": None, "source": None, "searched": searched}


# =========================================================================== node network (WSL mode, node IP)
# Probes only: the cluster checks wsl_networking and node_ip (plugin_utils/_doctor_cluster.py)
# combine them with the Node object. Nothing here reads a secret: of k3s's config.yaml only
# the node-ip values are kept.

#: k3s's configuration: the file, then its drop-ins in lexical order (k3s docs, "Configuration File").
K3S_USER_CONFIG = "/etc/rancher/k3s/config.yaml"
K3S_USER_CONFIG_DIR = K3S_USER_CONFIG + ".d"
#: systemd units whose ExecStart may carry --node-ip (k3s's install script writes the flags there).
K3S_UNIT_FILES = ("/etc/systemd/system/k3s.service", "/etc/systemd/system/k3s-agent.service")
#: WSL's own tool (WSL >= 2.0): 'wslinfo --networking-mode' prints nat, mirrored, bridged, none or virtioproxy.
WSLINFO_ARGS = ["--networking-mode"]
WSL_NETWORKING_MODES = ("nat", "mirrored", "bridged", "virtioproxy", "none")

_NODE_IP_KEY = re.compile(r"^(node-ip)(\+?)\s*:\s*(.*?)\s*$")


def _yaml_scalar(text):
    text = text.split(" #", 1)[0].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1]
    return text.strip()


def _split_ips(value):
    return [part.strip() for part in str(value).split(",") if part.strip()]


def k3s_config_node_ips(text):
    """``(values, append)`` of the top-level ``node-ip`` (or ``node-ip+``) key of a k3s config.yaml text.

    Handles the forms k3s's YAML accepts for a string slice: ``node-ip: 10.0.0.5``, a quoted or
    comma separated value, a flow list ``[a, b]`` and a block list. ``([], False)`` without the key.
    """
    lines = (text or "").splitlines()
    for index, line in enumerate(lines):
        match = _NODE_IP_KEY.match(line)
        if not match:
            continue
        append = match.group(2) == "+"
        rest = match.group(3).split(" #", 1)[0].strip() if not match.group(3).startswith(("'", '"')) else match.group(3)
        if rest.startswith("[") and rest.endswith("]"):
            return [ip for item in rest[1:-1].split(",") for ip in _split_ips(_yaml_scalar(item))], append
        if rest:
            return _split_ips(_yaml_scalar(rest)), append
        values = []
        for more in lines[index + 1:]:
            stripped = more.strip()
            if not stripped or stripped.startswith("#"):
                continue
            if not stripped.startswith("- "):
                break
            values.extend(_split_ips(_yaml_scalar(stripped[2:])))
        return values, append
    return [], False


def k3s_unit_node_ips(text):
    """``--node-ip`` values of a systemd unit's ExecStart (k3s's install script quotes each argument)."""
    values = []
    for match in re.finditer(r"""['"]?--node-ip(?:['"]?(?:\s|\\)+|=)['"]?([0-9A-Fa-f.:,]+)""", text or ""):
        values.extend(_split_ips(match.group(1)))
    return values


def configured_node_ips(config_texts, unit_texts=()):
    """``(node_ips, source)``: what k3s advertises as node IP by configuration.

    ``config_texts``: ``[(path, text)]`` of config.yaml then its drop-ins in lexical order (a later
    file replaces the key, ``node-ip+`` appends); ``unit_texts``: ``[(path, text)]`` of the units,
    whose command-line flag wins over the files. ``([], None)`` when nothing pins it.
    """
    values, source = [], None
    for path, text in config_texts:
        found, append = k3s_config_node_ips(text)
        if found:
            values = (values + found) if append else found
            source = path
    for path, text in unit_texts:
        found = k3s_unit_node_ips(text)
        if found:
            values, source = found, "%s (ExecStart --node-ip)" % path
    return values, source


def fib_trie_addresses(text):
    """The host's own IPv4 addresses from ``/proc/net/fib_trie`` (``/32 host LOCAL`` entries), without loopback."""
    found, last = [], None
    for line in (text or "").splitlines():
        match = re.match(r"^\s*[|+]--\s+(\d+\.\d+\.\d+\.\d+)\s*$", line)
        if match:
            last = match.group(1)
            continue
        if "/32 host LOCAL" in line and last and not last.startswith("127.") and last not in found:
            found.append(last)
    return found


def if_inet6_addresses(text):
    """Global IPv6 addresses from ``/proc/net/if_inet6`` (scope 00), without loopback."""
    found = []
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) < 6 or parts[3] != "00" or parts[5] == "lo" or len(parts[0]) != 32:
            continue
        groups = [parts[0][i:i + 4].lstrip("0") or "0" for i in range(0, 32, 4)]
        address = ":".join(groups)
        # compress the longest run of zero groups as ip(8) prints it
        best, start = (0, 0), None
        for i, group in enumerate(groups + ["x"]):
            if group == "0" and start is None:
                start = i
            elif group != "0" and start is not None:
                if i - start > best[1] - best[0] and i - start > 1:
                    best = (start, i)
                start = None
        if best != (0, 0):
            address = ":".join(groups[:best[0]]) + "::" + ":".join(groups[best[1]:])
        if address not in found:
            found.append(address)
    return found


def wsl_networking_mode(rc, stdout):
    """WSL's networking mode from ``wslinfo --networking-mode`` (rc, stdout), or None."""
    if rc != 0:
        return None
    word = _first_line(stdout or "").strip().lower()
    return word if word in WSL_NETWORKING_MODES else None


def network_facts(network):
    """The node's ``network`` entry of the module's result, from its probes (None when not probed).

    ``network`` keys: ``addresses`` (list), ``wsl_mode`` / ``wsl_mode_source``, ``node_ip`` /
    ``node_ip_source`` (what k3s is configured to advertise), ``errors`` (probes that could not read).
    """
    if not network:
        return None
    return {
        "addresses": list(network.get("addresses") or []),
        "wsl_mode": network.get("wsl_mode"),
        "wsl_mode_source": network.get("wsl_mode_source"),
        "node_ip": list(network.get("node_ip") or []),
        "node_ip_source": network.get("node_ip_source"),
        "errors": list(network.get("errors") or []),
    }
