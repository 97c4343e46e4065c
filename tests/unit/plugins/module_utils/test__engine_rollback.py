# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_engine_rollback: write order, the record, rollback steps, systemd/containerd checks, the message."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _engine_rollback as er
from ansible_collections.homelab.gpu_node.plugins.module_utils import _runtime_config as rc

MAIN = "/etc/containerd/config.toml"
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
ORIGINAL = 'version = 2\n\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]\n  runtime_type = "io.containerd.runc.v2"\n'


class Ops(object):
    """In-memory files; ``fail`` paths raise OSError on write/remove."""

    def __init__(self, files, fail=()):
        self.files = dict(files)
        self.fail = set(fail)
        self.log = []

    def backup(self, path):
        self.log.append(("backup", path))
        self.files[path + ".1~"] = self.files[path]
        return path + ".1~"

    def write(self, path, text):
        if path in self.fail:
            raise OSError(16, "Device or resource busy")
        self.log.append(("write", path))
        self.files[path] = text

    def remove(self, path):
        if path in self.fail:
            raise OSError(30, "Read-only file system")
        self.log.append(("remove", path))
        del self.files[path]


def plan(files, state="present"):
    return rc.plan_containerd(MAIN, files.get(MAIN), files.get(DROPIN), rc.RuntimeOptions(state=state),
                              [(DROPIN, files.get(DROPIN))])


def test_present_writes_the_dropin_before_the_import():
    ops = Ops({MAIN: ORIGINAL})
    done, backups = er.apply_changes(plan(ops.files).changes, True, ops)
    assert [entry for entry in ops.log if entry[0] != "backup"] == [("write", DROPIN), ("write", MAIN)]
    assert done == [(DROPIN, "create"), (MAIN, "update")] and backups == {MAIN: MAIN + ".1~"}


def test_absent_removes_the_import_before_the_dropin():
    ops = Ops({MAIN: ORIGINAL})
    er.apply_changes(plan(ops.files).changes, False, ops)
    ops.log = []
    er.apply_changes(plan(ops.files, "absent").changes, False, ops)
    assert ops.log == [("write", MAIN), ("remove", DROPIN)]
    assert ops.files == {MAIN: ORIGINAL}


def test_absent_with_an_unwritable_main_config_touches_nothing():
    ops = Ops({MAIN: ORIGINAL})
    er.apply_changes(plan(ops.files).changes, False, ops)
    before = dict(ops.files)
    ops.fail.add(MAIN)
    with pytest.raises(er.ApplyError) as info:
        er.apply_changes(plan(ops.files, "absent").changes, False, ops)
    assert ops.files == before
    assert info.value.done == []
    assert info.value.message() == "cannot write %s: [Errno 16] Device or resource busy; nothing was changed" % MAIN


def test_a_later_failure_names_every_file_already_changed():
    ops = Ops({MAIN: ORIGINAL}, fail=[MAIN])
    with pytest.raises(er.ApplyError) as info:
        er.apply_changes(plan(ops.files).changes, True, ops)
    msg = info.value.message()
    assert info.value.done == [(DROPIN, "create")]
    assert "already changed: %s (create)" % DROPIN in msg and "backups: %s -> %s.1~" % (MAIN, MAIN) in msg


def test_record_is_written_after_the_backups_and_before_the_first_write():
    ops = Ops({MAIN: ORIGINAL})
    seen = []

    def before_writes(backups):
        seen.append((dict(backups), list(ops.log)))

    er.apply_changes(plan(ops.files).changes, True, ops, before_writes=before_writes)
    assert seen == [({MAIN: MAIN + ".1~"}, [("backup", MAIN)])]

    def broken(_backups):
        raise OSError(28, "No space left on device")

    ops = Ops({MAIN: ORIGINAL})
    with pytest.raises(er.ApplyError) as info:
        er.apply_changes(plan(ops.files).changes, True, ops, before_writes=broken)
    assert "No space left" in info.value.message() and info.value.done == []
    assert ops.files[MAIN] == ORIGINAL and DROPIN not in ops.files


def test_record_keeps_the_oldest_entry_and_reads_garbage_as_empty():
    changes = plan({MAIN: ORIGINAL}).changes
    record = er.add_pending(er.load_record(None), "containerd", MAIN, changes, {MAIN: "/b1"})
    assert record["pending"] == [{"path": DROPIN, "created": True, "backup": None},
                                 {"path": MAIN, "created": False, "backup": "/b1"}]
    later = er.add_pending(er.load_record(er.dump_record(record)), "containerd", MAIN,
                           [rc.FileChange(MAIN, "x", "y")], {MAIN: "/b2"})
    assert later["pending"] == record["pending"]
    assert er.clear_pending(later)["pending"] == []
    for text in ("", "{", "[]", '{"pending": 3}'):
        assert er.load_record(text)["pending"] == []


