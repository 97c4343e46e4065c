# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive paths_info.main() on real files in tmp_path; systemctl answers canned text."""

from __future__ import annotations

import os
import time

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import (
    ExitJson,
    FailJson,
    patch_exits,
    run_main,
)

from ansible_collections.homelab.gpu_node.plugins.modules import paths_info as module


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def run(args, expect=ExitJson):
    return run_main(module, args, expect)


@pytest.fixture
def systemd(monkeypatch):
    """systemctl reports the unit as started ``ago`` seconds before now (monotonic clock)."""
    state = {"ago": 60.0, "active": "active", "calls": []}

    def run_command(self, args, **kwargs):
        state["calls"].append(args)
        started_us = int((time.monotonic() - state["ago"]) * 1e6)
        return 0, ("Id=k3s-agent.service\nLoadState=loaded\nActiveState=%s\nSubState=running\nUnitFileState=enabled\n"
                   "ExecMainStartTimestampMonotonic=%d\n" % (state["active"], started_us)), ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, name, *a, **k: "/usr/bin/" + name)
    return state


def test_paths_and_contents(tmp_path):
    record = tmp_path / "record.json"
    record.write_text('{"distribution": "k3s"}\n')
    os.chmod(str(record), 0o644)
    result = run({"paths": [str(record), str(tmp_path), str(tmp_path / "missing")],
                  "read": [str(record), str(tmp_path / "missing")]})
    assert result["changed"] is False
    assert result["paths"][str(record)]["type"] == "file" and result["paths"][str(record)]["mode"] == "0644"
    assert result["paths"][str(tmp_path)]["type"] == "directory"
    assert result["paths"][str(tmp_path / "missing")] == {"exists": False}
    assert result["contents"] == {str(record): '{"distribution": "k3s"}\n'}
    assert result["service"] is None and result["stale"] == [] and result["restart_pending"] is False


def test_files_written_after_the_service_started_are_stale(tmp_path, systemd):
    old, new = tmp_path / "token", tmp_path / "config.yaml"
    old.write_text("x")
    new.write_text("y")
    now = time.time()
    os.utime(str(old), (now - 3600, now - 3600))  # before the start (60 s ago)
    result = run({"paths": [str(old), str(new)], "service": "k3s-agent"})
    expected = ("--property=Id,LoadState,ActiveState,SubState,UnitFileState,"
                "ExecMainStartTimestampMonotonic,ActiveEnterTimestampMonotonic")
    assert systemd["calls"][0][1:3] == ["show", expected]
    assert result["service"]["unit"] == "k3s-agent.service" and result["service"]["enabled"] == "enabled"
    assert result["stale"] == [str(new)] and result["restart_pending"] is True
    # watch narrows the comparison
    result = run({"paths": [str(old), str(new)], "service": "k3s-agent", "watch": [str(old)]})
    assert result["stale"] == [] and result["restart_pending"] is False


def test_a_stopped_service_owes_no_restart(tmp_path, systemd):
    systemd["active"] = "inactive"
    (tmp_path / "config.yaml").write_text("y")
    result = run({"paths": [str(tmp_path / "config.yaml")], "service": "k3s-agent"})
    assert result["stale"] == [] and result["restart_pending"] is False


@pytest.mark.parametrize("args, message", [
    ({"paths": ["relative/path"]}, "paths must hold absolute paths; got relative/path"),
    ({"read": ["x"]}, "read must hold absolute paths; got x"),
    ({"read_max_bytes": 0}, "read_max_bytes must be a positive number of bytes, got 0"),
])
def test_bad_input_names_the_option(args, message):
    assert run(args, expect=FailJson)["msg"] == message


def test_read_refuses_big_or_binary_files(tmp_path):
    big = tmp_path / "big"
    big.write_text("x" * 100)
    assert "larger than read_max_bytes (10 bytes)" in run({"read": [str(big)], "read_max_bytes": 10}, FailJson)["msg"]
    binary = tmp_path / "bin"
    binary.write_bytes(b"\xff\xfe\x00")
    assert "is not UTF-8 text" in run({"read": [str(binary)]}, FailJson)["msg"]


def test_checksums_of_regular_files_only(tmp_path):
    import hashlib

    binary = tmp_path / "k3s"
    binary.write_bytes(b"#!/bin/sh\nexit 0\n")
    link = tmp_path / "link"
    link.symlink_to(binary)
    result = run({"checksum": [str(binary), str(link), str(tmp_path / "missing"), str(tmp_path)]})
    assert result["paths"][str(binary)]["checksum"] == hashlib.sha256(b"#!/bin/sh\nexit 0\n").hexdigest()
    assert "checksum" not in result["paths"][str(link)] and result["paths"][str(link)]["type"] == "link"
    assert result["paths"][str(tmp_path / "missing")] == {"exists": False}
    assert "checksum" not in result["paths"][str(tmp_path)]


def test_expect_sha256_compares_a_secret_file_without_returning_its_checksum(tmp_path):
    """Issue 14 defect 6: the k3s token file is compared on the node; no hash of it comes back."""
    import hashlib
    import json

    token = tmp_path / "agent-token"
    token.write_text("K10secret::server:abc")
    digest = hashlib.sha256(b"K10secret::server:abc").hexdigest()
    result = run({"paths": [str(tmp_path)], "expect_sha256": {str(token): digest}})
    assert result["paths"][str(token)]["content_matches"] is True
    assert "checksum" not in result["paths"][str(token)]
    assert digest not in json.dumps(result)
    wrong = run({"expect_sha256": {str(token): "0" * 64, str(tmp_path / "missing"): digest}})
    assert wrong["paths"][str(token)]["content_matches"] is False
    assert wrong["paths"][str(tmp_path / "missing")]["content_matches"] is False
    both = run({"checksum": [str(token)], "expect_sha256": {str(token): digest}}, expect=FailJson)
    assert "must not have its checksum returned" in both["msg"]
    assert module.argument_spec()["expect_sha256"]["no_log"] is True
