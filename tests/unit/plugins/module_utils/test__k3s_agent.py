# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/module_utils/_k3s_agent.py (the k3s agent's files, issue 18 item 4)."""

from __future__ import annotations

import os
import stat

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _k3s_agent as agent

TOKEN = "K10unit0test0token::server:s3cr3t-9f"


@pytest.mark.parametrize("config", [
    {"server": "https://192.168.10.30:6443", "token-file": "/etc/rancher/k3s/agent-token", "node-name": "wsl-gpu-node",
     "node-ip": "192.168.10.35", "node-label": ["gpu=nvidia", "nvidia.com/gpu.product=NVIDIA-GeForce-RTX-4090"],
     "node-taint": ["nvidia.com/gpu=present:NoSchedule"], "kubelet-arg": ["max-pods=50"]},
    {"server": "https://[fd00::1]:6443", "debug": True, "v": 2, "empty": [], "nested": {"a": [1, {"b": None}]},
     "quote": "it's \"quoted\": yes # not a comment", "unicode": "größe", "yes": "no", "null-ish": "null"},
], ids=["agent", "awkward"])
def test_config_yaml_reads_back_as_the_same_data(config):
    text = agent.config_yaml(config)
    assert text.startswith("# Managed by homelab.gpu_node.cluster_join")
    assert yaml.safe_load(text) == config
    assert list(yaml.safe_load(text)) == list(config)  # order kept
    assert agent.config_yaml(config) == text  # byte-stable
    # k3s's flag names stay plain keys (what a reader of the file expects); YAML's words are quoted
    assert "\nserver: " in text and "\n\"yes\": " not in text.replace('"yes": "no"', "")
    if "yes" in config:
        assert '\n"yes": "no"\n' in text


def test_unit_runs_the_binary_as_agent_with_nothing_secret():
    unit = agent.agent_unit("/opt/bin/k3s")
    lines = unit.splitlines()
    for line in ("ExecStart=/opt/bin/k3s agent", "Type=notify", "KillMode=process", "Delegate=yes",
                 "LimitNOFILE=1048576", "TimeoutStartSec=0", "Restart=always"):
        assert line in lines
    assert not [line for line in lines if line.startswith("Environment=") or "--token" in line]


def state_of(path, text=None, mode=0o600, uid=0, gid=0, kind="file"):
    entry = {"exists": True, "type": kind, "mode": mode, "uid": uid, "gid": gid, "mtime": 1.0}
    if text is not None:
        entry["text"] = text
    return {path: entry}


DESIRED = {agent.TOKEN_PATH: (TOKEN, 0o600), agent.CONFIG_PATH: ("server: x\n", 0o600)}


def test_plan_present_creates_updates_fixes_modes_and_leaves_right_files():
    assert [(c["path"], c["action"]) for c in agent.plan_present(DESIRED, {})] == [
        (agent.TOKEN_PATH, "create"), (agent.CONFIG_PATH, "create")]
    same = dict(state_of(agent.TOKEN_PATH, TOKEN), **state_of(agent.CONFIG_PATH, "server: x\n"))
    assert agent.plan_present(DESIRED, same) == []
    other = dict(state_of(agent.TOKEN_PATH, "old"), **state_of(agent.CONFIG_PATH, "server: x\n", mode=0o644))
    changes = agent.plan_present(DESIRED, other)
    assert [(c["path"], c["action"]) for c in changes] == [(agent.TOKEN_PATH, "update"), (agent.CONFIG_PATH, "mode")]
    assert changes[0]["secret"] and not changes[1]["secret"] and "text" not in changes[1]
    assert agent.plan_present(DESIRED, dict(same, **state_of(agent.CONFIG_PATH, "server: x\n", uid=1000)))[0][
        "action"] == "mode"


def test_plan_present_refuses_a_directory_where_a_file_goes():
    with pytest.raises(agent.K3sAgentError, match="is not a regular file"):
        agent.plan_present(DESIRED, state_of(agent.TOKEN_PATH, kind="directory"))


def test_diff_never_holds_the_token():
    changes = agent.plan_present(DESIRED, dict(state_of(agent.TOKEN_PATH, "K10old::server:old-secret")))
    diff = agent.diff_entries(changes, removed=[(agent.TOKEN_PATH, None, True)])
    text = repr(diff)
    assert TOKEN not in text and "old-secret" not in text
    assert diff[0]["before"] == agent.HIDDEN and "changed, not shown" in diff[0]["after"]
    assert diff[1] == {"before_header": agent.CONFIG_PATH + " (absent)", "after_header": agent.CONFIG_PATH,
                       "before": "", "after": "server: x\n"}


