# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive gpu_node_doctor.main() on a faked node.

The node is faked at its boundary: run_command answers from a table (nvidia-smi replays a
capture from shared/fixtures/nvidia-smi or prints nvidia-smi's real failure text;
`containerd config dump` prints a real containerd 1.6.20 default config plus the nvidia
runtime; systemctl and docker answer canned text), get_bin_path, /dev and the file tests are
faked too. k3s reads real files from a temporary directory. Every command is recorded, so
the tests also prove the module only runs read-only commands.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import ExitJson, FailJson

from ansible_collections.homelab.gpu_node.plugins.modules import gpu_node_doctor

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(__file__)), "module_utils", "fixtures", "runtime_config")
SMI = "/usr/bin/nvidia-smi"
WSL_SMI = "/usr/lib/wsl/lib/nvidia-smi"
RUNTIME = "/usr/bin/nvidia-container-runtime"
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144\n"
NVIDIA_DROPIN = """
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
  runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
    BinaryName = "/usr/bin/nvidia-container-runtime"
    SystemdCgroup = true
"""
SYSTEMCTL_CONTAINERD = ("Id=containerd.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
                        "ExecMainStartTimestampMonotonic=%d\nActiveEnterTimestampMonotonic=0\n")
# /proc/net/fib_trie and /proc/net/if_inet6 of a host with eth0 192.168.10.35/24 (Linux 6.1, trimmed)
FIB_TRIE = """Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
     +-- 192.168.10.0/24 2 0 2
        |-- 192.168.10.0
           /24 link UNICAST
        |-- 192.168.10.35
           /32 host LOCAL
        |-- 192.168.10.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     |-- 192.168.10.35
        /32 host LOCAL
"""
IF_INET6 = ("00000000000000000000000000000001 01 80 10 80       lo\n"
            "fd000000000000000000000000000023 02 40 00 00     eth0\n"
            "fe80000000000000021122fffe334455 02 40 20 80     eth0\n")
READ_ONLY_COMMANDS = {("wslinfo", "--networking-mode"), ("nvidia-smi", "-q"),
                      ("nvidia-smi", "--query-gpu=pci.bus_id,compute_cap"), ("containerd", "config"),
                      ("containerd", "--config"), ("systemctl", "show"), ("docker", "info"), ("dpkg-query", "-W"),
                      ("rpm", "-q"), ("nvidia-ctk", "--version")}


