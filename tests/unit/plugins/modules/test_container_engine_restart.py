# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive container_engine_restart.main() against real config files in tmp_path.

systemctl, journalctl and containerd are the outermost boundary and are answered by a
fake run_command that models a unit: restart fails while the fault says so, and
`containerd config dump` prints the files on disk.
"""

from __future__ import annotations

import json
import os
import shutil

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import ExitJson, FailJson, patch_exits

from ansible_collections.homelab.gpu_node.plugins.modules import container_engine_restart as module
from ansible_collections.homelab.gpu_node.plugins.modules import containerd_nvidia_runtime as configure

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "module_utils", "fixtures", "runtime_config")


class FakeNode(object):
    """containerd under systemd: ``refuse(etc)`` decides whether a start fails."""

    def __init__(self, etc, refuse):
        self.etc = etc
        self.refuse = refuse
        self.state = {"ActiveState": "active", "SubState": "running", "Result": "success", "NRestarts": "0",
                      "ExecMainPID": "100"}
        self.pid = 100
        self.calls = []

    def run_command(self, module_self, args, **kwargs):
        self.calls.append(args)
        name = os.path.basename(args[0])
        if name == "systemctl" and args[1] == "reset-failed":
            return 0, "", ""
        if name == "systemctl" and args[1] == "restart":
            if self.refuse(self.etc):
                self.state = {"ActiveState": "failed", "SubState": "failed", "Result": "exit-code", "NRestarts": "0",
                              "ExecMainPID": "0"}
                return 1, "", "Job for containerd.service failed because the control process exited with error code."
            self.pid += 1
            self.state = {"ActiveState": "active", "SubState": "running", "Result": "success", "NRestarts": "0",
                          "ExecMainPID": str(self.pid)}
            return 0, "", ""
        if name == "systemctl" and args[1] == "show":
            return 0, "".join("%s=%s\n" % item for item in self.state.items()), ""
        if name == "journalctl":
            return 0, "fault injection: containerd refuses the drop-in\n", ""
        if name == "containerd":
            # what config dump shows: main config merged with the drop-in, when it is imported
            text = self.etc.read_text()
            dropin = self.etc.parent / "conf.d" / "99-nvidia.toml"
            if str(dropin) in text and dropin.exists():
                text = dropin.read_text()
            return 0, text, ""
        raise AssertionError(args)


@pytest.fixture
def etc(tmp_path):
    config = tmp_path / "containerd" / "config.toml"
    config.parent.mkdir()
    shutil.copy(os.path.join(FIXTURES, "containerd-1.7.24-default.toml"), str(config))
    return config


@pytest.fixture
def node(monkeypatch, etc):
    patch_exits(monkeypatch)
    fake = FakeNode(etc, refuse=lambda etc: (etc.parent / "conf.d" / "99-nvidia.toml").exists())

    def run_command(self, args, **kwargs):
        return fake.run_command(self, args, **kwargs)

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    monkeypatch.setattr(module.time, "sleep", lambda seconds: None)
    return fake


def run(mod, args, expect=ExitJson):
    with patch_module_args(args):
        with pytest.raises(expect) as info:
            mod.main()
    return info.value.result


def configure_args(etc, record, **extra):
    return dict({"engine": "containerd", "config_path": str(etc), "record": str(record), "backup": True}, **extra)


def restart_args(etc, record):
    return {"service": "containerd", "engine": "containerd", "config_path": str(etc), "record": str(record)}


def test_rolls_back_the_change_of_an_earlier_interrupted_run(node, etc, tmp_path):
    """Run 1 wrote the files and was killed before the restart; run 2 changes nothing, restarts, and the engine
    refuses: the rollback must come from the record, not from run 2's (empty) list of backups."""
    record = tmp_path / "record.json"
    original = etc.read_text()
    run(configure, configure_args(etc, record))          # run 1 (then killed)
    assert run(configure, configure_args(etc, record))["changed"] is False  # run 2: nothing to write
    result = run(module, restart_args(etc, record), expect=FailJson)
    dropin = etc.parent / "conf.d" / "99-nvidia.toml"
    assert etc.read_text() == original and not dropin.exists()
    assert result["up"] is True and result["unit"]["ActiveState"] == "active"
    msg = result["msg"]
    assert "%s restored from %s." % (etc, etc) in msg and "%s removed" % dropin in msg
    assert "After the rollback containerd is up (ActiveState=active, SubState=running)" in msg
    assert "the nvidia runtime is not in the live config" in msg
    assert "fault injection: containerd refuses" in msg
    assert json.loads(record.read_text())["pending"] == []


