# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/module_utils/_doctor.py (GPU doctor, node side).

Probes built from real nvidia-smi captures (shared/fixtures/nvidia-smi), the real failure
texts of nvidia-smi, and real containerd/k3s configs (fixtures/runtime_config). The cluster
side is tested in tests/unit/plugins/plugin_utils/test__doctor_cluster.py.
"""

from __future__ import annotations

import copy
import os

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _doctor as doctor
from ansible_collections.homelab.gpu_node.plugins.module_utils import _service_state as svc
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import merge_imported, parse_toml

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "runtime_config")
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144\n"
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
             "Make sure that the latest NVIDIA driver is installed and running.\n\n")


def toml_fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return parse_toml(handle.read(), name)


def statuses(checks):
    return dict((c["id"], c["status"]) for c in checks)


def by_id(checks, check_id):
    return [c for c in checks if c["id"] == check_id][0]


# =========================================================================== node probes


def containerd_dump_with_nvidia(binary="/usr/bin/nvidia-container-runtime", default=None):
    """What `containerd config dump` shows on Debian 12 after the drop-in: 1.6.20 defaults + runtime nvidia."""
    data = toml_fixture("containerd-1.6.20-default.toml")
    ctd = data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    nvidia = copy.deepcopy(ctd["runtimes"]["runc"])
    nvidia["options"]["BinaryName"] = binary
    ctd["runtimes"]["nvidia"] = nvidia
    if default:
        ctd["default_runtime_name"] = default
    data["imports"] = ["/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]
    return data


def healthy_probe(smi_capture, wsl=False):
    view = doctor.containerd_view(containerd_dump_with_nvidia(), "containerd config dump")
    if wsl:
        smi = {"path": "/usr/lib/wsl/lib/nvidia-smi", "rc": 0, "stdout": smi_capture("netdata/rtx-4090-driver-535.xml"),
               "stderr": "", "csv": [0, "00000000:84:00.0, 8.9\n"]}
        devices = {"char": ["dxg"], "other": []}
    else:
        smi = {"path": "/usr/bin/nvidia-smi", "rc": 0, "stdout": smi_capture("netdata/rtx-4090-driver-535.xml"),
               "stderr": "", "csv": [0, "00000000:84:00.0, 8.9\n"]}
        devices = {"char": ["nvidia-modeset", "nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidiactl"],
                   "other": ["nvidia-caps"]}
    return {
        "hostname": "gpu-node",
        "wsl": wsl,
        "smi": smi,
        "devices": devices,
        "runtime_binary": "/usr/bin/nvidia-container-runtime",
        "runtime_searched": ["/usr/bin/nvidia-container-runtime", "PATH", "/usr/local/nvidia/toolkit"],
        "engine": {
            "name": "containerd", "how": "found /usr/bin/containerd", "source": "containerd config dump",
            "view": view, "binaries": {"/usr/bin/nvidia-container-runtime": True, "runc": True},
            "files": [{"path": "/etc/containerd/config.toml", "mtime": 1000.0},
                      {"path": "/etc/containerd/conf.d/99-nvidia.toml", "mtime": 1000.0}],
            "service": {"unit": "containerd.service", "active": "active", "sub": "running", "started": 2000.0},
        },
        "runtime_name": "nvidia",
        "require_default_runtime": False,
    }


def test_healthy_bare_metal_node_passes_everything(smi_capture):
    result = doctor.diagnose_node(healthy_probe(smi_capture))
    assert [c["id"] for c in result["checks"]] == list(doctor.NODE_CHECK_IDS)
    assert set(statuses(result["checks"]).values()) == {"pass"}, result["checks"]
    assert result["ok"] is True and result["summary"] == {"pass": 8, "fail": 0, "skip": 0}
    assert all(c["fix"] == "" for c in result["checks"])
    assert result["nvidia"]["gpus"][0]["compute_capability"] == "8.9"  # CSV merged
    assert result["node"] == {"hostname": "gpu-node", "wsl": False, "engine": "containerd",
                              "runtimes": ["nvidia", "runc"], "default_runtime": "runc", "toolkit": None,
                              "network": None}
    assert "driver 535.86.05, CUDA 12.2, 1 GPU: NVIDIA GeForce RTX 4090" in by_id(result["checks"], "nvidia_smi")["detail"]
    assert "GPU pods need runtimeClassName: nvidia" in by_id(result["checks"], "default_runtime")["detail"]


def test_healthy_wsl_node_uses_dxg(smi_capture):
    result = doctor.diagnose_node(healthy_probe(smi_capture, wsl=True))
    assert result["ok"], result["checks"]
    assert by_id(result["checks"], "device_nodes")["detail"].startswith("/dev/dxg present")
    assert result["nvidia"]["wsl"] is True and result["node"]["wsl"] is True


@pytest.mark.parametrize("wsl, expect", [
    (False, "install the NVIDIA driver"),
    (True, "NVIDIA driver on Windows"),
], ids=["bare-metal", "wsl"])
def test_nvidia_smi_missing(smi_capture, wsl, expect):
    probe = healthy_probe(smi_capture, wsl=wsl)
    probe["smi"] = {"path": None}
    checks = doctor.diagnose_node(probe)["checks"]
    smi = by_id(checks, "nvidia_smi")
    assert smi["status"] == "fail" and "not found" in smi["detail"] and expect in smi["fix"]
    assert by_id(checks, "driver_mismatch")["status"] == "skip"


def test_driver_library_mismatch_bare_metal(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["smi"] = {"path": "/usr/bin/nvidia-smi", "rc": 18, "stdout": MISMATCH, "stderr": ""}
    result = doctor.diagnose_node(probe)
    smi, mismatch = by_id(result["checks"], "nvidia_smi"), by_id(result["checks"], "driver_mismatch")
    assert smi["status"] == mismatch["status"] == "fail"
    assert "Driver/library version mismatch" in smi["detail"]
    assert mismatch["detail"] == "Driver/library version mismatch, NVML library 550.144"
    assert mismatch["fix"].startswith("reboot the node")
    assert result["nvidia"] is None
    # without GPU facts the device check still wants the basic nodes
    assert by_id(result["checks"], "device_nodes")["status"] == "pass"


def test_mismatch_on_wsl_means_a_linux_driver_inside_wsl(smi_capture):
    probe = healthy_probe(smi_capture, wsl=True)
    probe["smi"] = {"path": "/usr/bin/nvidia-smi", "rc": 18, "stdout": MISMATCH, "stderr": ""}
    checks = doctor.diagnose_node(probe)["checks"]
    smi = by_id(checks, "nvidia_smi")
    assert "not the Windows driver's /usr/lib/wsl/lib/nvidia-smi" in smi["detail"]
    assert "remove the Linux NVIDIA driver packages" in smi["fix"]
    assert "remove the Linux NVIDIA driver packages" in by_id(checks, "driver_mismatch")["fix"]


@pytest.mark.parametrize("wsl, expect", [
    (False, "modprobe nvidia"),
    (True, "wsl --shutdown"),
], ids=["bare-metal", "wsl"])
def test_driver_not_loaded(smi_capture, wsl, expect):
    probe = healthy_probe(smi_capture, wsl=wsl)
    probe["smi"] = {"path": probe["smi"]["path"], "rc": 9, "stdout": NO_DRIVER, "stderr": ""}
    checks = doctor.diagnose_node(probe)["checks"]
    assert expect in by_id(checks, "nvidia_smi")["fix"]
    assert by_id(checks, "driver_mismatch")["status"] == "skip"


def test_garbage_and_no_gpu(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["smi"] = {"path": "/usr/bin/nvidia-smi", "rc": 0, "stdout": "oops", "stderr": ""}
    assert "nvidia-smi -q -x" in by_id(doctor.diagnose_node(probe)["checks"], "nvidia_smi")["fix"]
    probe["smi"] = {"path": None, "error": "nvidia_smi_path=/nope does not exist or is not an executable file."}
    assert "/nope" in by_id(doctor.diagnose_node(probe)["checks"], "nvidia_smi")["detail"]


@pytest.mark.parametrize("wsl, devices, detail, fix", [
    (True, {"char": [], "other": []}, "/dev/dxg missing", "wsl --update"),
    (True, {"char": [], "other": ["dxg"]}, "not a character device", "wsl --update"),
    (False, {"char": ["nvidia0", "nvidiactl"], "other": []}, "/dev/nvidia-uvm missing", "nvidia-modprobe -u -c=0"),
    (False, {"char": ["nvidia-uvm"], "other": []}, "missing: /dev/nvidiactl, /dev/nvidia0", "modprobe nvidia"),
    (False, {"char": ["nvidia-uvm", "nvidia0"], "other": ["nvidiactl"]}, "not character devices: /dev/nvidiactl",
     "modprobe nvidia"),
], ids=["wsl-no-dxg", "wsl-dxg-file", "no-uvm", "no-driver-nodes", "regular-file"])
def test_device_nodes(smi_capture, wsl, devices, detail, fix):
    probe = healthy_probe(smi_capture, wsl=wsl)
    probe["devices"] = devices
    item = by_id(doctor.diagnose_node(probe)["checks"], "device_nodes")
    assert item["status"] == "fail" and detail in item["detail"] and fix in item["fix"]


def test_fewer_device_nodes_than_gpus(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["smi"]["stdout"] = smi_capture("pai/nvidia_smi_sample.xml")  # 2 GPUs
    probe["smi"].pop("csv")
    item = by_id(doctor.diagnose_node(probe)["checks"], "device_nodes")
    assert item["status"] == "fail" and item["detail"] == "missing: /dev/nvidia1"


def test_runtime_binary_missing(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["runtime_binary"] = None
    item = by_id(doctor.diagnose_node(probe)["checks"], "container_runtime")
    assert item["status"] == "fail" and "nvidia-container-toolkit" in item["fix"]
    assert "/usr/local/nvidia/toolkit" in item["detail"]


def test_containerd_without_nvidia_runtime(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["engine"]["view"] = doctor.containerd_view(toml_fixture("containerd-1.6.20-default.toml"), "containerd config dump")
    result = doctor.diagnose_node(probe)
    item = by_id(result["checks"], "engine_runtime")
    assert item["status"] == "fail"
    assert item["detail"] == "no runtime nvidia in containerd via containerd config dump (runtimes: runc)"
    assert "containerd_nvidia_runtime engine=containerd" in item["fix"] and "systemctl restart containerd" in item["fix"]
    assert result["node"]["runtimes"] == ["runc"]


def test_k3s_without_nvidia_runtime_says_restart_k3s(smi_capture):
    data = toml_fixture("k3s-v2-generated-config.toml")
    del data["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]
    probe = healthy_probe(smi_capture)
    probe["engine"].update(name="k3s", source=doctor.K3S_CONFIG, view=doctor.containerd_view(data, doctor.K3S_CONFIG),
                           service={"unit": "k3s-agent.service", "active": "active", "started": 2000.0})
    item = by_id(doctor.diagnose_node(probe)["checks"], "engine_runtime")
    assert item["status"] == "fail"
    assert "only if nvidia-container-runtime exists when k3s starts" in item["fix"]
    assert item["fix"].endswith("systemctl restart k3s-agent")


@pytest.mark.parametrize("fixture, version, systemd", [
    ("k3s-v2-generated-config.toml", 2, False),
    ("k3s-v3-generated-config.toml", 3, True),
], ids=["v2", "v3"])
def test_k3s_generated_configs_have_nvidia(fixture, version, systemd):
    view = doctor.containerd_view(toml_fixture(fixture), doctor.K3S_CONFIG)
    assert view["version"] == version
    assert view["runtimes"]["nvidia"] == {"type": "io.containerd.runc.v2", "binary": "/usr/bin/nvidia-container-runtime",
                                          "systemd_cgroup": systemd}


def test_containerd_v3_default_config():
    view = doctor.containerd_view(toml_fixture("containerd-2.1.9-default.toml"), "dump")
    assert view["version"] == 3 and view["default"] == "runc" and sorted(view["runtimes"]) == ["runc"]


def test_merge_containerd_v2_replaces_plugin_sections_v3_merges_keys():
    main = toml_fixture("k3s-v2-generated-config.toml")
    dropin = {"version": 2, "plugins": {"io.containerd.grpc.v1.cri": {"containerd": {"default_runtime_name": "nvidia"}}}}
    merged = merge_imported(main, [dropin])
    # containerd 1.x: the drop-in's CRI section replaces the generated one, runtimes are gone
    assert doctor.containerd_view(merged, "x")["runtimes"] == {}
    main3 = toml_fixture("k3s-v3-generated-config-imports.toml")
    dropin3 = {"version": 3, "plugins": {"io.containerd.cri.v1.runtime": {"containerd": {"default_runtime_name": "nvidia"}}}}
    view = doctor.containerd_view(merge_imported(main3, [dropin3]), "x")
    assert view["default"] == "nvidia" and "nvidia" in view["runtimes"]


def test_runtime_without_binaryname_or_binary(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["engine"]["view"]["runtimes"]["nvidia"]["binary"] = None
    assert "has no BinaryName" in by_id(doctor.diagnose_node(probe)["checks"], "engine_runtime")["detail"]
    probe = healthy_probe(smi_capture)
    probe["engine"]["binaries"]["/usr/bin/nvidia-container-runtime"] = False
    item = by_id(doctor.diagnose_node(probe)["checks"], "engine_runtime")
    assert item["status"] == "fail" and "not an executable file" in item["detail"]


@pytest.mark.parametrize("engine, status, detail", [
    ({"name": None, "how": "no containerd, k3s, MicroK8s or Docker found"}, "skip", "no containerd"),
    ({"name": "containerd", "error": "Python 3.9.18 has no tomllib", "error_kind": "toml"}, "skip", "tomllib"),
    ({"name": "k3s", "source": doctor.K3S_CONFIG, "error": "missing", "error_kind": "missing"}, "fail", "k3s has not"),
    ({"name": "containerd", "source": "containerd config dump", "error_kind": "read",
      "error": "rc=1: containerd: failed to load TOML: /etc/containerd/config.toml: (52, 3): unexpected EOF"},
     "fail", "failed to load TOML"),
    ({"name": "docker", "source": "docker info", "error_kind": "read",
      "error": "rc=1: Cannot connect to the Docker daemon at unix:///var/run/docker.sock."}, "fail", "Docker daemon"),
], ids=["none", "no-toml", "k3s-not-started", "broken-toml", "docker-down"])
def test_engine_errors(smi_capture, engine, status, detail):
    probe = healthy_probe(smi_capture)
    probe["engine"] = engine
    checks = doctor.diagnose_node(probe)["checks"]
    item = by_id(checks, "engine_runtime")
    assert item["status"] == status and detail in item["detail"]
    assert by_id(checks, "default_runtime")["status"] == "skip"
    if engine["name"] == "docker":
        assert "systemctl start docker" in item["fix"]


def test_engine_running(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["engine"]["files"][1]["mtime"] = 2600.0
    item = by_id(doctor.diagnose_node(probe)["checks"], "engine_running")
    assert item["status"] == "fail" and "/etc/containerd/conf.d/99-nvidia.toml changed after" in item["detail"]
    assert item["fix"] == "systemctl restart containerd"
    probe["engine"]["service"] = {"unit": "containerd.service", "active": "failed", "sub": "failed", "started": None}
    item = by_id(doctor.diagnose_node(probe)["checks"], "engine_running")
    assert item["detail"] == "containerd.service is failed (failed)" and "journalctl -u containerd.service" in item["fix"]
    probe["engine"]["service"] = None
    assert by_id(doctor.diagnose_node(probe)["checks"], "engine_running")["status"] == "skip"


def test_default_runtime(smi_capture):
    probe = healthy_probe(smi_capture)
    probe["engine"]["view"] = doctor.containerd_view(containerd_dump_with_nvidia(default="nvidia"), "dump")
    assert "every pod gets the NVIDIA runtime" in by_id(doctor.diagnose_node(probe)["checks"], "default_runtime")["detail"]
    probe = healthy_probe(smi_capture)
    probe["require_default_runtime"] = True
    item = by_id(doctor.diagnose_node(probe)["checks"], "default_runtime")
    assert item["status"] == "fail" and "set_as_default=true" in item["fix"]
    probe["engine"]["name"] = "k3s"
    assert "default-runtime: nvidia" in by_id(doctor.diagnose_node(probe)["checks"], "default_runtime")["fix"]
    probe = healthy_probe(smi_capture)
    probe["engine"]["view"] = doctor.containerd_view(containerd_dump_with_nvidia(default="nvidia-cdi"), "dump")
    item = by_id(doctor.diagnose_node(probe)["checks"], "default_runtime")
    assert item["status"] == "fail" and "default runtime nvidia-cdi is not defined" in item["detail"]


def test_docker_view():
    info = {"Runtimes": {"io.containerd.runc.v2": {"path": "runc"}, "nvidia": {"path": "nvidia-container-runtime"},
                         "runc": {"path": "runc"}}, "DefaultRuntime": "runc", "ServerVersion": "27.5.1"}
    view = doctor.docker_view(info)
    assert view["runtimes"]["nvidia"]["binary"] == "nvidia-container-runtime" and view["default"] == "runc"


def test_systemctl_show_and_start_time():
    out = ("Id=k3s.service\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n"
           "ExecMainStartTimestampMonotonic=0\n\n"
           "Id=k3s-agent.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
           "ExecMainStartTimestampMonotonic=5000000\nActiveEnterTimestampMonotonic=6000000\n")
    units = svc.parse_systemctl_show(out)
    assert [u["Id"] for u in units] == ["k3s.service", "k3s-agent.service"]
    service = svc.pick_service(units, now_wall=100000.0, now_monotonic=105.0)
    # started 100 s before "now" on the monotonic clock
    assert service == {"unit": "k3s-agent.service", "active": "active", "sub": "running", "enabled": "", "started": 99900.0}
    assert svc.pick_service(units[:1], 1.0, 1.0) is None


@pytest.mark.parametrize("kwargs, expect", [
    ({"requested": "docker"}, "docker"),
    ({"requested": "none", "containerd_binary": "/usr/bin/containerd"}, None),
    ({"requested": "auto", "k3s_config_exists": True, "containerd_binary": "/usr/bin/containerd"}, "k3s"),
    ({"requested": "auto", "microk8s": True, "docker_binary": "/usr/bin/docker"}, "microk8s"),
    ({"requested": "auto", "containerd_binary": "/usr/bin/containerd", "docker_binary": "/usr/bin/docker"}, "containerd"),
    ({"requested": "auto", "docker_binary": "/usr/bin/docker"}, "docker"),
    ({"requested": "auto"}, None),
], ids=["explicit", "none", "k3s-first", "microk8s", "containerd-over-docker", "docker", "nothing"])
def test_choose_engine(kwargs, expect):
    assert doctor.choose_engine(**kwargs)[0] == expect


def test_engine_files():
    view = {"files": ["/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]}
    assert doctor.engine_files("containerd", view) == view["files"]
    assert doctor.engine_files("containerd", None) == ["/etc/containerd/config.toml"]
    assert "/etc/rancher/k3s/config.yaml" in doctor.engine_files("k3s", None)


# =========================================================================== doctor v2 (user pain points)


def test_wsl_without_windows_nvml(smi_capture):
    """WSL 2 with /dev/dxg but without the Windows driver's libnvidia-ml.so.1 (users' 'NVML not found')."""
    probe = healthy_probe(smi_capture, wsl=True)
    probe["devices"]["wsl_nvml"] = False
    item = by_id(doctor.diagnose_node(probe)["checks"], "device_nodes")
    assert item["status"] == "fail"
    assert item["detail"] == ("/usr/lib/wsl/lib/libnvidia-ml.so.1 missing (the Windows driver's NVML, which nvidia-smi "
                              "and the device plugin load)")
    assert "wsl --update" in item["fix"]
    probe["devices"] = {"char": [], "other": [], "wsl_nvml": False}
    assert by_id(doctor.diagnose_node(probe)["checks"], "device_nodes")["detail"].startswith("/dev/dxg missing; ")
    probe["devices"] = {"char": ["dxg"], "other": [], "wsl_nvml": True}
    item = by_id(doctor.diagnose_node(probe)["checks"], "device_nodes")
    assert (item["status"], item["detail"]) == ("pass", "/dev/dxg present (WSL 2 GPU paravirtualisation), "
                                                        "/usr/lib/wsl/lib/libnvidia-ml.so.1 present")


def k3s_probe_without_nvidia(smi_capture, started, installed):
    probe = healthy_probe(smi_capture)
    data = toml_fixture("k3s-v3-generated-config.toml")
    view = doctor.containerd_view(data, doctor.K3S_CONFIG)
    view["runtimes"].pop("nvidia", None)
    probe["engine"].update(name="k3s", source=doctor.K3S_CONFIG, view=view,
                           service={"unit": "k3s-agent.service", "active": "active", "sub": "running", "started": started})
    probe["runtime_binary_mtime"] = installed
    return probe


def test_k3s_started_before_the_toolkit(smi_capture):
    """k3s writes its containerd config at start with runtime nvidia only when the toolkit is there."""
    item = by_id(doctor.diagnose_node(k3s_probe_without_nvidia(smi_capture, 1000.0, 2000.0))["checks"], "engine_runtime")
    assert item["status"] == "fail"
    assert ("k3s-agent.service started 1970-01-01 00:16:40Z, before /usr/bin/nvidia-container-runtime was installed "
            "(1970-01-01 00:33:20Z)") in item["detail"]
    assert item["fix"].startswith("systemctl restart k3s-agent: k3s looks for nvidia-container-runtime at every start")
    # the toolkit was there before k3s started: another cause, the general advice
    item = by_id(doctor.diagnose_node(k3s_probe_without_nvidia(smi_capture, 3000.0, 2000.0))["checks"], "engine_runtime")
    assert "before" not in item["detail"]
    assert item["fix"].startswith("k3s registers runtime nvidia only if nvidia-container-runtime exists")


@pytest.mark.parametrize("systemd, cdi, links, wsl, status, text", [
    (False, False, {}, False, "pass", "cgroupfs driver"),
    (True, True, {}, False, "pass", "CDI is enabled"),
    (True, False, {"nvidia0": True, "nvidiactl": True, "nvidia-uvm": True}, False, "pass", "/dev/char links"),
    (True, False, {"nvidia0": True, "nvidiactl": False, "nvidia-uvm": False}, False, "fail",
     "/dev/char has no link to /dev/nvidia-uvm, /dev/nvidiactl: after 'systemctl daemon-reload' running GPU containers "
     "lose the GPU ('Failed to initialize NVML: Unknown Error')"),
    (True, False, {}, True, "skip", "WSL 2"),
], ids=["cgroupfs", "cdi", "links", "no-links", "wsl"])
def test_nvml_unknown_error_after_daemon_reload(smi_capture, systemd, cdi, links, wsl, status, text):
    probe = healthy_probe(smi_capture, wsl=wsl)
    probe["engine"]["view"]["runtimes"]["nvidia"]["systemd_cgroup"] = systemd
    probe["engine"]["view"]["cdi"] = cdi
    probe["devices"]["char_links"] = links
    item = by_id(doctor.diagnose_node(probe)["checks"], "daemon_reload")
    assert item["status"] == status
    assert text in item["detail"]
    if status == "fail":
        assert "CDI" in item["fix"] and "nvidia-ctk system create-dev-char-symlinks" in item["fix"]


def test_containerd_view_reads_the_cgroup_driver():
    view = doctor.containerd_view(containerd_dump_with_nvidia(), "x")
    dump = containerd_dump_with_nvidia()
    options = dump["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["nvidia"]["options"]
    assert view["runtimes"]["nvidia"]["systemd_cgroup"] is bool(options.get("SystemdCgroup"))
    options["SystemdCgroup"] = True
    assert doctor.containerd_view(dump, "x")["runtimes"]["nvidia"]["systemd_cgroup"] is True
    assert doctor.docker_view({"Runtimes": {"nvidia": {"path": "x"}}, "CgroupDriver": "systemd"})[
        "runtimes"]["nvidia"]["systemd_cgroup"] is True


# =========================================================================== node network probes (issue 20)


@pytest.mark.parametrize("text, expect", [
    ('server: https://192.168.10.2:6443\nnode-ip: "192.168.10.35"\ntoken-file: /etc/rancher/k3s/agent-token\n',
     (["192.168.10.35"], False)),
    ("node-ip: 192.168.10.35,fd00::35  # dual stack\n", (["192.168.10.35", "fd00::35"], False)),
    ("node-ip:\n  - 192.168.10.35\n  # v6 too\n  - 'fd00::35'\nnode-name: wsl\n", (["192.168.10.35", "fd00::35"], False)),
    ("node-ip: [192.168.10.35, \"fd00::35\"]\n", (["192.168.10.35", "fd00::35"], False)),
    ("node-ip+: 10.0.0.9\n", (["10.0.0.9"], True)),
    ("node-external-ip: 1.2.3.4\n  node-ip: 5.6.7.8\n", ([], False)),
    ("", ([], False)),
])
def test_k3s_config_node_ips(text, expect):
    assert doctor.k3s_config_node_ips(text) == expect


def test_configured_node_ips_drop_ins_and_unit_flag():
    configs = [("/etc/rancher/k3s/config.yaml", "node-ip: 192.168.10.35\n"),
               ("/etc/rancher/k3s/config.yaml.d/10-v6.yaml", "node-ip+: fd00::35\n")]
    assert doctor.configured_node_ips(configs) == (["192.168.10.35", "fd00::35"], "/etc/rancher/k3s/config.yaml.d/10-v6.yaml")
    configs.append(("/etc/rancher/k3s/config.yaml.d/20-new.yaml", "node-ip: 192.168.10.40\n"))
    assert doctor.configured_node_ips(configs)[0] == ["192.168.10.40"]
    unit = ("ExecStart=/usr/local/bin/k3s \\\n    agent \\\n\t'--node-ip' \\\n\t'192.168.10.50' \\\n")
    assert doctor.configured_node_ips(configs, [("/etc/systemd/system/k3s-agent.service", unit)]) == (
        ["192.168.10.50"], "/etc/systemd/system/k3s-agent.service (ExecStart --node-ip)")
    assert doctor.k3s_unit_node_ips("ExecStart=/usr/local/bin/k3s agent --node-ip=10.1.1.1,fd00::1") == ["10.1.1.1", "fd00::1"]
    assert doctor.configured_node_ips([], []) == ([], None)


def test_addresses_from_proc():
    trie = ("Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 127.0.0.1\n        /32 host LOCAL\n"
            "     +-- 172.28.128.0/20 2 0 2\n        |-- 172.28.141.7\n           /32 host LOCAL\n"
            "        |-- 172.28.143.255\n           /32 link BROADCAST\n"
            "Local:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 172.28.141.7\n        /32 host LOCAL\n"
            "     |-- 10.42.0.0\n        /32 host LOCAL\n")
    assert doctor.fib_trie_addresses(trie) == ["172.28.141.7", "10.42.0.0"]
    inet6 = ("00000000000000000000000000000001 01 80 10 80       lo\n"
             "20010db8000000000000000000000035 02 40 00 00     eth0\n"
             "fe800000000000000215 bad line\n"
             "fe80000000000000021122fffe334455 02 40 20 80     eth0\n")
    assert doctor.if_inet6_addresses(inet6) == ["2001:db8::35"]


@pytest.mark.parametrize("rc, out, expect", [(0, "mirrored\n", "mirrored"), (0, "Nat\n", "nat"), (0, "bridged", "bridged"),
                                             (1, "", None), (0, "unknown option\n", None)])
def test_wsl_networking_mode(rc, out, expect):
    assert doctor.wsl_networking_mode(rc, out) == expect


def test_network_facts_in_the_node_result(smi_capture):
    probe = healthy_probe(smi_capture, wsl=True)
    probe["network"] = {"addresses": ["192.168.10.35"], "wsl_mode": "mirrored", "wsl_mode_source": "wslinfo --networking-mode",
                        "node_ip": ["192.168.10.35"], "node_ip_source": "/etc/rancher/k3s/config.yaml"}
    assert doctor.diagnose_node(probe)["node"]["network"] == dict(probe["network"], errors=[])
