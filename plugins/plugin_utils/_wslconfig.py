# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Merge the keys homelab.gpu_node owns into a user's ``.wslconfig`` (controller side).

The file is read by WSL with ``_wfopen(path, L"rt,ccs=UTF-8")`` (microsoft/WSL
src/windows/common/WslCoreConfig.cpp): UTF-8, or whatever a BOM says (WSL's own
settings writer adds a UTF-8 BOM). Sections and keys are matched
case-insensitively (``strcasecmp`` in src/shared/configfile/configfile.cpp),
``#`` starts a comment, also after a value, unless inside double quotes.

The round trip uses configupdater, which keeps comments, blank lines, key order
and keys we do not own byte for byte. Only keys we were asked to set or remove
are touched; a file that needs no change is returned exactly as it was read.
"""

from __future__ import annotations

import difflib
import re

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import GpuNodeError

try:
    from configupdater import ConfigUpdater
    from configupdater.option import Option

    HAS_CONFIGUPDATER = True
    CONFIGUPDATER_IMPORT_ERROR = None
except ImportError as exc:  # pragma: no cover - exercised through HAS_CONFIGUPDATER
    HAS_CONFIGUPDATER = False
    CONFIGUPDATER_IMPORT_ERROR = exc

MISSING_CONFIGUPDATER_MSG = (
    "The homelab.gpu_node.wslconfig action needs the Python library 'configupdater' on the Ansible "
    "controller (not on the Windows host). Install it into the Python that runs ansible, e.g. "
    "'python3 -m pip install configupdater' (AWX/AAP: add it to the execution environment's "
    "requirements.txt)."
)

# [wsl2] keys this collection owns. dhcp is owned too: a static address inside the
# distro needs dhcp=false, or WSL's init also runs dhcpcd on eth0 in bridged mode
# (src/windows/service/exe/BridgedNetworking.cpp EnableDhcpClient).
OWNED_WSL2_KEYS = ("memory", "processors", "networkingMode", "vmSwitch", "macAddress", "vmIdleTimeout", "dhcp")
NETWORKING_MODES = ("nat", "mirrored", "bridged", "none", "virtioproxy")
# WSL accepts networkingMode under both names (ConfigKey with two names).
_ALIASES = {("wsl2", "networkingmode"): ("experimental", "networkingmode")}

_MEMORY_RE = re.compile(r"^[0-9]+(B|K|KB|M|MB|G|GB|T|TB)?$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_KEY_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*$")
_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class WslConfigError(GpuNodeError):
    """The requested settings or the existing .wslconfig cannot be used."""


# --- bytes <-> text -----------------------------------------------------------


def decode_wslconfig(data):
    """Return ``(text, encoding)`` for the file's bytes.

    encoding is ``utf-8``, ``utf-8-sig`` (UTF-8 with BOM) or ``utf-16-le-bom``;
    :func:`encode_wslconfig` writes the same encoding back.
    """
    if data is None:
        return "", "utf-8"
    if data.startswith(b"\xef\xbb\xbf"):
        encoding, body = "utf-8-sig", data[3:]
        codec = "utf-8"
    elif data.startswith(b"\xff\xfe"):
        encoding, body = "utf-16-le-bom", data[2:]
        codec = "utf-16-le"
    elif data.startswith(b"\xfe\xff"):
        raise WslConfigError(".wslconfig is UTF-16 big-endian, which WSL cannot read; save it as UTF-8")
    else:
        encoding, body, codec = "utf-8", data, "utf-8"
    try:
        return body.decode(codec), encoding
    except UnicodeDecodeError as exc:
        raise WslConfigError(
            ".wslconfig is not valid %s (%s); WSL reads it as UTF-8, so save it as UTF-8 first" % (codec.upper(), exc)
        ) from exc


def encode_wslconfig(text, encoding):
    """Bytes of ``text`` in the encoding :func:`decode_wslconfig` reported."""
    if encoding == "utf-8-sig":
        return b"\xef\xbb\xbf" + text.encode("utf-8")
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    return text.encode("utf-8")


# --- values -------------------------------------------------------------------


def render_value(value):
    """The text WSL expects for a Python value (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def split_inline_comment(raw):
    """Split a raw value into ``(value, comment)`` the way WSL does: ``#`` outside quotes."""
    raw = "" if raw is None else raw
    quoted = False
    escaped = False
    for index, char in enumerate(raw):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "#" and not quoted:
            return raw[:index].rstrip(), raw[index:]
    return raw.strip(), ""


def _plain(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value


def same_value(key, existing_raw, wanted):
    """Whether WSL would read ``existing_raw`` as the same setting as ``wanted``."""
    existing = _plain(split_inline_comment(existing_raw)[0])
    lower_key = key.lower()
    if isinstance(wanted, bool):
        word = existing.lower()
        return (wanted and word in _TRUE) or (not wanted and word in _FALSE)
    if isinstance(wanted, int):
        try:
            return int(existing, 0) == wanted
        except ValueError:
            return False
    wanted = str(wanted)
    if lower_key == "macaddress":
        return existing.lower().replace("-", ":") == wanted.lower().replace("-", ":")
    if lower_key == "networkingmode":
        return existing.lower() == wanted.lower()
    return existing == wanted


def truthy(raw):
    return _plain(split_inline_comment(raw)[0]).lower() in _TRUE


# --- validation ---------------------------------------------------------------


def validate_settings(wsl2=None, experimental=None, remove=None):
    """Check requested values against what WSL accepts; raise WslConfigError with the fix."""
    wsl2 = dict((k, v) for k, v in (wsl2 or {}).items() if v is not None)
    experimental = dict((k, v) for k, v in (experimental or {}).items() if v is not None)
    problems = []
    for key in wsl2:
        if key not in OWNED_WSL2_KEYS:
            problems.append("wsl2.%s is not a key this plugin manages (manages: %s)" % (key, ", ".join(OWNED_WSL2_KEYS)))
    memory = wsl2.get("memory")
    if memory is not None and not _MEMORY_RE.match(str(memory)):
        problems.append(
            "wsl2.memory=%r is not a size WSL understands: a number with an upper-case suffix "
            "B, K/KB, M/MB, G/GB or T/TB, e.g. 32GB (WSL's suffixes are case-sensitive)" % (memory,)
        )
    processors = wsl2.get("processors")
    if processors is not None and (isinstance(processors, bool) or not isinstance(processors, int) or processors < 1):
        problems.append("wsl2.processors=%r must be a whole number of 1 or more" % (processors,))
    mode = wsl2.get("networkingMode")
    if mode is not None and str(mode).lower() not in NETWORKING_MODES:
        problems.append("wsl2.networkingMode=%r must be one of %s" % (mode, ", ".join(NETWORKING_MODES)))
    switch = wsl2.get("vmSwitch")
    if switch is not None and (not str(switch).strip() or "\n" in str(switch) or "#" in str(switch)):
        problems.append("wsl2.vmSwitch=%r must be the non-empty name of a Hyper-V switch (no '#', no newline)" % (switch,))
    mac = wsl2.get("macAddress")
    if mac is not None:
        if not _MAC_RE.match(str(mac)):
            problems.append("wsl2.macAddress=%r must look like 5e:bb:c7:21:3a:10 (':' or '-' separated)" % (mac,))
        elif int(str(mac)[:2], 16) & 1:
            problems.append("wsl2.macAddress=%r is a multicast address (first octet odd); use a unicast one "
                            "such as a locally administered 02:xx:xx:xx:xx:xx" % (mac,))
    idle = wsl2.get("vmIdleTimeout")
    if idle is not None and (isinstance(idle, bool) or not isinstance(idle, int) or idle < -1):
        problems.append("wsl2.vmIdleTimeout=%r must be milliseconds >= 0, or -1 for never" % (idle,))
    dhcp = wsl2.get("dhcp")
    if dhcp is not None and not isinstance(dhcp, bool):
        problems.append("wsl2.dhcp=%r must be a boolean" % (dhcp,))
    for key, value in experimental.items():
        if not _KEY_RE.match(str(key)):
            problems.append("experimental key %r is not a valid .wslconfig key name" % (key,))
        if isinstance(value, (dict, list)) or "\n" in render_value(value):
            problems.append("experimental.%s must be a single-line string, number or boolean" % (key,))
    for item in remove or []:
        section, dot, key = str(item).partition(".")
        if not dot or section not in ("wsl2", "experimental") or not _KEY_RE.match(key):
            problems.append("remove entry %r must be 'wsl2.<key>' or 'experimental.<key>'" % (item,))
        elif section == "wsl2" and key not in OWNED_WSL2_KEYS:
            problems.append("remove entry %r: only keys this plugin manages can be removed from [wsl2] (%s)"
                            % (item, ", ".join(OWNED_WSL2_KEYS)))
        elif (section == "wsl2" and key in wsl2) or (section == "experimental" and key in experimental):
            problems.append("%r is both set and removed" % (item,))
    if problems:
        raise WslConfigError("; ".join(problems))


# --- lines --------------------------------------------------------------------

_LINE_RE = re.compile(r"([^\r\n]*)(\r\n|\n|\r|$)")


def split_lines(text):
    """``[(body, line_end), ...]`` for ``text``; the last line's end may be ``""``."""
    lines = []
    for match in _LINE_RE.finditer(text):
        if match.group(0) == "" and match.start() == len(text):
            break
        lines.append((match.group(1), match.group(2)))
    return lines


def restore_lines(original, normalized, merged, newline):
    """The merged text with every line that did not change taken from ``original`` as it was.

    ``original``: :func:`split_lines` of the file; ``normalized``: its bodies as parsed;
    ``merged``: the parser's output (``\n`` line ends). A changed line keeps the
    indentation and line end of the line it replaces; new lines get ``newline``.
    """
    new = [body for body, _end in split_lines(merged)]
    out = []
    matcher = difflib.SequenceMatcher(None, normalized, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            out.extend(original[i1:i2])
        elif tag in ("replace", "insert"):
            for offset, body in enumerate(new[j1:j2]):
                if tag == "replace" and i1 + offset < i2:
                    old_body, old_end = original[i1 + offset]
                    indent = old_body[: len(old_body) - len(old_body.lstrip())]
                    out.append((indent + body, old_end or newline))
                else:
                    out.append((body, newline))
    # every line but the last needs an end (a file without a final newline may have grown)
    fixed = [(body, end or newline) for body, end in out[:-1]] + out[-1:]
    return "".join(body + end for body, end in fixed)


# --- merge --------------------------------------------------------------------


def _sections(updater, name):
    return [s for s in updater.iter_sections() if s.name.strip().lower() == name.lower()]


def _options(updater, section, key):
    found = []
    for sec in _sections(updater, section):
        for block in sec.iter_blocks():
            if isinstance(block, Option) and block.raw_key.strip().lower() == key.lower():
                found.append(block)
    return found


def _effective(updater, section, key):
    """The raw value WSL would use: the last occurrence, including aliases."""
    occurrences = _options(updater, section, key)
    alias = _ALIASES.get((section, key.lower()))
    if alias:
        occurrences += _options(updater, *alias)
        # the one later in the file wins; order by position in the document
        order = {id(block): index for index, block in enumerate(_all_options(updater))}
        occurrences.sort(key=lambda block: order.get(id(block), -1))
    return occurrences[-1].value if occurrences else None


def _all_options(updater):
    for sec in updater.iter_sections():
        for block in sec.iter_blocks():
            if isinstance(block, Option):
                yield block


def _add_option(updater, section, key, text):
    secs = _sections(updater, section)
    if secs:
        target = secs[-1]
    else:
        existing = str(updater)
        updater.add_section(section)
        target = _sections(updater, section)[-1]
        if existing.strip() and not existing.endswith("\n\n"):
            target.add_before.space(1)  # one blank line before the new section
    options = [b for b in target.iter_blocks() if isinstance(b, Option)]
    if options:
        options[-1].add_after.option(key, text)
    else:
        target.set(key, text)


def _set_raw(option, text):
    comment = split_inline_comment(option.value)[1]
    option.value = text + ("  " + comment if comment else "")


def merge_wslconfig(text, wsl2=None, experimental=None, remove=None):
    """Merge the wanted keys into the .wslconfig ``text``.

    ``wsl2`` and ``experimental`` map key names to values (``None`` = leave alone);
    ``remove`` lists ``section.key`` to delete. Returns a dict:

    - ``text``: the new file text (the input itself when nothing changed),
    - ``changed``: bool,
    - ``changes``: list of ``{"section", "key", "before", "after"}`` (raw values; None = absent),
    - ``warnings``: list of str,
    - ``settings``: the effective values of the keys we own after the merge.
    """
    if not HAS_CONFIGUPDATER:
        raise WslConfigError(MISSING_CONFIGUPDATER_MSG)
    validate_settings(wsl2, experimental, remove)
    text = text or ""
    newline = "\r\n" if "\r\n" in text else ("\n" if "\n" in text else "\r\n")
    original = split_lines(text)
    # WSL skips leading white space on every line: an indented line is a key (or a
    # section, or a comment) of its own, never the continuation of the line above it
    # as configparser would read it. Parse the lines without it; untouched lines are
    # written back from the original text (indentation and line end byte for byte).
    normalized = [body.lstrip() for body, _end in original]
    work = "".join(line + "\n" for line in normalized)

    updater = ConfigUpdater(strict=False, delimiters=("=",), space_around_delimiters=False)
    try:
        updater.read_string(work)
    except Exception as exc:  # configupdater raises configparser-style errors
        raise WslConfigError("cannot read the existing .wslconfig: %s" % exc) from exc

    wanted = [("wsl2", k, v) for k, v in (wsl2 or {}).items() if v is not None]
    wanted += [("experimental", k, v) for k, v in (experimental or {}).items() if v is not None]
    changes = []
    warnings = []

    for section, key, value in wanted:
        rendered = render_value(value)
        occurrences = _options(updater, section, key)
        alias = _ALIASES.get((section, key.lower()))
        if alias:
            for block in _options(updater, *alias):
                changes.append({"section": alias[0], "key": block.raw_key, "before": block.value, "after": None})
                warnings.append(
                    "removed %s.%s=%s: it is the old name of %s.%s, which is now managed"
                    % (alias[0], block.raw_key, block.value, section, key)
                )
                block.detach()
        if not occurrences:
            _add_option(updater, section, key, rendered)
            changes.append({"section": section, "key": key, "before": None, "after": rendered})
            continue
        for block in occurrences:
            if not same_value(key, block.value, value):
                before = block.value
                _set_raw(block, rendered)
                changes.append({"section": section, "key": block.raw_key, "before": before, "after": block.value})

    for item in remove or []:
        section, _dot, key = item.partition(".")
        for block in _options(updater, section, key):
            changes.append({"section": section, "key": block.raw_key, "before": block.value, "after": None})
            block.detach()

    # Effective settings and the combinations WSL does not honour.
    settings = {}
    for key in OWNED_WSL2_KEYS:
        raw = _effective(updater, "wsl2", key)
        settings[key] = None if raw is None else _plain(split_inline_comment(raw)[0])
    mode = (settings["networkingMode"] or "nat").lower()
    if mode == "bridged" and not settings["vmSwitch"]:
        raise WslConfigError(
            "networkingMode=bridged needs vmSwitch naming an existing external Hyper-V switch "
            "(e.g. vmSwitch=WSLBridge); without it WSL cannot start the VM's network"
        )
    loopback = _effective(updater, "experimental", "hostAddressLoopback")
    if loopback is not None and truthy(loopback) and mode != "mirrored":
        warnings.append(
            "experimental.hostAddressLoopback=true only works with networkingMode=mirrored; "
            "with networkingMode=%s it has no effect" % mode
        )

    if changes:
        new_text = restore_lines(original, normalized, str(updater), newline)
    else:
        new_text = text
    return {
        "text": new_text,
        "changed": bool(changes) and new_text != text,
        "changes": changes,
        "warnings": warnings,
        "settings": settings,
    }


# --- reading (the doctor) -------------------------------------------------------


def effective_settings(text):
    """The values WSL would use for the keys this collection owns, read only.

    ``{key: value or None}`` for OWNED_WSL2_KEYS (``networkingMode`` also from its old name
    ``[experimental] networkingMode``; the later one in the file wins), as strings without
    quotes or inline comments; None when the key is absent. Raises WslConfigError when the
    text cannot be parsed. Unlike :func:`merge_wslconfig` it judges nothing.
    """
    if not HAS_CONFIGUPDATER:
        raise WslConfigError(MISSING_CONFIGUPDATER_MSG)
    normalized = [body.lstrip() for body, _end in split_lines(text or "")]
    updater = ConfigUpdater(strict=False, delimiters=("=",), space_around_delimiters=False)
    try:
        updater.read_string("".join(line + "\n" for line in normalized))
    except Exception as exc:  # configupdater raises configparser-style errors
        raise WslConfigError("cannot read the .wslconfig: %s" % exc) from exc
    settings = {}
    for key in OWNED_WSL2_KEYS:
        raw = _effective(updater, "wsl2", key)
        settings[key] = None if raw is None else _plain(split_inline_comment(raw)[0])
    return settings