def fixture_text(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def dump_with_nvidia():
    text = fixture_text("containerd-1.6.20-default.toml")
    text = text.replace("imports = []", 'imports = ["/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml"]')
    return text + NVIDIA_DROPIN


class FakeNode:
    def __init__(self):
        self.bins = {"nvidia-smi": SMI, "containerd": "/usr/bin/containerd", "systemctl": "/usr/bin/systemctl",
                     "nvidia-container-runtime": RUNTIME, "runc": "/usr/sbin/runc"}
        self.executables = {SMI, RUNTIME}
        self.paths = set()
        self.dirs = set()
        self.devices = {"char": ["nvidia-uvm", "nvidia0", "nvidiactl"], "other": [],
                        "char_links": {"nvidia-uvm": True, "nvidia0": True, "nvidiactl": True}}
        self.mtimes = {"/etc/containerd/config.toml": 100.0, "/etc/containerd/conf.d/99-nvidia.toml": 100.0}
        self.replies = {}
        self.calls = []
        # files the network probe reads (/proc/net, k3s's config): path -> text
        self.files = {"/proc/net/fib_trie": FIB_TRIE, "/proc/net/if_inet6": IF_INET6}
        self.dropins = []

    def run_command(self, args, **kwargs):
        assert isinstance(args, list), args
        self.calls.append(list(args))
        key = (os.path.basename(args[0]),) + tuple(args[1:])
        if key in self.replies:
            return self.replies[key]
        if key[0] == "systemctl":
            return 0, "", ""
        return 127, "", "fake node: unexpected command %r" % (args,)

    def which(self, name, *args, **kwargs):
        return self.bins.get(name)


@pytest.fixture
def node(monkeypatch, smi_capture):
    fake = FakeNode()
    fake.replies[("nvidia-smi", "-q", "-x")] = (0, smi_capture("netdata/rtx-3060.xml"), "")
    fake.replies[("nvidia-smi", "--query-gpu=pci.bus_id,compute_cap", "--format=csv,noheader")] = (
        0, "00000000:01:00.0, 8.6\n", "")
    fake.replies[("containerd", "config", "dump")] = (0, dump_with_nvidia(), "")
    fake.replies[("systemctl", "show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,ExecMainStartTimestampMonotonic,"
                  "ActiveEnterTimestampMonotonic", "containerd.service")] = (0, SYSTEMCTL_CONTAINERD % 1, "")

    def exit_json(module, **kwargs):
        raise ExitJson(kwargs)

    def fail_json(module, **kwargs):
        raise FailJson(kwargs)

    monkeypatch.setattr(AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(AnsibleModule, "run_command", lambda module, args, **kw: fake.run_command(args, **kw))
    monkeypatch.setattr(AnsibleModule, "get_bin_path", lambda module, name, *a, **kw: fake.which(name))
    monkeypatch.setattr(gpu_node_doctor, "_is_executable", lambda path: path in fake.executables)
    monkeypatch.setattr(gpu_node_doctor, "_exists", lambda path: path in fake.paths or (
        path.startswith("/tmp") and os.path.exists(path)))
    monkeypatch.setattr(gpu_node_doctor, "_isdir", lambda path: path in fake.dirs)
    monkeypatch.setattr(gpu_node_doctor, "_kernel_release", lambda: "6.1.0-28-amd64")
    monkeypatch.setattr(gpu_node_doctor, "_hostname", lambda: "gpu-node-1")
    monkeypatch.setattr(gpu_node_doctor, "probe_devices", lambda wsl=False: fake.devices)
    monkeypatch.setattr(gpu_node_doctor, "_mtime", fake.mtimes.get)
    monkeypatch.setattr(gpu_node_doctor, "_read_if_file", lambda path, errors: fake.files.get(path))
    monkeypatch.setattr(gpu_node_doctor, "_list_dropins", lambda directory: list(fake.dropins))
    return fake


def run(args=None):
    with patch_module_args(args or {}):
        with pytest.raises((ExitJson, FailJson)) as caught:
            gpu_node_doctor.main()
    outcome = caught.value
    assert isinstance(outcome, ExitJson), outcome.result
    assert outcome.result["changed"] is False
    return outcome.result


def statuses(result):
    return dict((c["id"], c["status"]) for c in result["checks"])


def by_id(result, check_id):
    return [c for c in result["checks"] if c["id"] == check_id][0]


def assert_read_only(node):
    for call in node.calls:
        assert (os.path.basename(call[0]), call[1]) in READ_ONLY_COMMANDS, call


def test_healthy_containerd_node(node):
    result = run()
    assert set(statuses(result).values()) == {"pass"}, result["checks"]
    assert result["ok"] is True and result["summary"] == {"pass": 8, "fail": 0, "skip": 0}
    assert result["node"] == {"hostname": "gpu-node-1", "wsl": False, "engine": "containerd",
                              "runtimes": ["nvidia", "runc"], "default_runtime": "runc",
                              "toolkit": {"version": None, "package_version": None, "source": None, "searched": []},
                              "network": {"addresses": ["192.168.10.35", "fd00::23"], "node_ip": [],
                                          "node_ip_source": None, "wsl_mode": None, "wsl_mode_source": None,
                                          "errors": []}}
    assert result["nvidia"]["gpus"][0]["name"] == "NVIDIA GeForce RTX 3060 Laptop GPU"
    assert by_id(result, "engine_runtime")["detail"] == ("runtime nvidia -> /usr/bin/nvidia-container-runtime "
                                                         "(containerd via containerd config dump)")
    # the dump's imports are the files whose change needs a restart
    assert by_id(result, "engine_running")["detail"].startswith("containerd.service active since")
    assert_read_only(node)
    assert [SMI, "-q", "-x"] in node.calls and ["/usr/bin/containerd", "config", "dump"] in node.calls


def test_config_changed_after_containerd_started(node):
    node.mtimes["/etc/containerd/conf.d/99-nvidia.toml"] = 4102444800.0  # 2100-01-01, after any start
    item = by_id(run(), "engine_running")
    assert item["status"] == "fail" and "/etc/containerd/conf.d/99-nvidia.toml changed after" in item["detail"]
    assert item["fix"] == "systemctl restart containerd"


def test_missing_runtime_and_plain_containerd(node):
    node.executables.discard(RUNTIME)
    node.bins.pop("nvidia-container-runtime")
    node.replies[("containerd", "config", "dump")] = (0, fixture_text("containerd-1.6.20-default.toml"), "")
    result = run()
    assert statuses(result)["container_runtime"] == "fail"
    assert statuses(result)["engine_runtime"] == "fail"
    assert result["ok"] is False and result["node"]["runtimes"] == ["runc"]


def test_mismatch_and_config_path(node):
    node.replies[("nvidia-smi", "-q", "-x")] = (18, MISMATCH, "")
    node.replies[("containerd", "--config", "/etc/containerd/custom.toml", "config", "dump")] = (
        1, "", "containerd: failed to load TOML: /etc/containerd/custom.toml: open /etc/containerd/custom.toml: "
               "no such file or directory")
    result = run({"config_path": "/etc/containerd/custom.toml"})
    assert statuses(result)["nvidia_smi"] == "fail" and statuses(result)["driver_mismatch"] == "fail"
    assert result["nvidia"] is None
    item = by_id(result, "engine_runtime")
    assert item["status"] == "fail" and "no such file or directory" in item["detail"]
    assert not [c for c in node.calls if "--query-gpu=pci.bus_id,compute_cap" in c]


def test_wsl_node(node, smi_capture):
    node.bins.pop("nvidia-smi")
    node.executables.add(WSL_SMI)
    node.dirs.add("/usr/lib/wsl")
    node.devices = {"char": ["dxg"], "other": []}
    node.replies[("nvidia-smi", "-q", "-x")] = (0, smi_capture("netdata/rtx-4090-driver-535.xml"), "")
    result = run()
    assert result["ok"], result["checks"]
    assert result["node"]["wsl"] is True and result["nvidia"]["wsl"] is True
    assert WSL_SMI in by_id(result, "nvidia_smi")["detail"]
    assert [WSL_SMI, "-q", "-x"] in node.calls


def test_k3s_generated_config_with_imports(node, tmp_path):
    base = tmp_path / "containerd"
    (base / "config-v3.toml.d").mkdir(parents=True)
    main = fixture_text("k3s-v3-generated-config-imports.toml").replace(
        "/var/lib/rancher/k3s/agent/etc/containerd", str(base))
    (base / "config.toml").write_text(main)
    (base / "config-v3.toml.d" / "99-nvidia.toml").write_text(
        "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd]\n  default_runtime_name = 'nvidia'\n")
    node.bins["k3s"] = "/usr/local/bin/k3s"
    node.replies[("systemctl", "show", "--property=Id,LoadState,ActiveState,SubState,UnitFileState,ExecMainStartTimestampMonotonic,"
                  "ActiveEnterTimestampMonotonic", "k3s.service", "k3s-agent.service")] = (
        0, "Id=k3s.service\nLoadState=not-found\nActiveState=inactive\n\n"
           "Id=k3s-agent.service\nLoadState=loaded\nActiveState=active\nSubState=running\n"
           "ExecMainStartTimestampMonotonic=1\n", "")
    result = run({"config_path": str(base / "config.toml"), "require_default_runtime": True})
    assert result["node"]["engine"] == "k3s"
    assert result["node"]["default_runtime"] == "nvidia"
    assert set(statuses(result).values()) == {"pass"}, result["checks"]
    assert by_id(result, "engine_running")["detail"].startswith("k3s-agent.service active since")
    assert not [c for c in node.calls if "containerd" in c[0]]


def test_k3s_not_started_yet(node):
    node.bins["k3s"] = "/usr/local/bin/k3s"
    result = run({"engine": "auto"})
    item = by_id(result, "engine_runtime")
    assert result["node"]["engine"] == "k3s" and item["status"] == "fail" and "k3s has not started" in item["detail"]


def test_docker_engine(node):
    info = {"Runtimes": {"nvidia": {"path": "nvidia-container-runtime"}, "runc": {"path": "runc"}},
            "DefaultRuntime": "nvidia", "ServerVersion": "27.5.1"}
    node.bins["docker"] = "/usr/bin/docker"
    node.replies[("docker", "info", "--format", "{{json .}}")] = (0, json.dumps(info), "")
    result = run({"engine": "docker"})
    assert result["node"]["default_runtime"] == "nvidia"
    assert statuses(result)["engine_runtime"] == "pass"
    assert by_id(result, "engine_running")["detail"] == "docker info answered (live daemon state)"
    assert_read_only(node)


def test_no_toml_library(node, monkeypatch):
    monkeypatch.setattr(gpu_node_doctor, "HAS_TOML", False)
    item = by_id(run(), "engine_runtime")
    assert item["status"] == "skip" and "tomli" in item["fix"]


def test_engine_none_and_nvidia_smi_path_missing(node):
    result = run({"engine": "none", "nvidia_smi_path": "/opt/nvidia-smi"})
    assert statuses(result)["engine_runtime"] == "skip"
    assert "/opt/nvidia-smi does not exist" in by_id(result, "nvidia_smi")["detail"]
    assert node.calls == []


def _module_utils_closure(path, seen=None):
    """module_utils files Ansible ships with a module: its imports of module_utils, recursively."""
    import ast
    seen = set() if seen is None else seen
    with open(path) as handle:
        tree = ast.parse(handle.read())
    base = os.path.join(os.path.dirname(os.path.dirname(gpu_node_doctor.__file__)), "module_utils")
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and ".plugins." in node.module:
            assert ".plugins.module_utils." in node.module, "%s imports %s" % (path, node.module)
            name = node.module.rsplit(".", 1)[1]
            if name not in seen:
                seen.add(name)
                _module_utils_closure(os.path.join(base, name + ".py"), seen)
    return seen


def test_node_side_ships_no_cluster_code():
    """The doctor's cluster checks, report and tables run on the controller (plugin_utils): the
    module ships the node checks, nvidia-smi parsing, service state and the runtime config paths only."""
    shipped = _module_utils_closure(gpu_node_doctor.__file__)
    assert shipped == {"_doctor", "_errors", "_nvidia_smi", "_runtime_config", "_service_state"}


# --------------------------------------------------------------------------- doctor v2: the toolkit version


def test_toolkit_version_from_dpkg_then_nvidia_ctk(node):
    """dpkg-query first (the package's version), nvidia-ctk --version when no package is installed
    (the GPU operator's toolkit in /usr/local/nvidia/toolkit); both read only."""
    node.bins["dpkg-query"] = "/usr/bin/dpkg-query"
    dpkg_args = ("dpkg-query", "-W", "-f", "${Package}\\t${Version}\\t${db:Status-Abbrev}\\n",
                 "nvidia-container-toolkit", "nvidia-container-toolkit-base")
    node.replies[dpkg_args] = (0, "nvidia-container-toolkit\t1.19.1-1\tii \nnvidia-container-toolkit-base\t1.19.1-1\tii \n", "")
    result = run()
    assert result["node"]["toolkit"] == {"version": "1.19.1", "package_version": "1.19.1-1",
                                         "source": "dpkg nvidia-container-toolkit", "searched": ["dpkg"]}
    node.replies[dpkg_args] = (1, "", "dpkg-query: no packages found matching nvidia-container-toolkit\n")
    node.bins["nvidia-ctk"] = "/usr/local/nvidia/toolkit/nvidia-ctk"
    node.replies[("nvidia-ctk", "--version")] = (0, "NVIDIA Container Toolkit CLI version 1.18.0\ncommit: abc\n", "")
    result = run()
    assert result["node"]["toolkit"]["version"] == "1.18.0"
    assert result["node"]["toolkit"]["source"] == "/usr/local/nvidia/toolkit/nvidia-ctk --version"
    assert_read_only(node)


def test_network_probe_on_a_wsl_k3s_node(node, smi_capture):
    """wslinfo answers the networking mode; node-ip comes from config.yaml, a drop-in and the unit (flag wins)."""
    node.bins.pop("nvidia-smi")
    node.executables.add(WSL_SMI)
    node.dirs.add("/usr/lib/wsl")
    node.devices = {"char": ["dxg"], "other": []}
    node.replies[("nvidia-smi", "-q", "-x")] = (0, smi_capture("netdata/rtx-4090-driver-535.xml"), "")
    node.bins["wslinfo"] = "/usr/bin/wslinfo"
    node.replies[("wslinfo", "--networking-mode")] = (0, "mirrored\n", "")
    node.files["/etc/rancher/k3s/config.yaml"] = ('server: https://192.168.10.2:6443\ntoken-file: /etc/rancher/k3s/t\n'
                                                  'node-ip: "192.168.10.35"\n')
    node.dropins = ["/etc/rancher/k3s/config.yaml.d/50-v6.yaml"]
    node.files["/etc/rancher/k3s/config.yaml.d/50-v6.yaml"] = "node-ip+: [fd00::23]\n"
    network = run()["node"]["network"]
    assert network == {"addresses": ["192.168.10.35", "fd00::23"], "node_ip": ["192.168.10.35", "fd00::23"],
                       "node_ip_source": "/etc/rancher/k3s/config.yaml.d/50-v6.yaml", "wsl_mode": "mirrored",
                       "wsl_mode_source": "wslinfo --networking-mode", "errors": []}
    assert ["/usr/bin/wslinfo", "--networking-mode"] in node.calls
    assert_read_only(node)
    # an old WSL without wslinfo: mirrored mode still shows by its loopback0 interface
    node.bins.pop("wslinfo")
    node.paths.add("/sys/class/net/loopback0")
    network = run()["node"]["network"]
    assert (network["wsl_mode"], network["wsl_mode_source"]) == ("mirrored", "interface loopback0 (made by mirrored mode)")


def test_network_probe_on_bare_metal_runs_no_wslinfo(node):
    node.bins["wslinfo"] = "/usr/bin/wslinfo"
    result = run()
    assert result["node"]["network"]["wsl_mode"] is None
    assert not [c for c in node.calls if c[0].endswith("wslinfo")]


def test_read_if_file_reports_unreadable_files(tmp_path):
    errors = []
    assert gpu_node_doctor._read_if_file(str(tmp_path / "missing"), errors) is None and errors == []
    (tmp_path / "config.yaml").write_bytes(b"node-ip: \xff\n")
    assert gpu_node_doctor._read_if_file(str(tmp_path / "config.yaml"), errors) is None
    assert errors and errors[0].startswith(str(tmp_path / "config.yaml"))
