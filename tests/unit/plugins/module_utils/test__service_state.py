# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_service_state: systemctl show parsing, start time, files changed after the start."""

from __future__ import annotations

import os

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _service_state as svc

SHOW = ("Id=containerd.service\nLoadState=loaded\nActiveState=active\nSubState=running\nUnitFileState=enabled\n"
        "ExecMainStartTimestampMonotonic=5000000\nActiveEnterTimestampMonotonic=6000000\n")


def test_start_time_uses_main_start_on_the_monotonic_clock():
    service = svc.pick_service(svc.parse_systemctl_show(SHOW), now_wall=1000.0, now_monotonic=105.0)
    # ExecMainStart 5 s after boot, now 105 s after boot: started 100 s ago
    assert service == {"unit": "containerd.service", "active": "active", "sub": "running", "enabled": "enabled",
                       "started": 900.0}


def test_not_started_since_boot_has_no_start_time():
    text = SHOW.replace("=5000000", "=0").replace("=6000000", "=0")
    assert svc.pick_service(svc.parse_systemctl_show(text), 1000.0, 105.0)["started"] is None


def test_falls_back_to_active_enter_time():
    text = SHOW.replace("ExecMainStartTimestampMonotonic=5000000\n", "")
    assert svc.pick_service(svc.parse_systemctl_show(text), 1000.0, 105.0)["started"] == 901.0


def test_unit_not_loaded_is_none():
    assert svc.pick_service(svc.parse_systemctl_show("Id=nope.service\nLoadState=not-found\n"), 1.0, 1.0) is None


@pytest.mark.parametrize("mtimes, expect", [
    ({"/a": 899.0, "/b": 900.5}, []),               # before the start, or within the one-second slack
    ({"/a": 901.5, "/b": 850.0}, ["/a"]),           # written after the start: restart owed
    ({"/b": 950.0, "/a": 990.0, "/c": None}, ["/a", "/b"]),  # sorted; a missing file is never stale
])
def test_stale_paths(mtimes, expect):
    service = {"active": "active", "started": 900.0}
    assert svc.stale_paths(mtimes, service) == expect


@pytest.mark.parametrize("service", [
    None,
    {"active": "inactive", "started": 900.0},     # reads its files when it starts
    {"active": "failed", "started": 900.0},
    {"active": "active", "started": None},
])
def test_nothing_is_stale_without_a_running_service_with_a_start_time(service):
    assert svc.stale_paths({"/a": 5000.0}, service) == []


def test_read_service_runs_systemctl_show_for_the_unit():
    calls = []

    def run(argv):
        calls.append(argv)
        return 0, SHOW, ""

    service = svc.read_service(run, "/usr/bin/systemctl", "containerd", 1000.0, 105.0)
    assert calls == [["/usr/bin/systemctl", "show", "--property=" + ",".join(svc.SYSTEMCTL_PROPERTIES), "containerd"]]
    assert service["started"] == 900.0
    assert svc.read_service(run, None, "containerd", 1.0, 1.0) is None
    assert svc.read_service(lambda argv: (1, "", "Failed to connect to bus"), "/bin/systemctl", "x", 1.0, 1.0) is None


def test_path_state(tmp_path):
    f = tmp_path / "config.yaml"
    f.write_text("a: 1\n")
    os.chmod(str(f), 0o600)
    link = tmp_path / "link"
    link.symlink_to(f)
    state = svc.path_state(str(f))
    assert state["exists"] and state["type"] == "file" and state["mode"] == "0600" and state["size"] == 5
    assert state["mtime"] == os.stat(str(f)).st_mtime and state["uid"] == os.getuid()
    assert svc.path_state(str(tmp_path))["type"] == "directory"
    assert svc.path_state(str(link))["type"] == "link"
    assert svc.path_state(str(tmp_path / "missing")) == {"exists": False}
    assert svc.path_state(str(f / "below-a-file")) == {"exists": False}
