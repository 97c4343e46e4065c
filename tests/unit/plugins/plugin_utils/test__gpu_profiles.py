# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_gpu_profiles.py (replicas from VRAM)."""

from __future__ import annotations

import os

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils._device_plugin import build_config_map
from ansible_collections.homelab.gpu_node.plugins.module_utils._nvidia_smi import parse_smi_xml
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_profiles import (
    GpuProfileError,
    profile,
    profiles,
    replicas_for,
    whole_gib,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__))))))
CAPTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "nvidia-smi")


@pytest.mark.parametrize("model, mib, replicas", [
    ("NVIDIA GeForce RTX 4090", 24564, 4),
    ("NVIDIA GeForce RTX 3090", 24576, 4),   # the Talos homelab chose 4
    ("NVIDIA A2", 15356, 2),                 # the RHEL 9 A2 homelab chose 2
    ("Tesla T4", 15360, 2),
    ("Tesla P100-PCIE-16GB", 16280, 2),
    ("GeForce GTX 1080", 8192, 1),           # one 6 GiB share only: not shared
    ("NVIDIA A100-SXM4-40GB", 40960, 6),
    ("NVIDIA H200", 143771, 8),              # capped
], ids=["4090", "3090", "a2", "t4", "p100", "gtx1080", "a100-40", "h200-capped"])
def test_rule(model, mib, replicas):
    assert replicas_for(mib) == replicas


def test_whole_gib_rounds_what_boards_report():
    assert whole_gib(24564) == 24
    assert whole_gib(15356) == 15


def test_profile_protects_users_and_keeps_the_resource_name():
    assert profile("NVIDIA A2", 15356) == {"model": "NVIDIA A2", "time_slicing": {
        "replicas": 2, "rename_by_default": False, "fail_requests_greater_than_one": True}}
    assert profile("GeForce GTX 1080", 8192) == {"model": "GeForce GTX 1080", "config": {"version": "v1"}}
    assert profile("Unknown", None) is None


def test_options():
    assert replicas_for(24576, share_gib=4) == 6
    assert replicas_for(24576, share_gib=4, max_replicas=3) == 3
    with pytest.raises(GpuProfileError):
        replicas_for(24576, share_gib=0)


def test_profiles_skip_explicit_models_mig_and_use_the_known_table():
    hosts = {
        "a": {"gpus": [{"name": "NVIDIA GeForce RTX 3090", "memory_total_mib": 24576}] * 2},
        "b": {"gpus": [{"name": "Tesla T4"}]},  # no memory in the facts: table
        "c": {"gpus": [{"name": "NVIDIA A100-SXM4-40GB", "memory_total_mib": 40960, "mig_mode": "Enabled"}]},
        "d": [{"name": "NVIDIA A2", "memory_total_mib": 15356}],
    }
    out = profiles(hosts, explicit=[{"model": "nvidia geforce rtx 3090", "time_slicing": {"replicas": 3}}])
    assert [(e["model"], e["time_slicing"]["replicas"]) for e in out] == [("NVIDIA A2", 2), ("Tesla T4", 2)]
    assert profiles({"e": {"gpus": [{"name": "Mystery GPU"}]}}) == []  # memory unknown: no profile


def _lab_hosts():
    with open(os.path.join(ROOT, "inventory", "lab", "hosts.yml")) as f:
        inv = yaml.safe_load(f)
    found = {}

    def walk(group):
        for name, hv in (group.get("hosts") or {}).items():
            found[name] = hv
        for child in (group.get("children") or {}).values():
            walk(child or {})
    walk(inv["all"])
    return {h: v for h, v in found.items() if v and v.get("fake_nvidia_smi_capture")}


def test_lab_demo_gpus_get_profiles_without_warnings():
    """The lab demo's GPUs (inventory/lab: captures replayed by the fake nvidia-smi) with profiles
    as inventory/lab/group_vars/all.yml asks: no warning about the demo's own settings."""
    with open(os.path.join(ROOT, "inventory", "lab", "group_vars", "all.yml")) as f:
        lab_vars = yaml.safe_load(f)
    assert lab_vars["gpu_cluster_device_plugin_profiles"] is True
    hosts_gpus = {}
    for host, hv in _lab_hosts().items():
        with open(os.path.join(CAPTURES, hv["fake_nvidia_smi_capture"])) as f:
            hosts_gpus[host] = parse_smi_xml(f.read())
    assert len(hosts_gpus) == 3
    explicit = lab_vars["gpu_cluster_device_plugin_configs"]
    per_model = explicit + profiles(hosts_gpus, explicit)
    assert [e["model"] for e in per_model] == ["GeForce GTX 1080", "NVIDIA GeForce RTX 4090", "Tesla P100-PCIE-16GB"]
    built = build_config_map(per_model, hosts_gpus, default={"config": {}, "time_slicing": None})
    assert built["warnings"] == []
    assert built["capacity"]["lab-wsl-1"] == {"nvidia.com/gpu": 4}
    assert built["capacity"]["lab-baremetal-1"] == {"nvidia.com/gpu": 2}
    assert built["capacity"]["lab-multigpu-1"] == {"nvidia.com/gpu": 2}  # 2x GTX 1080, 8 GB: not shared
