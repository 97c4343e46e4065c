# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Doctor v2 checks made on the controller for a node: toolkit_version against the version
matrix's known-bad list (meta/version_matrix.yml itself, no copy), and the windows_host layer of a
WSL 2 node from what the role read on its Windows host (.wslconfig bytes as slurp returns them,
the keep-alive task as community.windows.win_scheduled_task_stat returns it). The same against
lab nodes and the Windows stand-in: molecule/doctor_v2_wsl_k3s_windows."""

from __future__ import annotations

import base64
import copy
import json
import os

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _doctor as node_doctor
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _doctor_cluster as doctor
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _versions
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.test__doctor import (
    by_id,
    healthy_probe,
)

SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "doctor-report.schema.json")
TASK = "homelab.gpu_node WSL keep-alive k3s-gpu-node"
WSLCONFIG = "C:\\Users\\gamer\\.wslconfig"


def matrix_entry():
    return copy.deepcopy(_versions.component("nvidia_container_toolkit"))


def result_with_toolkit(smi_capture, version, source="dpkg nvidia-container-toolkit", wsl=False):
    probe = healthy_probe(smi_capture, wsl=wsl)
    probe["toolkit"] = {"version": version, "package_version": version and version + "-1", "source": source,
                        "searched": ["dpkg"]}
    return dict(node_doctor.diagnose_node(probe), changed=False)


@pytest.mark.parametrize("version, ids", [
    ("1.19.1", ["NVIDIA/nvidia-container-toolkit#1967"]),
    ("1.18.0", ["NVIDIA/nvidia-container-toolkit#1404", "NVIDIA/nvidia-container-toolkit#1555"]),
    ("1.17.7", ["CVE-2025-23266"]),
], ids=["1.19.1", "1.18.0", "1.17.7"])
def test_known_bad_toolkit_names_release_issue_and_the_pinned_fix(smi_capture, version, ids):
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, version), matrix_entry())
    pinned = _versions.pin("nvidia_container_toolkit")
    assert item["status"] == "fail"
    assert item["detail"].startswith("nvidia-container-toolkit %s (dpkg nvidia-container-toolkit) is on the known-bad "
                                     "list: " % version)
    for issue in ids:
        assert issue in item["detail"]
    assert "gpu_runtime_toolkit_version: %s" % pinned in item["fix"]
    assert "nvidia-container-toolkit=%s-1" % pinned in item["fix"]
    for bad in matrix_entry()["known_bad"]:
        assert (bad["url"] in item["fix"]) == (bad["id"] in ids)


def test_known_bad_release_and_why_come_from_the_matrix(smi_capture):
    entry = matrix_entry()
    entry["known_bad"] = [{"id": "example/toolkit#1", "versions": ["1.20.0"], "url": "https://example.invalid/1",
                           "why": "a regression named only here"}]
    entry["version"] = "1.20.1"
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, "1.20.0"), entry)
    assert item["status"] == "fail"
    assert "example/toolkit#1 (release 1.20.0): a regression named only here" in item["detail"]
    assert "gpu_runtime_toolkit_version: 1.20.1" in item["fix"]


def test_good_accepted_and_unknown_toolkit(smi_capture):
    pinned = _versions.pin("nvidia_container_toolkit")
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, pinned), matrix_entry())
    assert (item["status"], item["detail"]) == ("pass", "nvidia-container-toolkit %s (dpkg nvidia-container-toolkit): "
                                                        "the version matrix's pin" % pinned)
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, "1.19.0"), matrix_entry())
    assert item["status"] == "pass" and "not on the known-bad list; the version matrix pins %s" % pinned in item["detail"]
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, "1.19.1"), matrix_entry(),
                                        ["NVIDIA/nvidia-container-toolkit#1967"])
    assert item["status"] == "pass" and "accepted with gpu_runtime_toolkit_accept_known_bad" in item["detail"]
    item = doctor.check_toolkit_version(result_with_toolkit(smi_capture, None), matrix_entry())
    assert item["status"] == "skip" and "version unknown" in item["detail"]


# --------------------------------------------------------------------------- Windows host

def slurped(text, bom=False):
    data = text.encode("utf-8")
    return {"changed": False, "content": base64.b64encode((b"\xef\xbb\xbf" if bom else b"") + data).decode(),
            "encoding": "base64", "source": WSLCONFIG}


GOOD_WSLCONFIG = ("[wsl2]\r\nmemory=32GB\r\nnetworkingMode=bridged\r\nvmSwitch=WSLBridge\r\n"
                  "vmIdleTimeout=-1\r\n\r\n[experimental]\r\nhostAddressLoopback=true\r\n")


def task_stat(exists=True, enabled=True, limit="PT0S", triggers=("TASK_TRIGGER_LOGON",),
              logon="TASK_LOGON_INTERACTIVE_TOKEN"):
    """community.windows.win_scheduled_task_stat's answer (the shape its RETURN documents)."""
    if not exists:
        return {"changed": False, "folder_exists": True, "folder_task_count": 0, "folder_task_names": [],
                "task_exists": False}
    return {"changed": False, "folder_exists": True, "task_exists": True,
            "actions": [{"Type": "TASK_ACTION_EXEC", "Path": "C:\\Windows\\System32\\conhost.exe",
                         "Arguments": "--headless C:\\Windows\\System32\\wsl.exe --distribution k3s-gpu-node "
                                      "--exec /bin/sleep infinity"}],
            "principal": {"logon_type": logon, "user_id": "GAMING-PC\\gamer", "run_level": "TASK_RUNLEVEL_LUA"},
            "settings": {"enabled": enabled, "execution_time_limit": limit},
            "state": {"status": "TASK_STATE_RUNNING"},
            "triggers": [{"type": t, "enabled": True} for t in triggers]}


