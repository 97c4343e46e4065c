# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Single-node MicroK8s with the GPU addon (the A2 server on RHEL 9): read what
`snap list` and `microk8s status --format yaml` print and decide the next command.

Controller side and pure: the role runs the commands, these functions read their output.
"""

from __future__ import annotations

import re

import yaml

# A pinned channel: <major>.<minor>/<risk>, e.g. 1.31/stable ("latest/..." is not pinned).
CHANNEL_RE = re.compile(r"^(\d+)\.(\d+)(?:-[a-z0-9-]+)?/(stable|candidate|beta|edge)$")


class MicroK8sOutputError(Exception):
    """Output that does not look like snap's or MicroK8s's."""


def parse_channel(channel):
    """'1.31/stable' -> (1, 31, 'stable'); raise for an unpinned or malformed channel."""
    match = CHANNEL_RE.match(str(channel or ""))
    if not match:
        raise MicroK8sOutputError(
            "channel %r is not a pinned MicroK8s channel such as 1.31/stable "
            "(<major>.<minor>/<risk>; latest/* follows new releases)" % (channel,))
    return int(match.group(1)), int(match.group(2)), match.group(3)


def parse_snap_list(text):
    """Rows of `snap list [NAME]` as dicts keyed by the lower-cased header (name, version, rev, tracking, ...)."""
    lines = [line for line in (text or "").splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0].split()
    if header[:2] != ["Name", "Version"]:
        raise MicroK8sOutputError("not `snap list` output: %r" % (lines[0],))
    keys = [h.lower() for h in header]
    rows = []
    for line in lines[1:]:
        cells = line.split()
        rows.append(dict(zip(keys, cells)))
    return rows


def snap_action(list_stdout, list_rc, channel, name="microk8s"):
    """What to do with the snap: {action: install | refresh | none, tracking}.

    `snap list NAME` exits 1 with "error: no matching snaps installed" when absent.
    Installed on another channel (tracking column) -> refresh to the pinned one.
    """
    parse_channel(channel)
    if list_rc != 0:
        return {"action": "install", "tracking": None}
    rows = [r for r in parse_snap_list(list_stdout) if r.get("name") == name]
    if not rows:
        return {"action": "install", "tracking": None}
    tracking = rows[0].get("tracking")
    if tracking == channel:
        return {"action": "none", "tracking": tracking}
    return {"action": "refresh", "tracking": tracking}


def parse_status(text):
    """`microk8s status --format yaml` -> {running: bool, addons: {name: status}}."""
    try:
        data = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise MicroK8sOutputError("`microk8s status --format yaml` is not YAML: %s" % exc) from exc
    if not isinstance(data, dict) or "microk8s" not in data:
        raise MicroK8sOutputError("not `microk8s status --format yaml` output: %r" % ((text or "")[:200],))
    running = bool((data.get("microk8s") or {}).get("running"))
    addons = {}
    for addon in data.get("addons") or []:
        if isinstance(addon, dict) and addon.get("name"):
            addons[str(addon["name"])] = str(addon.get("status", ""))
    return {"running": running, "addons": addons}


def gpu_addon(status_text, channel, driver="host", extra_args=None):
    """The GPU addon command for this MicroK8s: {name, enabled, argv}.

    The channel's addon list decides: `nvidia` where MicroK8s has it (1.29 and later
    renamed `gpu`), else `gpu`. The driver is already on the host, so the GPU operator
    must not install one: `--gpu-operator-driver host`.
    """
    parse_channel(channel)
    status = parse_status(status_text)
    if not status["running"]:
        raise MicroK8sOutputError("MicroK8s is not running (microk8s status: running false)")
    if "nvidia" in status["addons"]:
        name = "nvidia"
    elif "gpu" in status["addons"]:
        name = "gpu"
    else:
        raise MicroK8sOutputError(
            "this MicroK8s has neither the nvidia nor the gpu addon (addons: %s)"
            % ", ".join(sorted(status["addons"])))
    argv = ["enable", name]
    if driver:
        argv += ["--gpu-operator-driver", driver]
    argv += list(extra_args or [])
    return {"name": name, "enabled": status["addons"][name] == "enabled", "argv": argv}
