# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Change engine config files in a safe order, remember the change on the node, and undo it.

Plain Python (3.8+), no Ansible imports; every disk or command access goes through a
callable passed in, so everything here is unit-tested without a node.

* :func:`apply_changes` writes a :class:`~._runtime_config.Plan`'s changes in plan order (the
  planner puts them in an order where no file ever refers to a missing one), and on a failure
  raises :class:`ApplyError` naming every file already touched.
* The *record* (a small JSON file on the node) lists every change that has not been seen
  working yet: the file, its backup (if one was made) and whether it was created. It is
  written before the files change and cleared only after the engine came back with the
  runtime, so a run that is interrupted between writing and restarting leaves a record the
  next run rolls back from.
* :func:`rollback_steps` turns the record (and, for files without a backup, the planner's
  ``state=absent`` plan) into the steps that put the previous config back.
* :func:`wait_for_unit` and :func:`dump_has_runtime` check what systemd and containerd say
  after a restart; :func:`describe` writes the message, from those checks only.
"""

from __future__ import annotations

import json

from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import CRI_PLUGIN

RECORD_VERSION = 1
DEFAULT_RECORD_PATH = "/var/lib/homelab-gpu-node/gpu_runtime.json"


class ApplyError(Exception):
    """A write failed; ``done`` lists the files already changed (with their action)."""

    def __init__(self, path, error, done, backups):
        self.path = path
        self.error = error
        self.done = list(done)
        self.backups = dict(backups)
        super(ApplyError, self).__init__(self.message())

    def message(self):
        if self.done:
            touched = "; already changed: %s" % ", ".join("%s (%s)" % (path, action) for path, action in self.done)
        else:
            touched = "; nothing was changed"
        backups = ""
        if self.backups:
            backups = "; backups: %s" % ", ".join("%s -> %s" % item for item in sorted(self.backups.items()))
        return "cannot write %s: %s%s%s" % (self.path, self.error, touched, backups)


def apply_changes(changes, backup, ops, before_writes=None):
    """Apply ``changes`` (FileChange list) in order.

    ``ops``: object with ``backup(path) -> backup path or ''``, ``write(path, text)`` and
    ``remove(path)``; each raises OSError on failure. Backups of every file that exists are
    made first (so a failed write never leaves a changed file without its backup).
    ``before_writes(backups)`` runs after the backups and before the first write (the module
    writes its record there); an OSError from it stops everything before a file changes.
    Returns ``(done, backups)``: ``[(path, action)]`` and ``{path: backup}``.
    """
    done, backups = [], {}
    if backup:
        for change in changes:
            if change.before is not None:
                try:
                    made = ops.backup(change.path)
                except (OSError, IOError) as exc:
                    raise ApplyError(change.path, "backup failed: %s" % exc, done, backups)
                if made:
                    backups[change.path] = made
    if before_writes is not None:
        try:
            before_writes(backups)
        except (OSError, IOError) as exc:
            raise ApplyError(changes[0].path if changes else "", "cannot write the record: %s" % exc, done, backups)
    for change in changes:
        try:
            if change.after is None:
                ops.remove(change.path)
            else:
                ops.write(change.path, change.after)
        except (OSError, IOError) as exc:
            raise ApplyError(change.path, exc, done, backups)
        done.append((change.path, change.action))
    return done, backups


# --------------------------------------------------------------------------
# The record of changes not yet seen working
# --------------------------------------------------------------------------

def load_record(text):
    """The record from its JSON text (``None``/empty/unreadable -> an empty record)."""
    empty = {"version": RECORD_VERSION, "pending": []}
    if not text:
        return empty
    try:
        data = json.loads(text)
    except ValueError:
        return empty
    if not isinstance(data, dict) or not isinstance(data.get("pending"), list):
        return empty
    pending = [entry for entry in data["pending"] if isinstance(entry, dict) and isinstance(entry.get("path"), str)]
    data["pending"] = pending
    return data


def dump_record(record):
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def add_pending(record, engine, config_path, changes, backups):
    """A new record with ``changes`` added; a file already pending keeps its first entry (the
    oldest backup is the last version seen working). ``backups``: {path: backup}."""
    new = dict(record)
    pending = [dict(entry) for entry in record.get("pending", [])]
    known = set(entry["path"] for entry in pending)
    for change in changes:
        if change.path in known:
            continue
        pending.append({"path": change.path, "created": change.before is None,
                        "backup": backups.get(change.path) or None})
        known.add(change.path)
    new.update(version=RECORD_VERSION, engine=engine, config_path=config_path, pending=pending)
    return new


def clear_pending(record):
    new = dict(record)
    new["pending"] = []
    return new


# --------------------------------------------------------------------------
# Rollback
# --------------------------------------------------------------------------

def rollback_steps(record, absent_plan, backup_exists):
    """The steps that put back the last config seen working, main config first.

    * a pending file with a backup that still exists: ``("restore", path, backup)``;
    * a pending file the role created: ``("remove", path, None)`` (after the restores and edits,
      so that an import never points at a missing file);
    * a pending file changed without a backup, or no record at all: the ``state=absent`` plan's
      change of that file (``("write", path, text)`` or ``("remove", path, None)``), which removes the
      runtime, the import first.

    ``absent_plan``: the planner's Plan for state=absent on the files as they are now (or None);
    ``backup_exists(path) -> bool``.
    """
    pending = record.get("pending", [])
    absent = dict((change.path, change) for change in (absent_plan.changes if absent_plan else []))
    first, last = [], []
    covered = set()
    if not pending:
        # nothing recorded (an older version of the role, or the record was lost): remove the runtime
        for change in (absent_plan.changes if absent_plan else []):
            step = ("remove", change.path, None) if change.after is None else ("write", change.path, change.after)
            first.append(step)
        return first
    for entry in pending:
        path = entry["path"]
        backup = entry.get("backup")
        covered.add(path)
        if backup and backup_exists(backup):
            first.append(("restore", path, backup))
        elif entry.get("created"):
            last.append(("remove", path, None))
        elif path in absent:
            change = absent[path]
            first.append(("remove", path, None) if change.after is None else ("write", path, change.after))
    return first + last


def step_text(step):
    kind, path, arg = step
    if kind == "restore":
        return "%s restored from %s" % (path, arg)
    if kind == "remove":
        return "%s removed" % path
    return "%s: import and runtime of this role removed (no backup)" % path


# --------------------------------------------------------------------------
# What systemd and containerd say
# --------------------------------------------------------------------------

UNIT_PROPERTIES = ("ActiveState", "SubState", "Result", "NRestarts", "ExecMainPID")


def parse_show(text):
    out = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def wait_for_unit(show, sleep, timeout=30.0, settle=3.0, step=1.0):
    """Poll ``show() -> dict`` (systemctl show) until the unit is active and has stayed active,
    same main PID and restart count, for ``settle`` seconds; or until it is failed/inactive, or
    ``timeout`` passes. Returns ``(up, last_state_dict)``."""
    waited = 0.0
    stable_since = None
    stable_key = None
    state = show()
    while True:
        active = state.get("ActiveState")
        key = (state.get("ExecMainPID"), state.get("NRestarts"))
        if active == "active":
            if stable_key != key:
                stable_key, stable_since = key, waited
            elif waited - stable_since >= settle:
                return True, state
        else:
            stable_key = None
            if active in ("failed", "inactive") or state.get("SubState") == "auto-restart":
                return False, state  # it stopped, or it failed and systemd waits to start it again
        if waited >= timeout:
            return active == "active" and stable_since is not None and waited - stable_since >= settle, state
        sleep(step)
        waited += step
        state = show()


def dump_has_runtime(dump_text, runtime_name, loads):
    """Is runtime ``runtime_name`` in ``containerd config dump`` output? Returns (bool, BinaryName or None)."""
    data = loads(dump_text)
    plugins = data.get("plugins", {}) if isinstance(data, dict) else {}
    for plugin in (CRI_PLUGIN[2], CRI_PLUGIN[3]):
        runtimes = ((plugins.get(plugin) or {}).get("containerd") or {}).get("runtimes") or {}
        runtime = runtimes.get(runtime_name)
        if isinstance(runtime, dict):
            return True, (runtime.get("options") or {}).get("BinaryName")
    return False, None


def unit_words(service, up, state):
    """'containerd is up (ActiveState=active, SubState=running)' - from systemd's answer only."""
    return "%s is %s (ActiveState=%s, SubState=%s%s)" % (
        service, "up" if up else "down", state.get("ActiveState") or "unknown", state.get("SubState") or "unknown",
        (", Result=%s" % state["Result"]) if state.get("Result") not in (None, "", "success") else "")