def windows_raw(slurp=None, task=None, expected=None, **extra):
    raw = {"host": "gaming-desktop", "unreachable": False, "failed": False, "msg": "", "wslconfig_path": WSLCONFIG,
           "slurp": slurp if slurp is not None else slurped(GOOD_WSLCONFIG), "task_name": TASK,
           "task": task if task is not None else task_stat(), "distro": "k3s-gpu-node", "user": "gamer",
           "expected": expected or {"networking_mode": "bridged", "keepalive_at_boot": False}}
    raw.update(extra)
    return raw


def windows_rows(**kwargs):
    checks, facts = doctor.windows_host_checks(doctor.windows_input(windows_raw(**kwargs)))
    return dict((c["id"], c) for c in checks), facts


def test_healthy_windows_host():
    rows, facts = windows_rows()
    assert [r["status"] for r in rows.values()] == ["pass"] * 4
    assert list(rows) == list(doctor.WINDOWS_CHECK_IDS)
    assert "bridged on Hyper-V switch WSLBridge" in rows["wslconfig_networking"]["detail"]
    assert "starts at logon of GAMING-PC\\gamer" in rows["wsl_keepalive"]["detail"]
    assert facts == {"host": "gaming-desktop", "read": True, "wslconfig": WSLCONFIG, "networking_mode": "bridged",
                     "vm_idle_timeout": "-1", "keepalive_task": TASK}


@pytest.mark.parametrize("text, detail", [
    ("[wsl2]\nmemory=32GB\nnetworkingMode=bridged\nvmSwitch=WSLBridge\n", "sets no [wsl2] vmIdleTimeout: WSL's default "
     "(60000 ms) shuts the VM, and the k3s node in it, down"),
    ("[wsl2]\nvmIdleTimeout=60000 # one minute\nnetworkingMode=bridged\nvmSwitch=WSLBridge\n",
     "vmIdleTimeout=60000: WSL shuts the VM, and the k3s node in it, down 60 s after its last process ends"),
], ids=["unset", "60s"])
def test_idle_timeout_not_minus_one(text, detail):
    rows, dummy = windows_rows(slurp=slurped(text, bom=True))
    assert rows["wsl_idle_timeout"]["status"] == "fail"
    assert detail in rows["wsl_idle_timeout"]["detail"]
    assert rows["wsl_idle_timeout"]["fix"].startswith("set vmIdleTimeout=-1 under [wsl2] in %s" % WSLCONFIG)
    assert "wsl --shutdown" in rows["wsl_idle_timeout"]["fix"]


