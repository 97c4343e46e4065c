# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""gpu_runtime's one-step validation: every problem at once, one sentence each."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.filter.gpu_runtime_input_problems import (
    gpu_runtime_input_problems,
)
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_runtime_input import gpu_runtime_problems
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._versions import pin

GOOD = {
    "host": "node1", "wsl": False, "driver": "auto", "driver_loaded": True, "smi_msg": "",
    "engine": "containerd", "installed": {"/usr/bin/containerd": True}, "set_as_default": False,
    "manage_toolkit": True, "test_standins": False, "toolkit_version": pin("nvidia_container_toolkit"),
    "accept_known_bad": [], "toolkit_mode": "auto",
}


def check(**changes):
    inputs = dict(GOOD)
    inputs.update(changes)
    return gpu_runtime_problems(inputs)


def test_the_pinned_combination_has_no_problem():
    assert check() == []
    assert check(engine="none") == []
    assert check(toolkit_mode="cdi") == []


@pytest.mark.parametrize("changes,words", [
    (dict(wsl=True, driver="install"), "gpu_runtime_driver=install was asked for on node1, which is a WSL2 distro"),
    (dict(wsl="true", driver_loaded=False, smi_msg="nvidia-smi: not found"),
     "node1 is a WSL2 distro but /usr/lib/wsl/lib/nvidia-smi does not work: nvidia-smi: not found"),
    (dict(engine="docker"), "gpu_runtime_engine=docker but /usr/bin/dockerd is not on node1"),
    (dict(engine="k3s", installed={"/usr/local/bin/k3s": True}, set_as_default="yes"),
     "gpu_runtime_set_as_default=true with engine k3s"),
    (dict(toolkit_mode="jit"), "gpu_runtime_toolkit_mode must be one of auto, cdi, not 'jit'"),
    (dict(toolkit_version="1.18.1"), "gpu_runtime_toolkit_version=1.18.1 is on the known-bad list "
                                     "(NVIDIA/nvidia-container-toolkit#1555"),
    (dict(toolkit_version="latest"), "gpu_runtime_toolkit_version: 'latest' is not a version"),
    (dict(accept_known_bad="NVIDIA/nvidia-container-toolkit#1967"),
     "gpu_runtime_toolkit_accept_known_bad must be a list of issue ids"),
], ids=["wsl-driver-install", "wsl-no-smi", "engine-missing", "k3s-default", "mode", "known-bad", "not-a-version",
        "accept-not-a-list"])
def test_each_rule(changes, words):
    problems = check(**changes)
    assert len(problems) == 1, problems
    assert words in problems[0]


def test_every_problem_is_reported_at_once():
    """Before the one-step validation each rule was its own assert: the first failure hid the others."""
    problems = check(wsl=True, driver="install", driver_loaded=False, engine="docker", toolkit_version="1.19.1")
    assert len(problems) == 4
    assert [p.split(" ")[0] for p in problems] == [
        "gpu_runtime_driver=install", "node1", "gpu_runtime_engine=docker", "gpu_runtime_toolkit_version=1.19.1"]


def test_accepted_known_bad_and_unmanaged_toolkits_pass():
    assert check(toolkit_version="1.19.1", accept_known_bad=["NVIDIA/nvidia-container-toolkit#1967"]) == []
    assert check(toolkit_version="1.19.1", manage_toolkit=False) == []
    assert check(toolkit_version="1.19.1", test_standins=True) == []


def test_filter_refuses_a_non_mapping():
    from ansible.errors import AnsibleFilterError
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        gpu_runtime_input_problems(["engine"])
    assert gpu_runtime_input_problems(GOOD) == []


# --- the plan (filter gpu_runtime_plan): facts + variables -> what the role does, in one step -------------------------

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_runtime_input import (  # noqa: E402
    gpu_runtime_plan,
)

ALL_PATHS = ("/usr/lib/wsl/lib", "/proc/sys/fs/binfmt_misc/WSLInterop", "/usr/local/bin/k3s", "/snap/bin/microk8s",
             "/usr/bin/dockerd", "/usr/bin/containerd", "/etc/systemd/system/k3s-agent.service",
             "/etc/systemd/system/k3s.service")
LOADED = {"present": True, "wsl": False, "driver": {"loaded": True, "recommended_flavour": "proprietary"}}


