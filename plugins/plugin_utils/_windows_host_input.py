# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Checks of roles/windows_host's settings that its argument spec cannot express (controller side).

:func:`windows_host_problems` returns every problem at once, each a sentence that names the
variable, what was given and what to give instead; roles/windows_host/tasks/main.yml
fails with all of them before touching the host. :func:`wsl_version_check` reads the registered
``wsl.exe --version`` result and says whether this WSL can do what the settings ask.
"""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wsl_list import parse_wsl_version
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wslconfig import _MEMORY_RE

_DISTRO_RE = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_MAC_RE = re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}$")
_PORTS_RE = re.compile(r"^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$")
_HEX_LENGTHS = {"md5": 32, "sha1": 40, "sha256": 64, "sha384": 96, "sha512": 128}


def _json(value):
    import json

    return json.dumps(value)


def _ipv4(text):
    """An IPv4Address, or None when ``text`` is not a dotted quad with octets 0-255."""
    try:
        return ipaddress.IPv4Address(str(text))
    except ValueError:
        return None


def _check_static(s, problems):
    mode = s.get("windows_host_networking_mode")
    if mode != "bridged":
        problems.append(
            "windows_host_wsl_address_mode=static needs windows_host_networking_mode=bridged (NAT and mirrored modes "
            "give the distribution WSL's addresses); got mode %s." % mode)
    address = str(s.get("windows_host_wsl_address") or "")
    network = None
    addr, slash, prefix = address.partition("/")
    if not slash or not prefix.isdigit() or _ipv4(addr) is None or not 1 <= int(prefix) <= 32:
        problems.append(
            "windows_host_wsl_address=%s is not an IPv4 address as address/prefix (e.g. 192.168.10.35/24): each of the "
            "four numbers 0-255 and a prefix 1-32." % _json(address))
    else:
        network = ipaddress.IPv4Interface(address).network
    gateway = str(s.get("windows_host_wsl_gateway") or "")
    if _ipv4(gateway) is None:
        problems.append(
            "windows_host_wsl_address_mode=static needs windows_host_wsl_gateway, an IPv4 address such as 192.168.10.1; "
            "got %s." % _json(gateway))
    elif network is not None and _ipv4(gateway) not in network:
        problems.append("windows_host_wsl_gateway=%s is not in the network of windows_host_wsl_address=%s (%s)."
                        % (gateway, address, network))
    elif network is not None and gateway == addr:
        problems.append("windows_host_wsl_gateway=%s is the node's own address." % gateway)
    for server in s.get("windows_host_wsl_dns") or []:
        if _ipv4(server) is None:
            try:
                ipaddress.IPv6Address(str(server))
            except ValueError:
                problems.append("windows_host_wsl_dns entry %s is not an IP address." % _json(server))


def _check_firewall(s, problems):
    for rule in s.get("windows_host_firewall_rules") or []:
        if not isinstance(rule, dict):
            problems.append("windows_host_firewall_rules entry %s must be a mapping with name, protocol and port."
                            % _json(rule))
            continue
        port = str(rule.get("port", ""))
        bad_range = False
        if _PORTS_RE.match(port):
            for part in port.split(","):
                low, _dash, high = part.partition("-")
                numbers = [int(low)] + ([int(high)] if high else [])
                bad_range = bad_range or any(n < 1 or n > 65535 for n in numbers) or numbers != sorted(numbers)
        if not rule.get("name") or rule.get("protocol") not in ("tcp", "udp") or not _PORTS_RE.match(port) or bad_range:
            problems.append(
                "windows_host_firewall_rules entry %s needs name, protocol (tcp or udp) and port (a number 1-65535, "
                "a range 30000-32767, or a comma list)." % _json(rule))


def windows_host_problems(s):
    """Every problem with the settings dict ``s`` (windows_host_* variables), as sentences."""
    problems = []
    bridged = s.get("windows_host_networking_mode") == "bridged"
    name = str(s.get("windows_host_wsl_distro_name") or "")
    if not _DISTRO_RE.match(name) or name.lower() == "legacy":
        problems.append(
            "windows_host_wsl_distro_name=%s is not a name WSL accepts: letters, digits, '.', '_' and '-' only (WSL's "
            "rule ^[a-zA-Z0-9._-]+$), and not \"Legacy\"." % _json(name))
    if bridged and not s.get("windows_host_vswitch_name"):
        problems.append("windows_host_networking_mode=bridged needs windows_host_vswitch_name, the external Hyper-V "
                        "switch that .wslconfig's vmSwitch names (e.g. WSLBridge).")
    if bridged and s.get("windows_host_vswitch_manage") and not s.get("windows_host_vswitch_adapter"):
        problems.append(
            "windows_host_networking_mode=bridged with windows_host_vswitch_manage=true needs "
            "windows_host_vswitch_adapter, the name of the physical network adapter to bind the switch to "
            "(Get-NetAdapter on the desktop, e.g. \"Ethernet\"), or windows_host_vswitch_manage=false when the switch "
            "already exists.")
    if s.get("windows_host_wsl_address_mode") == "static":
        _check_static(s, problems)
    mac = str(s.get("windows_host_wsl_mac_address") or "")
    if mac and (not _MAC_RE.match(mac) or int(mac[:2], 16) % 2):
        problems.append(
            "windows_host_wsl_mac_address=%s must be a unicast MAC like 02:15:5d:4a:10:35 (':' or '-' separated, even "
            "first octet; 02:... marks it locally administered)." % _json(mac))
    if s.get("windows_host_keepalive") and not s.get("windows_host_wsl_user"):
        problems.append(
            "windows_host_keepalive=true needs windows_host_wsl_user, the Windows account that owns the WSL "
            "distribution (WSL refuses to run as SYSTEM and its VM is per user). It defaults to ansible_user.")
    if s.get("windows_host_wsl_manage_ssh") and not s.get("windows_host_wsl_ssh_authorized_keys"):
        problems.append(
            "windows_host_wsl_manage_ssh=true needs windows_host_wsl_ssh_authorized_keys (public keys, one per entry); "
            "without one, nothing could log in to the node over SSH.")
    url = s.get("windows_host_wsl_rootfs_url") or ""
    checksum = str(s.get("windows_host_wsl_rootfs_checksum") or "")
    if url and not checksum:
        problems.append(
            "windows_host_wsl_rootfs_url is set without windows_host_wsl_rootfs_checksum; give the tarball's checksum "
            "as \"sha256:<hex>\" so a tampered or truncated download is refused.")
    elif url:
        algorithm, colon, digest = checksum.partition(":")
        if not colon or _HEX_LENGTHS.get(algorithm.lower()) != len(digest) or not re.match(r"^[0-9A-Fa-f]+$", digest):
            problems.append("windows_host_wsl_rootfs_checksum=%s must be <algorithm>:<hex digest>, e.g. sha256: and 64 "
                            "hex digits (md5, sha1, sha256, sha384, sha512)." % _json(checksum))
    if url and not s.get("windows_host_wsl_rootfs"):
        problems.append("windows_host_wsl_rootfs_url needs windows_host_wsl_rootfs, the path on Windows to download "
                        "it to.")
    if s.get("windows_host_firewall_manage"):
        _check_firewall(s, problems)
    for key, minimum, unit in (("windows_host_reboot_timeout", 1, "seconds"),
                               ("windows_host_wsl_vm_idle_timeout", -1, "milliseconds, -1 for never"),
                               ("windows_host_wsl_processors", 0, "0 for WSL's default")):
        value = s.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
            problems.append("%s=%s must be a whole number >= %d (%s)." % (key, _json(value), minimum, unit))
    memory = str(s.get("windows_host_wsl_memory") or "")
    if memory and not _MEMORY_RE.match(memory):
        problems.append("windows_host_wsl_memory=%s is not a size WSL understands: a number with an upper-case suffix "
                        "B, K/KB, M/MB, G/GB or T/TB, e.g. 32GB (WSL's suffixes are case-sensitive)." % _json(memory))
    return problems


def _version_key(text):
    return tuple(int(x) for x in re.findall(r"[0-9]+", str(text)))


def wsl_version_check(result, s, host):
    """The WSL version in ``result`` (a registered ``wsl.exe --version`` run: rc, stdout, stderr) and
    the problems with it for the settings ``s``: ``{"version": "2.5.9.0" or None, "problems": [...]}``.

    No version at all (rc != 0, or the inbox ``wsl.exe`` of older Windows printing its usage) is the
    WSL built into Windows or none: the Store version is needed. Bridged networking needs
    ``windows_host_wsl_bridged_min_version`` or newer.
    """
    rc = result.get("rc", 1)
    version = parse_wsl_version(result.get("stdout") or "")["wsl"] if rc == 0 else None
    user = s.get("windows_host_wsl_user") or "the desktop user"
    problems = []
    if version is None:
        said = ("%s %s" % (result.get("stdout") or "", result.get("stderr") or "")).replace("\0", "").strip()
        if len(said) > 300:
            said = said[:297] + "..."
        problems.append(
            "`wsl.exe --version` did not report a version on %s (rc %s: %s). This is the WSL built into Windows or no "
            "WSL at all. Run `wsl --update` as %s on %s (it installs the current WSL from the Microsoft Store), then "
            "run the play again." % (host, rc if "rc" in result else "?", said, user, host))
    elif s.get("windows_host_networking_mode") == "bridged":
        minimum = str(s.get("windows_host_wsl_bridged_min_version") or "")
        if _version_key(version) < _version_key(minimum):
            problems.append(
                "%s runs WSL %s; bridged networking needs WSL %s or newer (it was dropped in 2.4.5 and came back in "
                "2.5.6). Run `wsl --update` as %s, then run the play again." % (host, version, minimum, user))
    return {"version": version, "problems": problems}