def test_backup_off_and_an_engine_that_never_starts(node, etc, tmp_path):
    record = tmp_path / "record.json"
    original = etc.read_text()
    node.refuse = lambda etc: True
    run(configure, configure_args(etc, record, backup=False))
    result = run(module, restart_args(etc, record), expect=FailJson)
    assert etc.read_text() == original  # the import went with the drop-in, byte for byte
    assert not (etc.parent / "conf.d" / "99-nvidia.toml").exists()
    assert result["up"] is False
    assert "After the rollback containerd is down (ActiveState=failed, SubState=failed, Result=exit-code)" in result["msg"]
    assert "%s: import and runtime of this role removed (no backup)" % etc in result["msg"]
    assert "is up" not in result["msg"] and "successfully" not in result["msg"]


def test_a_restart_that_works_clears_the_record(node, etc, tmp_path):
    record = tmp_path / "record.json"
    node.refuse = lambda etc: False
    run(configure, configure_args(etc, record))
    assert json.loads(record.read_text())["pending"]
    result = run(module, restart_args(etc, record))
    assert result["up"] is True and result["live"]["has_runtime"] is True
    assert result["live"]["binary"] == "/usr/bin/nvidia-container-runtime"
    assert json.loads(record.read_text())["pending"] == []


def test_an_engine_up_without_the_runtime_is_rolled_back(node, etc, tmp_path):
    """containerd starts but the live config lacks the runtime (e.g. a later import overrides it)."""
    record = tmp_path / "record.json"
    node.refuse = lambda etc: False
    run(configure, configure_args(etc, record))
    dump = node.run_command

    def no_runtime(module_self, args, **kwargs):
        if os.path.basename(args[0]) == "containerd":
            return 0, "version = 2\n", ""
        return dump(module_self, args, **kwargs)

    node.run_command = no_runtime
    result = run(module, restart_args(etc, record), expect=FailJson)
    assert "the live config has no runtime nvidia" in result["msg"]
    assert result["up"] is True and "containerd is up" in result["msg"]


def test_check_mode_restarts_nothing(node, etc, tmp_path):
    result = run(module, dict(restart_args(etc, tmp_path / "r.json"), _ansible_check_mode=True))
    assert result["changed"] is True and node.calls == []


def absent_args(etc, record):
    return dict(restart_args(etc, record), runtime_state="absent")


def test_absent_an_engine_up_without_the_runtime_is_success(node, etc, tmp_path):
    record = tmp_path / "record.json"
    node.refuse = lambda etc: False
    run(configure, configure_args(etc, record))
    run(configure, configure_args(etc, record, state="absent"))
    result = run(module, absent_args(etc, record))
    assert result["changed"] is True and result["up"] is True
    assert result["live"]["has_runtime"] is False and result["rolled_back"] == []


def test_absent_an_engine_that_does_not_come_back_fails_and_says_so(node, etc, tmp_path):
    """The uninstall must not claim success while the engine is down (plain systemd restart did), and must not put
    the runtime back."""
    record = tmp_path / "record.json"
    node.refuse = lambda etc: False
    run(configure, configure_args(etc, record))
    run(configure, configure_args(etc, record, state="absent"))
    after_removal = etc.read_text()
    node.refuse = lambda etc: True
    result = run(module, absent_args(etc, record), expect=FailJson)
    assert result["up"] is False and result["rolled_back"] == []
    assert etc.read_text() == after_removal and not (etc.parent / "conf.d" / "99-nvidia.toml").exists()
    msg = result["msg"]
    assert "containerd did not come back cleanly after the nvidia runtime was removed" in msg
    assert "Now containerd is down (ActiveState=failed, SubState=failed, Result=exit-code)" in msg
    assert "The engine is DOWN" in msg and "fault injection" in msg
    assert [c for c in node.calls if c[1:2] == ["restart"]].__len__() == 1   # no second restart, no rollback


def test_absent_a_runtime_still_live_fails(node, etc, tmp_path):
    """Another file of the engine's config still defines the runtime: the removal did not take effect."""
    record = tmp_path / "record.json"
    node.refuse = lambda etc: False
    run(configure, configure_args(etc, record))       # the drop-in stays: the live config has the runtime
    result = run(module, absent_args(etc, record), expect=FailJson)
    assert result["up"] is True
    assert "the live config still has runtime nvidia" in result["msg"]
    assert "Now containerd is up" in result["msg"] and "DOWN" not in result["msg"]
    assert (etc.parent / "conf.d" / "99-nvidia.toml").exists()      # nothing rolled back or removed


def test_absent_check_mode_restarts_nothing(node, etc, tmp_path):
    result = run(module, dict(absent_args(etc, tmp_path / "r.json"), _ansible_check_mode=True))
    assert result["changed"] is True and node.calls == []