def plan(exists=("/usr/bin/containerd",), nvidia=None, **changes):
    inputs = {"host": "node1", "nvidia": LOADED if nvidia is None else nvidia, "kernel": "6.1.0-28-amd64",
              "os_family": "Debian", "distribution": "Debian", "python_version": [3, 11],
              "paths": dict((p, {"exists": p in exists}) for p in ALL_PATHS), "smi_failed": False, "smi_msg": "",
              "engine": "auto", "driver": "auto", "driver_flavour": "auto", "set_as_default": False,
              "manage_toolkit": True, "test_standins": False, "toolkit_version": pin("nvidia_container_toolkit"),
              "accept_known_bad": [], "toolkit_mode": "auto", "cdi": False, "runtime_path": "/usr/bin/ncr",
              "standin_sha256": ""}
    inputs.update(changes)
    return gpu_runtime_plan(inputs)


def test_a_version_mismatch_stops_the_role_instead_of_reinstalling_the_driver():
    # the role registers nvidia_smi_facts with failed_when: false, so `is failed` never held and the old
    # "Stop on a driver/library version mismatch" task never ran: a bare-metal node went on to install the driver
    msg = "Failed to initialize NVML: Driver/library version mismatch"
    result = plan(nvidia={}, smi_failed=True, smi_msg=msg)
    assert result["stop"].startswith("node1: %s The NVIDIA kernel module and the user-space libraries differ" % msg)
    assert "reinstalling the driver does not fix this" in result["stop"]
    assert plan(nvidia={}, smi_failed=True, smi_msg="nvidia-smi: permission denied")["stop"] == \
        "node1: nvidia-smi: permission denied"


def test_a_driver_that_does_not_answer_is_installed_on_bare_metal_not_stopped():
    result = plan(nvidia={"present": True, "driver": {"loaded": False}}, smi_failed=True,
                  smi_msg="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
    assert result["stop"] == "" and result["install_driver"] is True and result["driver_flavour"] == "open"


@pytest.mark.parametrize("exists,engine,service", [
    (("/usr/bin/containerd",), "containerd", "containerd"),
    (("/usr/bin/containerd", "/usr/bin/dockerd"), "docker", "docker"),
    (("/usr/local/bin/k3s", "/usr/bin/containerd", "/etc/systemd/system/k3s-agent.service"), "k3s", "k3s-agent"),
    (("/usr/local/bin/k3s", "/etc/systemd/system/k3s.service"), "k3s", "k3s"),
    ((), "none", ""),
])
def test_the_engine_and_its_service_follow_what_is_installed(exists, engine, service):
    result = plan(exists=exists)
    assert (result["engine"], result["service"]) == (engine, service)
    assert result["notes"] == ([] if engine != "none" else [result["notes"][0]])


def test_wsl_is_seen_from_the_facts_the_kernel_or_the_markers():
    assert plan()["wsl"] is False
    assert plan(kernel="5.15.167.4-microsoft-standard-WSL2")["wsl"] is True
    assert plan(exists=("/usr/bin/containerd", "/usr/lib/wsl/lib"))["wsl"] is True
    assert plan(driver="install", kernel="x-microsoft")["install_driver"] is False


def test_the_stand_in_runtime_is_copied_only_when_it_differs():
    same = {"exists": True, "checksum": "ab" * 32, "mode": "0755", "uid": 0, "gid": 0}
    paths = dict((p, {"exists": p == "/usr/bin/containerd"}) for p in ALL_PATHS)
    assert plan(paths=dict(paths, **{"/usr/bin/ncr": same}), test_standins=True,
                standin_sha256="ab" * 32)["toolkit_tasks"] is False
    assert plan(paths=dict(paths, **{"/usr/bin/ncr": dict(same, mode="0700")}), test_standins=True,
                standin_sha256="ab" * 32)["toolkit_tasks"] is True
    assert plan()["toolkit_tasks"] is True
    assert plan(manage_toolkit=False)["toolkit_tasks"] is False


def test_tomli_only_before_python_3_11_and_not_for_docker():
    assert plan(python_version=[3, 9])["needs_tomli"] is True
    assert plan(python_version=[3, 9], exists=("/usr/bin/dockerd",))["needs_tomli"] is False
    assert plan()["needs_tomli"] is False


def test_unsupported_distributions_are_problems_before_anything_changes():
    result = plan(os_family="Suse", distribution="openSUSE Leap",
                  nvidia={"present": True, "driver": {"loaded": False}})
    assert any("node1 is openSUSE Leap (Suse)" in p for p in result["problems"])
    assert any("installs the NVIDIA container toolkit" in p for p in result["problems"])
    assert plan(os_family="Suse", manage_toolkit=False)["problems"] == []
