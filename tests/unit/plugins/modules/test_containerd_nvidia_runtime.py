# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive containerd_nvidia_runtime.main() against real config files in tmp_path.

Only exit_json/fail_json are replaced (to raise); reading, backup, atomic_move
and file modes are the real AnsibleModule code on real files.
"""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import ExitJson, FailJson, patch_exits

from ansible_collections.homelab.gpu_node.plugins.modules import containerd_nvidia_runtime as module

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "module_utils", "fixtures", "runtime_config")


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def run(args, expect=ExitJson):
    with patch_module_args(args):
        with pytest.raises(expect) as info:
            module.main()
    return info.value.result


@pytest.fixture
def etc(tmp_path):
    """A containerd config directory holding containerd 1.7's default config (mode 0600)."""
    config = tmp_path / "containerd" / "config.toml"
    config.parent.mkdir()
    shutil.copy(os.path.join(FIXTURES, "containerd-1.7.24-default.toml"), str(config))
    os.chmod(str(config), 0o600)
    return config


def tree(root):
    out = {}
    for base, _dirs, names in os.walk(str(root)):
        for name in names:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                out[os.path.relpath(path, str(root))] = handle.read()
    return out


def test_containerd_present_writes_dropin_and_import_then_is_idempotent(etc):
    original = etc.read_text()
    result = run({"engine": "containerd", "config_path": str(etc), "set_as_default": True})
    dropin = etc.parent / "conf.d" / "99-nvidia.toml"
    assert result["changed"] is True
    assert sorted(result["files"]) == sorted([str(etc), str(dropin)])
    assert result["runtime_config"]["cri_plugin"] == "io.containerd.grpc.v1.cri"
    assert result["runtime_config"]["import_added"] is True
    assert result["backup_files"] == []

    data = tomllib.loads(dropin.read_text())
    ctd = data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert ctd["default_runtime_name"] == "nvidia"
    assert ctd["runtimes"]["nvidia"]["options"]["BinaryName"] == "/usr/bin/nvidia-container-runtime"
    assert tomllib.loads(etc.read_text())["imports"] == [str(dropin)]
    assert etc.read_text().replace('imports = ["%s"]' % dropin, "imports = []") == original
    assert stat.S_IMODE(os.stat(str(etc)).st_mode) == 0o600  # existing file keeps its mode
    assert stat.S_IMODE(os.stat(str(dropin)).st_mode) == 0o644  # new file

    again = run({"engine": "containerd", "config_path": str(etc), "set_as_default": True})
    assert again["changed"] is False
    assert again["files"] == []


