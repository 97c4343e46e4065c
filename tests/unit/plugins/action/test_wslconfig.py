# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/action/wslconfig.py.

The remote side is faked at the ActionBase boundary, as ansible/ansible
test/units/plugins/action/test_fetch.py does: ``_execute_module`` returns a canned
``ansible.windows.slurp`` reply and the copy action is a MagicMock returned by the
action loader. Everything between (argument validation, merge, check mode, diff,
encoding) is the real code.
"""

from __future__ import annotations

import base64
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.playbook.task import Task

from ansible_collections.homelab.gpu_node.plugins.action import wslconfig as action_mod
from ansible_collections.homelab.gpu_node.plugins.action.wslconfig import ActionModule

SEED_ARGS = dict(wsl2=dict(memory="32GB", processors=8, networkingMode="bridged", vmSwitch="WSLBridge",
                           macAddress="02:15:5d:4a:10:35", vmIdleTimeout=-1))
USER_FILE = b"# mine\r\n[wsl2]\r\nmemory=16GB\r\nswap=0\r\n"


def slurp_reply(data):
    return {"changed": False, "content": base64.b64encode(data).decode("ascii"), "encoding": "base64",
            "source": "C:\\Users\\gamer\\.wslconfig"}


NOT_FOUND = {"failed": True, "changed": False, "msg": "Path C:\\Users\\gamer\\.wslconfig is not found"}


class Harness:
    """An ActionModule with the remote boundary replaced; records what was written."""

    def __init__(self, args, remote, check_mode=False, diff=False, windows=True, copy_result=None):
        task = MagicMock(Task)
        task.args = args
        task.check_mode = check_mode
        task.diff = diff
        task.async_val = 0
        task.action = "homelab.gpu_node.wslconfig"
        self.copied_task = MagicMock()
        task.copy.return_value = self.copied_task
        connection = MagicMock()
        connection._shell.SHELL_FAMILY = "powershell" if windows else "sh"
        connection._shell.tmpdir = "C:\\Users\\gamer\\AppData\\Local\\Temp\\ansible-tmp-1"
        self.action = ActionModule(task, connection, MagicMock(), loader=MagicMock(), templar=None,
                                   shared_loader_obj=None)
        self.action._remove_tmp_path = MagicMock()
        self.action._execute_module = MagicMock(return_value=remote)
        self.written = []
        self.copy_action = MagicMock()

        def run_copy(task_vars=None):
            with open(self.copied_task.args["src"], "rb") as handle:
                self.written.append(handle.read())
            return copy_result or {"changed": True, "dest": self.copied_task.args["dest"]}

        self.copy_action.run.side_effect = run_copy
        self.action._shared_loader_obj = MagicMock()
        self.action._shared_loader_obj.action_loader.get.return_value = self.copy_action

    def run(self):
        return self.action.run(task_vars={})

    @property
    def copy_name(self):
        return self.action._shared_loader_obj.action_loader.get.call_args.args[0]


def test_change_is_written_through_win_copy_with_the_user_file_kept():
    h = Harness(SEED_ARGS, slurp_reply(USER_FILE))
    result = h.run()
    assert result["changed"] and not result.get("failed")
    h.action._execute_module.assert_called_once_with(
        module_name="ansible.windows.slurp", module_args={"src": "%USERPROFILE%\\.wslconfig"}, task_vars={})
    assert h.copy_name == "ansible.windows.win_copy"
    assert h.copied_task.args["dest"] == "%USERPROFILE%\\.wslconfig"
    assert h.copied_task.args["backup"] is False
    assert len(h.written) == 1
    assert h.written[0].startswith(b"# mine\r\n[wsl2]\r\nmemory=32GB\r\nswap=0\r\nprocessors=8\r\n")
    assert result["created"] is False
    assert result["encoding"] == "utf-8"
    changed_keys = {c["key"] for c in result["changes"]}
    assert changed_keys == {"memory", "processors", "networkingMode", "vmSwitch", "macAddress", "vmIdleTimeout"}
    assert "diff" not in result


def test_second_run_on_the_written_file_changes_nothing_and_copies_nothing():
    first = Harness(SEED_ARGS, slurp_reply(USER_FILE))
    first.run()
    second = Harness(SEED_ARGS, slurp_reply(first.written[0]))
    result = second.run()
    assert result["changed"] is False
    assert result["changes"] == []
    second.copy_action.run.assert_not_called()
    second.action._shared_loader_obj.action_loader.get.assert_not_called()


def test_check_mode_reports_the_change_and_diff_but_never_copies():
    h = Harness(SEED_ARGS, slurp_reply(USER_FILE), check_mode=True, diff=True)
    result = h.run()
    assert result["changed"] is True
    h.copy_action.run.assert_not_called()
    assert result["diff"]["before"] == USER_FILE.decode()
    assert "vmSwitch=WSLBridge" in result["diff"]["after"]
    assert result["diff"]["before_header"] == result["diff"]["after_header"] == "%USERPROFILE%\\.wslconfig"


def test_missing_file_is_created_with_crlf():
    h = Harness(dict(SEED_ARGS, backup=True), NOT_FOUND, diff=True)
    result = h.run()
    assert result["changed"] and result["created"]
    assert h.written == [b"[wsl2]\r\nmemory=32GB\r\nprocessors=8\r\nnetworkingMode=bridged\r\nvmSwitch=WSLBridge\r\n"
                         b"macAddress=02:15:5d:4a:10:35\r\nvmIdleTimeout=-1\r\n"]
    assert result["diff"]["before"] == ""
    assert result["diff"]["before_header"].endswith("(absent)")
    assert h.copied_task.args["backup"] is True


def test_missing_file_in_check_mode_is_not_created():
    h = Harness(SEED_ARGS, NOT_FOUND, check_mode=True)
    result = h.run()
    assert result["changed"] and result["created"]
    h.copy_action.run.assert_not_called()


def test_utf16_file_stays_utf16():
    data = b"\xff\xfe" + "[wsl2]\r\nmemory=16GB\r\n".encode("utf-16-le")
    h = Harness(dict(wsl2=dict(memory="32GB")), slurp_reply(data))
    result = h.run()
    assert result["encoding"] == "utf-16-le-bom"
    assert h.written == [b"\xff\xfe" + "[wsl2]\r\nmemory=32GB\r\n".encode("utf-16-le")]


def test_backup_file_is_returned():
    h = Harness(dict(wsl2=dict(memory="32GB"), backup=True), slurp_reply(USER_FILE),
                copy_result={"changed": True, "backup_file": "C:\\Users\\gamer\\.wslconfig.1.2026~"})
    assert h.run()["backup_file"] == "C:\\Users\\gamer\\.wslconfig.1.2026~"


def test_warning_for_host_address_loopback_in_bridged_mode():
    h = Harness(dict(SEED_ARGS, experimental=dict(hostAddressLoopback=True)), slurp_reply(USER_FILE))
    result = h.run()
    assert any("only works with networkingMode=mirrored" in w for w in result["warnings"])


def test_bridged_without_switch_fails_without_writing():
    h = Harness(dict(wsl2=dict(networkingMode="bridged")), slurp_reply(USER_FILE))
    result = h.run()
    assert result["failed"] is True
    assert "needs vmSwitch" in result["msg"]
    h.copy_action.run.assert_not_called()


def test_bad_value_fails_with_wsl_rule():
    h = Harness(dict(wsl2=dict(memory="32gb")), slurp_reply(USER_FILE))
    result = h.run()
    assert result["failed"] and "upper-case suffix" in result["msg"]


def test_unknown_option_and_wrong_type_fail_argument_validation():
    with pytest.raises(AnsibleActionFail, match="networkingMode"):
        Harness(dict(wsl2=dict(networkingMode="bridge")), slurp_reply(USER_FILE)).run()
    with pytest.raises(AnsibleActionFail, match="Unsupported parameters"):
        Harness(dict(wsl2=dict(swap="0")), slurp_reply(USER_FILE)).run()
    with pytest.raises(AnsibleActionFail, match="processors"):
        Harness(dict(wsl2=dict(processors="eight")), slurp_reply(USER_FILE)).run()


def test_unreadable_remote_file_fails_with_slurp_message():
    h = Harness(SEED_ARGS, {"failed": True, "msg": "Path C:\\Users\\gamer\\.wslconfig is a directory"})
    result = h.run()
    assert result["failed"] and "is a directory" in result["msg"]
    h.copy_action.run.assert_not_called()


def test_copy_failure_is_reported():
    h = Harness(SEED_ARGS, slurp_reply(USER_FILE), copy_result={"failed": True, "msg": "Access is denied"})
    result = h.run()
    assert result["failed"] and "Access is denied" in result["msg"]


def test_posix_target_uses_builtin_modules_and_needs_a_path():
    h = Harness(dict(SEED_ARGS), slurp_reply(USER_FILE), windows=False)
    result = h.run()
    assert result["failed"] and "path must be set" in result["msg"]
    h.action._execute_module.assert_not_called()

    h = Harness(dict(SEED_ARGS, path="/mnt/c/Users/gamer/.wslconfig"),
                {"failed": True, "msg": "file not found: /mnt/c/Users/gamer/.wslconfig"}, windows=False)
    result = h.run()
    assert result["created"]
    assert h.action._execute_module.call_args.kwargs["module_name"] == "ansible.legacy.slurp"
    assert h.copy_name == "ansible.legacy.copy"


def test_missing_configupdater_fails_with_the_install_hint(monkeypatch):
    monkeypatch.setattr(action_mod, "HAS_CONFIGUPDATER", False)
    h = Harness(SEED_ARGS, slurp_reply(USER_FILE))
    result = h.run()
    assert result["failed"] and "configupdater" in result["msg"] and "controller" in result["msg"]
    h.action._execute_module.assert_not_called()