def test_record_keeps_what_the_role_added_and_compares_as_data():
    record = agent.merge_record({}, True, ["/etc/rancher/k3s", "/etc/rancher"])
    assert record == {"distribution": "k3s", "binary_installed": True, "created_dirs": ["/etc/rancher", "/etc/rancher/k3s"]}
    # a later run finds the binary and the directories: nothing the role added is forgotten
    assert agent.merge_record(record, False, []) == record
    assert agent.merge_record({}, False, [])["binary_installed"] is False
    ok = {"exists": True, "mode": 0o644, "uid": 0, "gid": 0}
    # the record written by the Jinja version of the role (to_nice_json, indent 4) is the same data: no rewrite
    old_text = '{\n    "binary_installed": true,\n    "created_dirs": [\n        "/etc/rancher",\n' \
               '        "/etc/rancher/k3s"\n    ],\n    "distribution": "k3s"\n}\n'
    assert agent.plan_record(old_text, record, ok) is None
    assert agent.plan_record(old_text.replace("    ", "  "), record, ok) is None
    assert agent.plan_record(old_text, record, dict(ok, mode=0o600))["action"] == "update"
    assert agent.plan_record(None, record, {"exists": False})["action"] == "create"
    assert agent.load_record("not json") == {} and agent.load_record("[1]") == {}


def test_missing_parents_outermost_first():
    exists = {"/etc": True}

    def state(directory):
        return {"exists": exists.get(directory, False)}

    assert agent.missing_parents([agent.CONFIG_PATH, agent.TOKEN_PATH, "/etc/x.conf"], state) == [
        "/etc/rancher", "/etc/rancher/k3s"]


def test_plan_absent_removes_the_binary_only_when_the_role_installed_it():
    state = {}
    for path in (agent.UNIT_PATH, agent.CONFIG_PATH, agent.BINARY, agent.RECORD_PATH, "/etc/rancher",
                 "/etc/rancher/k3s", agent.RECORD_DIR):
        state[path] = {"exists": True}
    record = {"binary_installed": False, "created_dirs": ["/etc/rancher", "/etc/rancher/k3s"]}
    files, dirs = agent.plan_absent(record, state)
    assert files == [agent.UNIT_PATH, agent.CONFIG_PATH, agent.RECORD_PATH]
    assert dirs == [agent.RECORD_DIR, "/etc/rancher/k3s", "/etc/rancher"]
    files, _dirs = agent.plan_absent(dict(record, binary_installed=True), state)
    assert agent.BINARY in files


def test_write_file_is_atomic_with_the_final_mode_from_the_start(tmp_path, monkeypatch):
    target = tmp_path / "agent-token"
    seen = []
    real_replace = os.replace

    def replace(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))
        real_replace(src, dst)

    monkeypatch.setattr(agent.os, "replace", replace)
    uid, gid = os.getuid(), os.getgid()
    agent.write_file(str(target), TOKEN, 0o600, uid, gid)
    assert target.read_text() == TOKEN and seen == [0o600]
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    agent.write_file(str(target), "new", 0o640, uid, gid)
    assert target.read_text() == "new" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(str(tmp_path))) == ["agent-token"]  # no temporary file left


def test_write_file_leaves_nothing_behind_when_it_fails(tmp_path, monkeypatch):
    def replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(agent.os, "replace", replace)
    with pytest.raises(OSError, match="disk full"):
        agent.write_file(str(tmp_path / "config.yaml"), "x", 0o600, os.getuid(), os.getgid())
    assert os.listdir(str(tmp_path)) == []


def test_read_state_and_empty_after(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("hello")
    state = agent.read_state([str(tmp_path / "d"), str(tmp_path / "d" / "f"), str(tmp_path / "nope")],
                             text_paths={str(tmp_path / "d" / "f")})
    assert state[str(tmp_path / "d")]["type"] == "directory"
    assert state[str(tmp_path / "d" / "f")]["text"] == "hello"
    assert state[str(tmp_path / "nope")] == {"exists": False}
    assert agent.empty_after(str(tmp_path / "d"), {str(tmp_path / "d" / "f")})
    assert not agent.empty_after(str(tmp_path / "d"), set())
    assert not agent.empty_after(str(tmp_path / "nope"), set())