def test_check_mode_reports_the_change_and_writes_nothing(etc):
    before = tree(etc.parent)
    result = run({"engine": "containerd", "config_path": str(etc), "cdi": True,
                  "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True
    assert len(result["files"]) == 2
    assert tree(etc.parent) == before
    diffs = {d["after_header"]: d for d in result["diff"]}
    new = diffs[str(etc.parent / "conf.d" / "99-nvidia.toml")]
    assert new["before"] == "" and "enable_cdi = true" in new["after"]
    assert new["before_header"].endswith("(absent)")
    main = diffs[str(etc)]
    assert main["before"] == before["config.toml"].decode()
    assert "conf.d/99-nvidia.toml" in main["after"]


def test_backup_keeps_the_original(etc):
    original = etc.read_text()
    result = run({"engine": "containerd", "config_path": str(etc), "backup": True})
    assert len(result["backup_files"]) == 1  # the drop-in is new: nothing to back up
    backup = result["backup_files"][0]
    assert backup.startswith(str(etc) + ".")
    with open(backup) as handle:
        assert handle.read() == original


def test_state_absent_restores_the_main_config(etc):
    original = etc.read_text()
    run({"engine": "containerd", "config_path": str(etc)})
    result = run({"engine": "containerd", "config_path": str(etc), "state": "absent"})
    assert result["changed"] is True
    assert etc.read_text() == original
    assert not (etc.parent / "conf.d" / "99-nvidia.toml").exists()
    assert run({"engine": "containerd", "config_path": str(etc), "state": "absent"})["changed"] is False


def test_broken_config_fails_with_the_file_name_and_is_untouched(tmp_path):
    config = tmp_path / "config.toml"
    shutil.copy(os.path.join(FIXTURES, "broken.toml"), str(config))
    before = tree(tmp_path)
    result = run({"engine": "containerd", "config_path": str(config)}, expect=FailJson)
    assert str(config) in result["msg"] and "not valid TOML" in result["msg"]
    assert tree(tmp_path) == before


def test_missing_tomllib_fails_with_the_package_to_install(etc, monkeypatch):
    monkeypatch.setattr(module, "HAS_TOML", False)
    monkeypatch.setattr(module, "TOML_IMPORT_ERROR", ImportError("No module named 'tomli'"))
    result = run({"engine": "containerd", "config_path": str(etc)}, expect=FailJson)
    assert "tomli" in result["msg"] and "python3-tomli" in result["msg"]


def test_docker_needs_no_toml_library(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "HAS_TOML", False)
    daemon = tmp_path / "daemon.json"
    shutil.copy(os.path.join(FIXTURES, "docker-daemon.json"), str(daemon))
    result = run({"engine": "docker", "config_path": str(daemon), "runtime_path": "/opt/nvidia/ncr"})
    assert result["changed"] is True
    data = json.loads(daemon.read_text())
    assert data["runtimes"]["nvidia"] == {"path": "/opt/nvidia/ncr", "args": []}
    assert data["runtimes"]["runsc"] == {"path": "/usr/local/bin/runsc"}
    assert run({"engine": "docker", "config_path": str(daemon), "runtime_path": "/opt/nvidia/ncr"})["changed"] is False


def test_k3s_without_extras_only_reports(tmp_path):
    generated = tmp_path / "config.toml"
    shutil.copy(os.path.join(FIXTURES, "k3s-v2-generated-config.toml"), str(generated))
    before = tree(tmp_path)
    result = run({"engine": "k3s", "config_path": str(generated)})
    assert result["changed"] is False
    assert result["runtime_config"]["runtime_detected"] is True
    assert result["runtime_config"]["mode"] == "none"
    assert tree(tmp_path) == before


def test_k3s_refusal_is_a_clean_failure(tmp_path):
    generated = tmp_path / "config.toml"
    shutil.copy(os.path.join(FIXTURES, "k3s-v2-generated-config.toml"), str(generated))
    result = run({"engine": "k3s", "config_path": str(generated), "set_as_default": True}, expect=FailJson)
    assert "default-runtime: nvidia" in result["msg"]
    assert not (tmp_path / "config.toml.tmpl").exists()


def test_microk8s_template_round_trip(tmp_path):
    template = tmp_path / "containerd-template.toml"
    shutil.copy(os.path.join(FIXTURES, "microk8s-containerd-template.toml"), str(template))
    original = template.read_text()
    result = run({"engine": "microk8s", "config_path": str(template), "set_as_default": True})
    assert result["files"] == [str(template)]
    assert tomllib.loads(template.read_text())["plugins"]["io.containerd.grpc.v1.cri"]["containerd"][
        "default_runtime_name"] == "nvidia"
    assert run({"engine": "microk8s", "config_path": str(template), "set_as_default": True})["changed"] is False
    run({"engine": "microk8s", "config_path": str(template), "state": "absent"})
    assert template.read_text() == original


def test_argument_spec_rejects_unknown_engine(etc):
    result = run({"engine": "cri-o", "config_path": str(etc)}, expect=FailJson)
    assert "engine" in result["msg"]


@pytest.fixture
def containerd_started(monkeypatch):
    """systemctl show answers: containerd active, started ``ago`` seconds before now."""
    from ansible.module_utils.basic import AnsibleModule
    import time

    state = {"ago": 60.0}

    def run_command(self, args, **kwargs):
        assert args[1] == "show", args
        started_us = int((time.monotonic() - state["ago"]) * 1e6)
        return 0, ("Id=containerd.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                   "ExecMainStartTimestampMonotonic=%d\n" % started_us), ""

    monkeypatch.setattr(AnsibleModule, "run_command", run_command)
    real = AnsibleModule.get_bin_path
    monkeypatch.setattr(AnsibleModule, "get_bin_path",
                        lambda self, name, *a, **k: "/usr/bin/systemctl" if name == "systemctl" else real(self, name, *a, **k))
    return state


def test_restart_pending_after_an_interrupted_run(etc, containerd_started):
    """Files written by a run that stopped before its restart handler: the next run reports the restart owed."""
    args = {"engine": "containerd", "config_path": str(etc), "service": "containerd"}
    first = run(args)
    assert first["changed"] is True and first["restart_pending"] is True
    # the files are already right now, but containerd started 60 s ago, before they were written
    second = run(args)
    assert second["changed"] is False and second["restart_pending"] is True
    assert sorted(second["stale_files"]) == sorted([str(etc), str(etc.parent / "conf.d" / "99-nvidia.toml")])
    # once the engine has restarted after the write, nothing is owed
    containerd_started["ago"] = 0.0
    third = run(args)
    assert third["changed"] is False and third["restart_pending"] is False and third["stale_files"] == []


def test_no_restart_check_without_service(etc):
    result = run({"engine": "containerd", "config_path": str(etc)})
    assert result["restart_pending"] is False and result["stale_files"] == []


def test_engine_read_files_leave_out_the_config_k3s_generates():
    from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import engine_read_files

    base = "/var/lib/rancher/k3s/agent/etc/containerd"
    files = engine_read_files("k3s", base + "/config.toml")
    assert base + "/config.toml" not in files and base + "/config.toml.tmpl" in files
    assert engine_read_files("containerd", "/etc/containerd/config.toml") == [
        "/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]
    assert engine_read_files("docker", "/etc/docker/daemon.json") == ["/etc/docker/daemon.json"]


@pytest.fixture(params=["raises", "fail_json"])
def unwritable(monkeypatch, request):
    """atomic_move fails for the paths in the returned set the way it does on a read-only bind mount (EBUSY on
    the final rename): ansible-core 2.19 raises a plain Exception from the OSError, older cores call fail_json."""
    from ansible.module_utils.basic import AnsibleModule

    paths = set()
    real = AnsibleModule.atomic_move

    def atomic_move(self, src, dest, *args, **kwargs):
        if dest in paths:
            os.remove(src)
            msg = "Unable to make %s into to %s, failed final rename" % (src, dest)
            if request.param == "fail_json":
                self.fail_json(msg=msg + ": [Errno 16] Device or resource busy")
            raise Exception(msg) from OSError(16, "Device or resource busy")
        return real(self, src, dest, *args, **kwargs)

    monkeypatch.setattr(AnsibleModule, "atomic_move", atomic_move)
    return paths


def test_absent_removes_the_import_before_the_dropin_and_stops_when_it_cannot(etc, unwritable):
    """Issue 14 defect 3: a main config that cannot be written must not lose the drop-in it imports."""
    run({"engine": "containerd", "config_path": str(etc)})
    dropin = etc.parent / "conf.d" / "99-nvidia.toml"
    before = tree(etc.parent)
    unwritable.add(str(etc))
    result = run({"engine": "containerd", "config_path": str(etc), "state": "absent", "backup": True},
                 expect=FailJson)
    assert dropin.exists()
    assert tree(etc.parent) == dict(before, **{k: v for k, v in tree(etc.parent).items() if k.endswith("~")})
    assert result["changed"] is False and result["files"] == []
    assert str(etc) in result["msg"] and "nothing was changed" in result["msg"]
    assert "Device or resource busy" in result["msg"]
    # the same call works once the file can be written, and takes the import away first
    unwritable.clear()
    done = run({"engine": "containerd", "config_path": str(etc), "state": "absent"})
    assert [c["path"] for c in done["runtime_config"]["changes"]] == [str(etc), str(dropin)]
    assert not dropin.exists()


def test_a_failed_write_names_the_files_already_changed(etc, unwritable):
    """state=present writes the drop-in, then the import; if the import fails, say the drop-in was written."""
    dropin = etc.parent / "conf.d" / "99-nvidia.toml"
    unwritable.add(str(etc))
    result = run({"engine": "containerd", "config_path": str(etc), "backup": True}, expect=FailJson)
    assert result["changed"] is True
    assert result["files"] == [str(dropin)] and result["created_files"] == [str(dropin)]
    assert "already changed: %s (create)" % dropin in result["msg"]
    assert list(result["backups"]) == [str(etc)]  # made before the first write
    assert "backups: %s -> " % etc in result["msg"]


def test_record_lists_each_change_until_cleared(etc, tmp_path):
    record = tmp_path / "state" / "gpu_runtime.json"
    original = etc.read_text()
    run({"engine": "containerd", "config_path": str(etc), "record": str(record), "backup": True})
    data = json.loads(record.read_text())
    dropin = str(etc.parent / "conf.d" / "99-nvidia.toml")
    entries = {entry["path"]: entry for entry in data["pending"]}
    assert entries[dropin] == {"path": dropin, "created": True, "backup": None}
    with open(entries[str(etc)]["backup"]) as handle:
        assert handle.read() == original
    # a second change keeps the first (older) backup of the main config
    run({"engine": "containerd", "config_path": str(etc), "record": str(record), "backup": True, "cdi": True})
    again = {entry["path"]: entry for entry in json.loads(record.read_text())["pending"]}
    assert again == entries


@pytest.mark.parametrize("option,value", [("runtime_name", "nvi\ndia"), ("runtime_path", "/usr/bin/nvidia\x00x"),
                                          ("runtime_path", "/usr/bin/nv\tidia"), ("config_path", "/etc/containerd/c\n.toml")])
def test_control_characters_are_refused_with_a_clear_message(etc, option, value):
    """Issue 14 defect 6: before, a newline in runtime_name ended in an uncaught TOML error."""
    args = {"engine": "containerd", "config_path": str(etc)}
    args[option] = value
    before = tree(etc.parent)
    result = run(args, expect=FailJson)
    assert result["msg"].startswith("%s must not contain control characters" % option)
    assert tree(etc.parent) == before
