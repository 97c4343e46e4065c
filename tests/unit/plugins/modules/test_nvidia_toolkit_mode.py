# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive nvidia_toolkit_mode.main() on real files in tmp_path, with the lab's nvidia-ctk stand-in
(tests/fake/local_apt_repo.py) as the toolkit: a real subprocess, the real command line."""

from __future__ import annotations

import json
import os
import sys

import pytest

from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
)

from ansible_collections.homelab.gpu_node.plugins.modules import nvidia_toolkit_mode as module

FAKE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "fake")


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


@pytest.fixture
def ctk(tmp_path):
    sys.path.insert(0, FAKE)
    try:
        import local_apt_repo
    finally:
        sys.path.remove(FAKE)
    path = tmp_path / "nvidia-ctk"
    path.write_text(local_apt_repo.CTK % "1.20.0")
    path.chmod(0o755)
    return str(path)


def args(tmp_path, ctk, **extra):
    base = {"mode": "cdi", "nvidia_ctk": ctk, "spec_path": str(tmp_path / "run" / "cdi" / "nvidia.yaml"),
            "runtime_config": str(tmp_path / "config.toml"), "record": str(tmp_path / "state" / "toolkit.json"),
            "engine": "containerd", "engine_cdi": True}
    base.update(extra)
    return base


def test_cdi_mode_generates_the_spec_records_and_is_idempotent(tmp_path, ctk):
    a = args(tmp_path, ctk)
    first = run_main(module, a)
    assert first["changed"] and first["spec_changed"]
    spec = open(a["spec_path"]).read()
    assert "kind: nvidia.com/gpu" in spec
    record = json.load(open(a["record"]))
    assert record == first["ansible_facts"]["nvidia_toolkit"]
    assert record["mode"] == "cdi" and record["toolkit_version"] == "1.20.0"
    assert record["cdi_spec"] == a["spec_path"] and record["engine_cdi"] is True
    second = run_main(module, a)
    assert not second["changed"] and not second["spec_changed"]


def test_check_mode_writes_nothing_and_shows_the_diff(tmp_path, ctk):
    a = args(tmp_path, ctk, _ansible_check_mode=True, _ansible_diff=True)
    result = run_main(module, a)
    assert result["changed"]
    assert not os.path.exists(a["spec_path"]) and not os.path.exists(a["record"])
    assert [d["after_header"] for d in result["diff"]] == [a["spec_path"], a["record"]]


def test_auto_mode_removes_only_the_spec_it_generated(tmp_path, ctk):
    a = args(tmp_path, ctk)
    run_main(module, a)
    back = run_main(module, dict(a, mode="auto", engine_cdi=False))
    assert back["changed"] and back["spec_changed"]
    assert not os.path.exists(a["spec_path"])
    assert back["ansible_facts"]["nvidia_toolkit"]["mode"] == "jit-cdi"  # toolkit 1.20.0, mode auto
    # a spec someone else put there is left alone
    os.makedirs(os.path.dirname(a["spec_path"]), exist_ok=True)
    open(a["spec_path"], "w").write("their spec\n")
    again = run_main(module, dict(a, mode="auto", engine_cdi=False))
    assert not again["changed"] and open(a["spec_path"]).read() == "their spec\n"


def test_configured_legacy_mode_is_recorded(tmp_path, ctk):
    a = args(tmp_path, ctk, mode="auto")
    open(a["runtime_config"], "w").write('[nvidia-container-runtime]\nmode = "legacy"\n')
    assert run_main(module, a)["ansible_facts"]["nvidia_toolkit"]["mode"] == "legacy"


def test_cdi_mode_without_nvidia_ctk_fails_with_the_fix(tmp_path, monkeypatch):
    from ansible.module_utils.basic import AnsibleModule
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda self, *a, **k: None)
    a = args(tmp_path, None)
    del a["nvidia_ctk"]
    result = run_main(module, a, expect=FailJson)
    assert "install the NVIDIA container toolkit first" in result["msg"]
    # check mode before the toolkit is installed: no failure, the change is announced
    result = run_main(module, dict(a, _ansible_check_mode=True))
    assert result["changed"] and result["ansible_facts"]["nvidia_toolkit"]["mode"] == "cdi"


def test_a_failing_generate_is_reported(tmp_path):
    broken = tmp_path / "nvidia-ctk"
    broken.write_text("#!/bin/sh\n[ \"$1\" = --version ] && { echo 'NVIDIA Container Toolkit CLI version 1.20.0'; "
                      "exit 0; }\necho 'ERROR failed to initialize NVML: Unknown Error' >&2\nexit 1\n")
    broken.chmod(0o755)
    result = run_main(module, args(tmp_path, str(broken)), expect=FailJson)
    assert result["msg"] == "nvidia-ctk cdi generate failed (exit 1): ERROR failed to initialize NVML: Unknown Error"