def test_no_wslconfig_at_all():
    rows, dummy = windows_rows(slurp={"failed": True, "msg": "Path C:\\Users\\gamer\\.wslconfig is not found"})
    assert rows["wsl_idle_timeout"]["detail"].startswith("%s does not exist: WSL's default" % WSLCONFIG)
    assert rows["wslconfig_networking"]["status"] == "fail"
    assert "no networkingMode (WSL's default, nat)" in rows["wslconfig_networking"]["detail"]


@pytest.mark.parametrize("task, detail, fix", [
    (task_stat(exists=False), "no scheduled task '%s' on gaming-desktop: nothing starts k3s-gpu-node" % TASK,
     "run playbooks/windows_host.yml (windows_host_keepalive: true)"),
    (task_stat(enabled=False), "the task is disabled", "Enable-ScheduledTask -TaskName '%s'" % TASK),
    (task_stat(limit="PT72H"), "ExecutionTimeLimit PT72H: Task Scheduler ends the keep-alive after 72 h and the WSL VM "
     "shuts down (microsoft/WSL#10708)", "ExecutionTimeLimit to PT0S"),
], ids=["missing", "disabled", "72h"])
def test_keepalive_task_broken(task, detail, fix):
    rows, dummy = windows_rows(task=task)
    assert rows["wsl_keepalive"]["status"] == "fail"
    assert detail in rows["wsl_keepalive"]["detail"]
    assert fix in rows["wsl_keepalive"]["fix"]


def test_keepalive_at_boot_when_asked():
    expected = {"networking_mode": "bridged", "keepalive_at_boot": True}
    rows, dummy = windows_rows(expected=expected)
    assert rows["wsl_keepalive"]["status"] == "fail"
    assert "not started at boot without a logged-on user" in rows["wsl_keepalive"]["detail"]
    assert "windows_host_keepalive_at_boot: true" in rows["wsl_keepalive"]["fix"]
    rows, dummy = windows_rows(expected=expected, task=task_stat(triggers=("TASK_TRIGGER_LOGON", "TASK_TRIGGER_BOOT"),
                                                                 logon="TASK_LOGON_S4U"))
    assert rows["wsl_keepalive"]["status"] == "pass" and "from boot (TASK_LOGON_S4U)" in rows["wsl_keepalive"]["detail"]


@pytest.mark.parametrize("text, expected, status, detail", [
    ("[wsl2]\nvmIdleTimeout=-1\n", None, "fail", "no networkingMode (WSL's default, nat): the node sits behind"),
    ("[wsl2]\nvmIdleTimeout=-1\nnetworkingMode=mirrored\n", None, "pass", "flannel VXLAN do not pass"),
    ("[wsl2]\nvmIdleTimeout=-1\nnetworkingMode=bridged\n", None, "fail", "bridged without vmSwitch"),
    ("[wsl2]\nvmIdleTimeout=-1\nnetworkingMode=mirrored\n", "bridged", "fail",
     "networkingMode=mirrored, but windows_host_networking_mode is bridged"),
    ("[wsl2]\nvmIdleTimeout=-1\n[experimental]\nnetworkingMode=mirrored\n", "mirrored", "pass", "mirrored"),
], ids=["nat", "mirrored", "bridged-no-switch", "not-what-the-role-wrote", "old-name"])
def test_networking_mode(text, expected, status, detail):
    rows, facts = windows_rows(slurp=slurped(text), expected={"networking_mode": expected})
    assert rows["wslconfig_networking"]["status"] == status
    assert detail in rows["wslconfig_networking"]["detail"]