def test_rollback_from_the_record_restores_the_main_config_first_and_removes_created_files_last():
    record = {"pending": [{"path": DROPIN, "created": True, "backup": None},
                          {"path": MAIN, "created": False, "backup": "/b1"}]}
    steps = er.rollback_steps(record, None, lambda path: True)
    assert steps == [("restore", MAIN, "/b1"), ("remove", DROPIN, None)]
    assert [er.step_text(s) for s in steps] == ["%s restored from /b1" % MAIN, "%s removed" % DROPIN]


def test_rollback_without_backup_removes_the_import_like_state_absent():
    files = {MAIN: ORIGINAL}
    ops = Ops(files)
    changes = plan(files).changes
    er.apply_changes(changes, False, ops)
    record = er.add_pending(er.load_record(None), "containerd", MAIN, changes, {})
    steps = er.rollback_steps(record, plan(ops.files, "absent"), lambda path: True)
    assert [(step[0], step[1]) for step in steps] == [("write", MAIN), ("remove", DROPIN)]
    assert steps[0][2] == ORIGINAL  # the import line goes, byte for byte


def test_rollback_with_a_missing_backup_falls_back_to_state_absent():
    files = {MAIN: ORIGINAL}
    ops = Ops(files)
    changes = plan(files).changes
    er.apply_changes(changes, True, ops)
    record = er.add_pending(er.load_record(None), "containerd", MAIN, changes, {MAIN: "/gone"})
    steps = er.rollback_steps(record, plan(ops.files, "absent"), lambda path: False)
    assert steps == [("write", MAIN, ORIGINAL), ("remove", DROPIN, None)]


def test_rollback_without_any_record_removes_the_runtime():
    ops = Ops({MAIN: ORIGINAL})
    er.apply_changes(plan(ops.files).changes, False, ops)
    steps = er.rollback_steps(er.load_record(None), plan(ops.files, "absent"), lambda path: True)
    assert steps == [("write", MAIN, ORIGINAL), ("remove", DROPIN, None)]
    assert er.rollback_steps(er.load_record(None), None, lambda path: True) == []


def states(*answers):
    answers = list(answers)

    def show():
        return answers.pop(0) if len(answers) > 1 else answers[0]
    return show


def up(pid="10", restarts="0"):
    return {"ActiveState": "active", "SubState": "running", "ExecMainPID": pid, "NRestarts": restarts}


def test_wait_for_unit_needs_the_engine_to_stay_up():
    assert er.wait_for_unit(states(up()), lambda s: None, timeout=10, settle=3)[0] is True
    crash = {"ActiveState": "activating", "SubState": "auto-restart", "Result": "exit-code"}
    ok, state = er.wait_for_unit(states(up(), up(), crash), lambda s: None, timeout=10, settle=3)
    assert ok is False and state["SubState"] == "auto-restart"
    # a new PID each poll: it keeps restarting, never "stayed up"
    flapping = states(*[up(pid=str(n)) for n in range(40)])
    assert er.wait_for_unit(flapping, lambda s: None, timeout=10, settle=3)[0] is False
    failed = {"ActiveState": "failed", "SubState": "failed", "Result": "exit-code"}
    assert er.wait_for_unit(states(failed), lambda s: None)[0] is False


def test_dump_has_runtime():
    dump = ('version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]\n'
            '  runtime_type = "io.containerd.runc.v2"\n'
            '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]\n'
            '  BinaryName = "/usr/bin/nvidia-container-runtime"\n')

    def loads(text):
        return rc.parse_toml(text, "dump")

    assert er.dump_has_runtime(dump, "nvidia", loads) == (True, "/usr/bin/nvidia-container-runtime")
    assert er.dump_has_runtime(ORIGINAL, "nvidia", loads) == (False, None)
    v3 = dump.replace("io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime").replace("version = 2", "version = 3")
    assert er.dump_has_runtime(v3, "nvidia", loads)[0] is True


def test_the_message_says_only_what_was_checked():
    steps = [("restore", MAIN, "/b1"), ("remove", DROPIN, None)]
    live = {"error": None, "has_runtime": False, "binary": None, "runtime_name": "nvidia"}
    msg = er.describe("containerd", "systemctl restart containerd failed: Job failed", ["boom"], steps, [], True,
                      {"ActiveState": "active", "SubState": "running"}, live)
    assert "%s restored from /b1; %s removed" % (MAIN, DROPIN) in msg
    assert "containerd is up (ActiveState=active, SubState=running)" in msg
    assert "the nvidia runtime is not in the live config" in msg and "Engine log: boom" in msg
    down = er.describe("containerd", "x", [], steps[:1], ["%s removed: [Errno 30]" % DROPIN], False,
                       {"ActiveState": "activating", "SubState": "auto-restart", "Result": "exit-code"}, None)
    assert "containerd is down (ActiveState=activating, SubState=auto-restart, Result=exit-code)" in down
    assert "FAILED: %s removed: [Errno 30]" % DROPIN in down and "successfully" not in down
    nothing = er.describe("containerd", "x", [], [], [], False, {}, None)
    assert "nothing to put back" in nothing and "containerd is down (ActiveState=unknown" in nothing
