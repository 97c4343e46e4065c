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