def test_unreachable_windows_host_is_not_checked_and_unparsable_wslconfig_fails():
    rows, facts = windows_rows(slurp={"unreachable": True, "msg": "winrm: connection refused"})
    assert rows["windows_host"]["status"] == "fail" and "unreachable: winrm: connection refused" in rows["windows_host"]["detail"]
    assert [rows[i]["status"] for i in doctor.WINDOWS_CHECK_IDS[1:]] == ["skip"] * 3
    rows, facts = windows_rows(slurp={"content": base64.b64encode(b"\xfe\xffx").decode()})
    assert rows["wsl_idle_timeout"]["status"] == "fail" and "big-endian" in rows["wsl_idle_timeout"]["detail"]


# --------------------------------------------------------------------------- in the report

def test_report_layers_order_schema_and_exit_codes(smi_capture):
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA) as handle:
        schema = json.load(handle)
    inputs = [{"host": "wsl-gpu-node", "names": [], "result": result_with_toolkit(smi_capture, "1.19.1", wsl=True),
               "windows": doctor.windows_input(windows_raw(task=task_stat(limit="PT72H")))},
              {"host": "a2-node", "names": [], "result": result_with_toolkit(smi_capture, "1.20.0")},
              {"host": "wsl-lone", "names": [], "result": result_with_toolkit(smi_capture, "1.20.0", wsl=True)}]
    options = {"runtime_class": "nvidia", "cluster": "never", "parse_yaml": yaml.safe_load,
               "toolkit_matrix": matrix_entry()}
    rep = doctor.build_report(inputs, {}, options)
    jsonschema.validate(json.loads(json.dumps(rep)), schema)
    wsl = rep["nodes"]["wsl-gpu-node"]
    ids = [c["id"] for c in wsl["checks"]]
    assert ids[:4] == list(doctor.WINDOWS_CHECK_IDS)
    assert ids[ids.index("container_runtime") + 1] == "toolkit_version"
    layers = dict((c["id"], c["layer"]) for c in wsl["checks"])
    assert set(layers[i] for i in doctor.WINDOWS_CHECK_IDS) == {"windows_host"}
    assert layers["toolkit_version"] == "toolkit" and "other" not in layers.values()
    assert wsl["windows"]["networking_mode"] == "bridged"
    assert (rep["status"], rep["exit_code"]) == ("problems", 1)
    assert "wsl-gpu-node: wsl_keepalive: scheduled task" in "\n".join(rep["problems"])
    assert "wsl-gpu-node: toolkit_version: nvidia-container-toolkit 1.19.1" in "\n".join(rep["problems"])
    # a bare-metal node has no Windows rows; a WSL node without wsl_windows_host says why in one row
    assert "windows_host" not in [c["id"] for c in rep["nodes"]["a2-node"]["checks"]]
    lone = by_id(rep["nodes"]["wsl-lone"]["checks"], "windows_host")
    assert lone["status"] == "skip" and "set wsl_windows_host" in lone["detail"]
    # the Windows host cannot be reached: could not check (exit 2)
    inputs[0]["windows"] = doctor.windows_input(windows_raw(slurp={"unreachable": True, "msg": "timed out"}))
    rep = doctor.build_report(inputs, {}, options)
    jsonschema.validate(json.loads(json.dumps(rep)), schema)
    assert (rep["status"], rep["exit_code"]) == ("not_checked", 2)
    assert rep["not_checked"] == ["wsl-gpu-node: Windows host gaming-desktop unreachable: timed out"]
    # without the matrix (an older caller) there is no toolkit_version row
    del options["toolkit_matrix"]
    rep = doctor.build_report(inputs[1:2], {}, options)
    assert "toolkit_version" not in [c["id"] for c in rep["nodes"]["a2-node"]["checks"]]


def test_every_check_id_has_a_layer():
    ids = node_doctor.NODE_CHECK_IDS + doctor.CONTROLLER_NODE_CHECK_IDS + doctor.CLUSTER_NODE_CHECK_IDS \
        + doctor.CLUSTER_CHECK_IDS + ("doctor_module",)
    layers = dict((check_id, layer) for layer, members in doctor.LAYERS for check_id in members)
    assert [i for i in ids if i not in layers] == []
    assert [layer for layer, dummy in doctor.LAYERS][0] == "windows_host"
