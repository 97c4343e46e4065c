# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive k3s_agent_files.main() against real files in tmp_path.

Only exit_json/fail_json (to raise), systemd (``read_service``, the boundary) and the
path of the k3s server unit are replaced; planning, writing, modes and removal are the
module's own code on real files.
"""

from __future__ import annotations

import json
import os
import stat

import pytest
import yaml

from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)
from ansible_collections.homelab.gpu_node.plugins.modules import k3s_agent_files as module
from ansible_collections.homelab.gpu_node.plugins.module_utils import _k3s_agent as agent

TOKEN = "K10module0test0token::server:s3cr3t-77"
UID, GID = os.getuid(), os.getgid()


@pytest.fixture(autouse=True)
def boundary(monkeypatch, tmp_path):
    patch_exits(monkeypatch)
    monkeypatch.setattr(agent, "SERVER_UNIT", str(tmp_path / "systemd" / "k3s.service"))
    service = {"value": None}
    monkeypatch.setattr(module, "read_service", lambda *args: service["value"])
    return service


@pytest.fixture
def paths(tmp_path):
    (tmp_path / "systemd").mkdir()
    (tmp_path / "bin").mkdir()
    return {
        "config_path": str(tmp_path / "etc" / "rancher" / "k3s" / "config.yaml"),
        "token_path": str(tmp_path / "etc" / "rancher" / "k3s" / "agent-token"),
        "unit_path": str(tmp_path / "systemd" / "k3s-agent.service"),
        "record_path": str(tmp_path / "var" / "homelab-gpu-node" / "cluster_join.json"),
        "binary": str(tmp_path / "bin" / "k3s"),
    }


def config(paths, **extra):
    out = {"server": "https://192.168.10.30:6443", "token-file": paths["token_path"], "node-name": "wsl-gpu-node",
           "node-label": ["gpu=nvidia", "gpu-type=rtx4090"], "node-taint": ["nvidia.com/gpu=present:NoSchedule"]}
    out.update(extra)
    return out


def run(paths, expect=ExitJson, **args):
    args = dict(paths, **args)
    args.setdefault("token", TOKEN)
    if args.get("state", "present") == "present":
        args.setdefault("config", config(paths))
    args["_ansible_diff"] = True
    return run_main(module, args, expect)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_first_run_writes_everything_then_a_rerun_changes_nothing(paths, tmp_path):
    result = run(paths)
    assert result["changed"] and result["restart_pending"]
    assert [f["action"] for f in result["files"]] == ["create"] * 4
    assert result["created_dirs"] == [str(tmp_path / "etc"), str(tmp_path / "etc" / "rancher"),
                                      str(tmp_path / "etc" / "rancher" / "k3s")]
    with open(paths["token_path"]) as handle:
        assert handle.read() == TOKEN
    assert mode(paths["token_path"]) == 0o600 and mode(paths["config_path"]) == 0o600
    assert mode(paths["unit_path"]) == 0o644 and mode(paths["record_path"]) == 0o644
    with open(paths["config_path"]) as handle:
        assert yaml.safe_load(handle) == config(paths)
    with open(paths["unit_path"]) as handle:
        assert "ExecStart=%s agent\n" % paths["binary"] in handle.read()
    with open(paths["record_path"]) as handle:
        record = json.load(handle)
    assert record == {"distribution": "k3s", "binary_installed": True, "created_dirs": result["created_dirs"]}

    again = run(paths)
    assert not again["changed"] and not again["restart_pending"] and again["files"] == []
    assert again["record"] == record


def test_no_form_of_the_token_in_the_result_or_diff(paths):
    import base64
    import hashlib
    forms = [TOKEN, hashlib.sha256(TOKEN.encode()).hexdigest(), hashlib.sha1(TOKEN.encode()).hexdigest(),
             base64.b64encode(TOKEN.encode()).decode()]
    first = run(paths)
    second = run(paths, token=TOKEN.replace("77", "78"))
    assert second["changed"] and [f["path"] for f in second["files"]] == [paths["token_path"]]
    absent = run(paths, state="absent")
    for result in (first, second, absent):
        text = json.dumps(result)
        assert not [form for form in forms + [TOKEN.replace("77", "78")] if form in text]
    assert any(d["before"] == agent.HIDDEN for d in second["diff"])


def test_check_mode_reports_without_writing(paths, tmp_path):
    result = run(paths, _ansible_check_mode=True)
    assert result["changed"] and result["restart_pending"]
    assert not os.path.exists(str(tmp_path / "etc")) and not os.path.exists(paths["unit_path"])


def test_config_change_is_a_diff_and_a_restart(paths):
    run(paths)
    result = run(paths, config=config(paths, **{"kubelet-arg": ["max-pods=50"]}))
    assert result["restart_pending"] and [f["path"] for f in result["files"]] == [paths["config_path"]]
    (diff,) = result["diff"]
    assert "kubelet-arg" in diff["after"] and "kubelet-arg" not in diff["before"]


def test_wrong_mode_is_fixed_without_a_restart(paths):
    run(paths)
    os.chmod(paths["token_path"], 0o644)
    result = run(paths)
    assert result["changed"] and not result["restart_pending"]
    assert result["files"] == [{"path": paths["token_path"], "action": "mode"}]
    assert mode(paths["token_path"]) == 0o600


def test_the_binary_counts_as_the_roles_only_when_it_was_missing(paths):
    with open(paths["binary"], "w") as handle:
        handle.write("users-own-k3s")
    assert run(paths)["record"]["binary_installed"] is False
    assert run(paths, binary_missing=True)["record"]["binary_installed"] is True
    # once recorded, a later run (binary present) keeps it
    assert run(paths)["record"]["binary_installed"] is True


def test_files_newer_than_the_running_agent_owe_a_restart(paths, boundary, monkeypatch):
    from ansible.module_utils.basic import AnsibleModule
    warnings = []
    monkeypatch.setattr(AnsibleModule, "warn", lambda self, msg: warnings.append(msg))
    run(paths)
    boundary["value"] = {"unit": "k3s-agent.service", "active": "active", "sub": "running", "enabled": "enabled",
                         "started": os.stat(paths["config_path"]).st_mtime - 60}
    result = run(paths)
    assert not result["changed"] and result["restart_pending"]
    assert paths["config_path"] in result["stale_files"] and paths["token_path"] in result["stale_files"]
    assert result["service"] == {"active": "active", "enabled": "enabled"}
    assert len(warnings) == 1 and "changed after k3s-agent last started" in warnings[0]
    boundary["value"]["started"] = os.stat(paths["config_path"]).st_mtime + 60
    assert not run(paths)["restart_pending"]


def test_refuses_a_k3s_server_host_before_writing_anything(paths, tmp_path):
    with open(agent.SERVER_UNIT, "w") as handle:
        handle.write("[Service]\n")
    result = run(paths, expect=FailJson)
    assert "a k3s server runs here" in result["msg"] and "Nothing was changed" in result["msg"]
    assert not os.path.exists(str(tmp_path / "etc"))


@pytest.mark.parametrize("key", ["token", "agent-token"])
def test_refuses_the_token_in_config(paths, key):
    result = run(paths, expect=FailJson, config=config(paths, **{key: TOKEN}))
    assert "must not hold the token" in result["msg"] and TOKEN not in json.dumps(result)


def test_absent_removes_exactly_what_was_added(paths, tmp_path):
    (tmp_path / "etc").mkdir()  # the user's: kept
    (tmp_path / "var" / "homelab-gpu-node").mkdir(parents=True)
    with open(str(tmp_path / "var" / "homelab-gpu-node" / "gpu_runtime.json"), "w") as handle:
        handle.write("{}")  # another role's record: the directory stays
    run(paths, binary_missing=True)
    with open(paths["binary"], "w") as handle:
        handle.write("k3s")
    result = run(paths, state="absent")
    assert result["changed"]
    for path in (paths["unit_path"], paths["config_path"], paths["token_path"], paths["binary"],
                 paths["record_path"], str(tmp_path / "etc" / "rancher")):
        assert not os.path.exists(path), path
    assert os.path.isdir(str(tmp_path / "etc")) and os.path.isdir(str(tmp_path / "var" / "homelab-gpu-node"))
    again = run(paths, state="absent")
    assert not again["changed"] and again["removed"] == []


def test_absent_keeps_a_binary_the_role_did_not_install_and_a_directory_with_other_files(paths, tmp_path):
    with open(paths["binary"], "w") as handle:
        handle.write("users-own-k3s")
    run(paths)
    with open(str(tmp_path / "etc" / "rancher" / "k3s" / "registries.yaml"), "w") as handle:
        handle.write("mirrors: {}\n")
    check = run(paths, state="absent", _ansible_check_mode=True)
    assert os.path.exists(paths["token_path"])  # check mode removed nothing
    result = run(paths, state="absent")
    assert result["removed"] == check["removed"]
    assert os.path.exists(paths["binary"]) and os.path.isdir(str(tmp_path / "etc" / "rancher" / "k3s"))
    assert not os.path.exists(paths["token_path"])


def test_a_write_error_says_what_was_done_before_it(paths, monkeypatch):
    real = agent.write_file

    def write_file(path, text, mode, uid=0, gid=0):
        if path == paths["unit_path"]:
            raise OSError("[Errno 28] No space left on device: %r" % path)
        real(path, text, mode, uid, gid)

    monkeypatch.setattr(agent, "write_file", write_file)
    result = run(paths, expect=FailJson)
    assert "No space left on device" in result["msg"] and result["changed"]
    assert "done before the error: " in result["msg"] and paths["config_path"] in result["msg"]
    assert paths["record_path"] not in result["msg"].split("done before the error")[1]
    assert TOKEN not in json.dumps(result)


# --- the binary (binary_source / binary_sha256; the action plugin sends the file as binary_sent) ---------------------

BINARY_BYTES = b"#!/bin/sh\necho k3s stand-in\n"
BINARY_SHA = __import__("hashlib").sha256(BINARY_BYTES).hexdigest()


def binary_args(tmp_path, sent=False, data=BINARY_BYTES):
    args = {"binary_source": "/controller/k3s", "binary_sha256": BINARY_SHA}
    if sent:
        path = tmp_path / "sent-k3s"
        path.write_bytes(data)
        args["binary_sent"] = str(path)
    return args


def test_a_differing_binary_is_asked_for_first_and_nothing_is_written(paths, tmp_path):
    result = run(paths, **binary_args(tmp_path))
    assert result["binary_needed"] is True and result["changed"] is False
    assert not os.path.exists(paths["binary"]) and not os.path.exists(paths["config_path"])


def test_the_sent_binary_is_installed_with_the_files_then_a_rerun_changes_nothing(paths, tmp_path):
    result = run(paths, **binary_args(tmp_path, sent=True))
    assert result["changed"] and result["restart_pending"] and not result["binary_needed"]
    assert result["files"][0] == {"path": paths["binary"], "action": "create"}
    assert open(paths["binary"], "rb").read() == BINARY_BYTES and mode(paths["binary"]) == 0o755
    assert result["record"]["binary_installed"] is True
    assert {"before_header": paths["binary"] + " (absent)", "after_header": paths["binary"], "before": "",
            "after": "sha256 %s\n" % BINARY_SHA} in result["diff"]
    again = run(paths, **binary_args(tmp_path))
    assert again["changed"] is False and again["binary_needed"] is False and again["restart_pending"] is False


def test_a_damaged_transfer_never_replaces_the_binary(paths, tmp_path):
    with open(paths["binary"], "wb") as handle:
        handle.write(b"old k3s\n")
    result = run(paths, FailJson, **binary_args(tmp_path, sent=True, data=b"truncated"))
    assert "expected %s" % BINARY_SHA in result["msg"]
    assert open(paths["binary"], "rb").read() == b"old k3s\n"


def test_check_mode_reports_a_new_binary_without_asking_for_it(paths, tmp_path):
    result = run(paths, _ansible_check_mode=True, **binary_args(tmp_path))
    assert result["changed"] and not result["binary_needed"]
    assert {"path": paths["binary"], "action": "create"} in result["files"]
    assert not os.path.exists(paths["binary"])


def test_a_binary_with_the_right_content_but_wrong_mode_is_fixed_without_a_transfer_or_restart(paths, tmp_path):
    run(paths, **binary_args(tmp_path, sent=True))
    os.chmod(paths["binary"], 0o700)
    result = run(paths, **binary_args(tmp_path))
    assert result["files"] == [{"path": paths["binary"], "action": "mode"}]
    assert not result["binary_needed"] and not result["restart_pending"] and mode(paths["binary"]) == 0o755
