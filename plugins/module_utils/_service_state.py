# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Does a systemd service run the files it reads now? Plain data in, answers out.

A run that writes a service's config and is then interrupted (Ctrl-C, a cancelled AWX
job, a lost controller) before the restart handler leaves the service running the old
config; the next run finds the files already right and would not notify the handler.
Comparing each file's modification time with the time the service last started tells
that a restart is still owed. Used by the modules ``paths_info``,
``containerd_nvidia_runtime`` and ``gpu_node_doctor``.

Standard library only (Python 3.8+); nothing here runs a command or reads a file except
:func:`path_state` (``os.lstat``).
"""

from __future__ import annotations

import os
import stat

SYSTEMCTL_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "UnitFileState",
                        "ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic")

# A file written in the same second as the start is not counted as newer: the
# start time is derived from two clocks read at slightly different moments.
SLACK_SECONDS = 1.0


def parse_systemctl_show(text):
    """``systemctl show UNIT... -p ...`` output -> list of property dicts (one per unit)."""
    units, current = [], {}
    for line in (text or "").splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, sep, value = line.partition("=")
        if sep:
            current[key.strip()] = value.strip()
    if current:
        units.append(current)
    return units


def pick_service(units, now_wall, now_monotonic):
    """The service from ``systemctl show`` blocks: the active one, else the first loaded one.

    ``started`` (epoch seconds) comes from ExecMainStartTimestampMonotonic (else
    ActiveEnterTimestampMonotonic), converted with the node's current wall clock and
    monotonic clock; V(None) when the unit has not started since boot.
    """
    loaded = [u for u in units if u.get("LoadState") == "loaded"]
    if not loaded:
        return None
    unit = ([u for u in loaded if u.get("ActiveState") == "active"] or loaded)[0]
    started = None
    for key in ("ExecMainStartTimestampMonotonic", "ActiveEnterTimestampMonotonic"):
        value = unit.get(key, "")
        if value.isdigit() and int(value) > 0:
            started = now_wall - (now_monotonic - int(value) / 1e6)
            break
    return {"unit": unit.get("Id", ""), "active": unit.get("ActiveState", ""), "sub": unit.get("SubState", ""),
            "enabled": unit.get("UnitFileState", ""), "started": started}


def systemctl_show_args(units):
    """argv after ``systemctl`` for :func:`parse_systemctl_show`."""
    return ["show", "--property=" + ",".join(SYSTEMCTL_PROPERTIES)] + list(units)


def stale_paths(mtimes, service, slack=SLACK_SECONDS):
    """Paths changed after ``service`` started: a restart is owed for them.

    ``mtimes`` maps path -> modification time (epoch seconds, or None for a missing file);
    ``service`` is :func:`pick_service`'s answer. Only an *active* service with a known
    start time can run stale files: a stopped one reads them when it starts.
    """
    if not service or service.get("active") != "active" or service.get("started") is None:
        return []
    limit = service["started"] + slack
    return sorted(path for path, mtime in mtimes.items() if mtime is not None and mtime > limit)


def path_state(path, lstat=os.lstat):
    """``{exists, type, mode, uid, gid, size, mtime}`` of ``path`` (symbolic links not followed)."""
    try:
        info = lstat(path)
    except FileNotFoundError:
        return {"exists": False}
    except NotADirectoryError:
        return {"exists": False}
    mode = info.st_mode
    if stat.S_ISREG(mode):
        kind = "file"
    elif stat.S_ISDIR(mode):
        kind = "directory"
    elif stat.S_ISLNK(mode):
        kind = "link"
    else:
        kind = "other"
    return {"exists": True, "type": kind, "mode": "%04o" % stat.S_IMODE(mode), "uid": info.st_uid,
            "gid": info.st_gid, "size": info.st_size, "mtime": info.st_mtime}


def read_service(run_command, systemctl, unit, now_wall, now_monotonic):
    """:func:`pick_service` for ``unit`` through ``run_command(argv) -> (rc, out, err)``; None when unknown."""
    if not systemctl or not unit:
        return None
    rc, out, dummy = run_command([systemctl] + systemctl_show_args([unit]))
    if rc != 0:
        return None
    return pick_service(parse_systemctl_show(out), now_wall, now_monotonic)