def live_words(live):
    """``live``: None (not checked), or dict(ok, has_runtime, binary, error, runtime_name)."""
    if live is None:
        return ""
    if live.get("error"):
        return "; `containerd config dump` failed: %s" % live["error"]
    if live["has_runtime"]:
        return "; the %s runtime is in the live config (BinaryName %s)" % (live["runtime_name"], live["binary"])
    return "; the %s runtime is not in the live config" % live["runtime_name"]


def describe(service, restart_error, journal, steps_done, step_errors, up, state, live):
    """The rollback message: what failed, what was put back, and whether the engine is up now."""
    parts = ["%s did not come back with the nvidia runtime (%s)." % (service, restart_error)]
    if journal:
        parts.append("Engine log: %s." % " | ".join(journal))
    if steps_done or step_errors:
        restored = [step_text(step) for step in steps_done]
        parts.append("Rollback: %s." % "; ".join(restored + ["FAILED: %s" % err for err in step_errors]))
    else:
        parts.append("Rollback: nothing to put back (no recorded change and no runtime config of this role).")
    after = "After the rollback %s%s." % (unit_words(service, up, state), live_words(live))
    parts.append(after)
    if not up:
        parts.append("The node needs a look: `systemctl status %s`, `journalctl -u %s`." % (service, service))
    return " ".join(parts)


def removal_words(service, why, journal, up, state, live):
    """The message when the engine did not come back after the runtime was REMOVED (runtime_state=absent).

    Nothing is put back: the removal is what was asked for; the message says whether the engine is up.
    """
    parts = ["%s did not come back cleanly after the nvidia runtime was removed (%s)." % (service, why)]
    if journal:
        parts.append("Engine log: %s." % " | ".join(journal))
    parts.append("Nothing was put back (the removal is what was asked for). Now %s%s." % (
        unit_words(service, up, state), live_words(live)))
    if not up:
        parts.append("The engine is DOWN: `systemctl status %s`, `journalctl -u %s`." % (service, service))
    return " ".join(parts)
