# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real CDI capture (tests/fixtures/real-gpu/h200-580.159.04-cdi, see its PROVENANCE.md).

On a machine with an NVIDIA H200 (driver 580.159.04), NVIDIA's nvidia-ctk 1.20.2 wrote the CDI
spec from the real driver, and nvidia-container-runtime 1.20.2 in mode "cdi" ran a CUDA program
in a runc container whose only way to the GPU was that spec. These tests pin what CDI mode of
the collection relies on: the device names a container asks for, what the spec injects for
them, that the runtime really put it into the container, and that nothing reached the GPU
without a request.
"""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

CAPTURE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
    "fixtures", "real-gpu", "h200-580.159.04-cdi")
DRIVER = "580.159.04"
HOOK = "/usr/bin/nvidia-cdi-hook"
# the containers the capture ran: how each asked for the GPU
GPU_CASES = ["gpu-all", "gpu-index-0", "gpu-uuid-annotation", "jit-all"]


def _read(name):
    with open(os.path.join(CAPTURE, name), encoding="utf-8") as f:
        return f.read()


@pytest.fixture(scope="module")
def spec():
    return yaml.safe_load(_read("nvidia.yaml"))


@pytest.fixture(scope="module")
def uuid():
    return _read("gpu-uuid.txt").strip()


def _devices(spec):
    return {d["name"]: d["containerEdits"] for d in spec["devices"]}


def _node_paths(edits):
    return [n["path"] for n in edits.get("deviceNodes", [])]


def _hook_commands(edits):
    """(hookName, subcommand) of each hook: ('createContainer', 'update-ldcache')."""
    return [(h["hookName"], h["args"][1]) for h in edits.get("hooks", [])]


def test_every_step_on_the_machine_succeeded():
    statuses = [line.split(" ", 1) for line in _read("rcs.txt").splitlines()
                if line and not line.startswith("#") and "seconds in all" not in line]
    assert statuses, "rcs.txt lists no command"
    assert [name for rc, name in statuses if rc != "0"] == []


def test_spec_names_the_gpu_by_index_uuid_and_all(spec, uuid):
    assert spec["kind"] == "nvidia.com/gpu"
    assert spec["cdiVersion"] == "0.5.0"
    assert re.match(r"^GPU-[0-9a-f-]{36}$", uuid)
    assert sorted(_devices(spec)) == sorted(["0", uuid, "all"])
    # the fully qualified names nvidia-ctk cdi list printed are kind=name
    listed = _read("cdi-list.txt").split()
    assert sorted(listed) == sorted("nvidia.com/gpu=" + n for n in ["0", uuid, "all"])


def test_each_gpu_name_brings_the_gpu_device_node(spec, uuid):
    devices = _devices(spec)
    for name in ("0", uuid, "all"):
        assert _node_paths(devices[name]) == ["/dev/nvidia0"], name
    # the index name and the UUID name are the same GPU
    assert devices["0"] == devices[uuid]


def test_common_edits_bring_the_control_and_uvm_nodes_and_libcuda(spec):
    common = spec["containerEdits"]
    nodes = {n["path"]: n for n in common["deviceNodes"]}
    assert {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"} <= set(nodes)
    # major numbers of the real nodes (host.txt: ls -la /dev/nvidia*)
    host = _read("host.txt")
    assert nodes["/dev/nvidiactl"]["major"] == 195 and nodes["/dev/nvidiactl"]["minor"] == 255
    assert "crw-rw-rw- 1 root root 195, 255" in host and "/dev/nvidiactl" in host
    mounts = {m["containerPath"]: m for m in common["mounts"]}
    libcuda = [p for p in mounts if os.path.basename(p) == "libcuda.so." + DRIVER]
    assert libcuda == ["/usr/local/nvidia/lib64/libcuda.so." + DRIVER]
    assert mounts[libcuda[0]]["hostPath"] == libcuda[0]  # mounted where the host has it
    assert mounts[libcuda[0]]["options"] == ["ro", "nosuid", "nodev", "rbind", "rprivate"]
    assert any(os.path.basename(p) == "libnvidia-ml.so." + DRIVER for p in mounts)
    assert "/usr/bin/nvidia-smi" in mounts
    # so that a legacy prestart hook, if configured too, injects nothing a second time
    assert "NVIDIA_VISIBLE_DEVICES=void" in common["env"]


def test_hooks_make_libcuda_loadable_in_the_container(spec):
    common = spec["containerEdits"]
    assert {h["path"] for h in common["hooks"]} == {HOOK}
    commands = _hook_commands(common)
    for wanted in ("create-symlinks", "enable-cuda-compat", "update-ldcache"):
        assert ("createContainer", wanted) in commands, wanted
    links = [a for h in common["hooks"] for a in h["args"]]
    assert "libcuda.so.{0}::/usr/local/nvidia/lib64/libcuda.so.1".format(DRIVER) in links
    assert "--host-driver-version=" + DRIVER in links
    update = next(h for h in common["hooks"] if h["args"][1] == "update-ldcache")
    assert "/usr/local/nvidia/lib64" in update["args"]


@pytest.mark.parametrize("case", GPU_CASES)
def test_runtime_injected_the_spec_and_the_program_used_the_gpu(case):
    before = json.loads(_read(case + "/config.before.json"))
    after = json.loads(_read(case + "/config.json"))
    assert "devices" not in before["linux"]
    assert sorted(d["path"] for d in after["linux"]["devices"]) == [
        "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia0", "/dev/nvidiactl"]
    allowed = {(r["major"], r["minor"]) for r in after["linux"]["resources"]["devices"] if r["allow"]}
    assert allowed == {(195, 0), (195, 255), (238, 0), (238, 1)}
    assert "/usr/local/nvidia/lib64/libcuda.so." + DRIVER in [m["destination"] for m in after["mounts"]]
    # the spec on disk names nvidia-cdi-hook; the in-memory spec of jit-cdi runs the hooks
    # through the [nvidia-ctk] path of config.toml ("nvidia-ctk hook ...")
    hook = "/usr/bin/nvidia-ctk" if case == "jit-all" else HOOK
    assert {h["path"] for hooks in after["hooks"].values() for h in hooks} == {hook}
    assert "NVIDIA_VISIBLE_DEVICES=void" in after["process"]["env"]
    out = _read(case + "/container-output.txt")
    assert "cuda-check: device 0: NVIDIA H200 sm_90" in out
    assert re.search(r"gpu=(\d+) expected=\1 PASS", out)
    assert "cuda-check rc=0" in out


def test_how_each_container_asked_for_the_gpu(uuid):
    def request(case):
        c = json.loads(_read(case + "/config.before.json"))
        return ([e for e in c["process"]["env"] if e.startswith("NVIDIA_VISIBLE_DEVICES=")],
                c.get("annotations", {}))
    assert request("gpu-all") == (["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all"], {})
    assert request("gpu-index-0") == (["NVIDIA_VISIBLE_DEVICES=0"], {})  # default kind nvidia.com/gpu
    assert request("gpu-uuid-annotation") == ([], {"cdi.k8s.io/gpu-check": "nvidia.com/gpu=" + uuid})
    assert request("jit-all") == (["NVIDIA_VISIBLE_DEVICES=runtime.nvidia.com/gpu=all"], {})
    assert request("no-request") == ([], {})


def test_without_a_request_nothing_reaches_the_gpu():
    after = json.loads(_read("no-request/config.json"))
    assert "devices" not in after["linux"]
    assert not any("nvidia" in m["destination"] for m in after["mounts"])
    assert "hooks" not in after
    out = _read("no-request/container-output.txt")
    assert "cudaGetDeviceCount failed: 35" in out  # no libcuda: CUDA driver version is insufficient
    assert "cuda-check rc=2" in out
    assert "nvidia-smi: not found" in out


def test_runtime_config_is_cdi_mode_with_the_default_spec_dirs():
    text = _read("config.toml")
    assert re.search(r'^mode = "cdi"$', text, re.MULTILINE)
    assert 'spec-dirs = ["/etc/cdi", "/var/run/cdi"]' in text
    assert 'default-kind = "nvidia.com/gpu"' in text
    assert 'annotation-prefixes = ["cdi.k8s.io/"]' in text
    assert "NVIDIA Container Toolkit CLI version 1.20.2" in _read("versions.txt")
