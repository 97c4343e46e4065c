# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/filter/gpu_cluster.py: the thin wrappers read Ansible's shapes (loop results, hostvars) right."""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.filter import gpu_cluster as f

NV = {"present": True, "wsl": False, "gpus": [{"name": "NVIDIA A2", "uuid": "GPU-1"}]}


def test_hosts_reads_unreachable_items_of_the_gather_loop():
    hostvars = {"a2": {"ansible_facts": {"nvidia": NV}}, "asleep": {"ansible_facts": {}}}
    gathered = {"results": [{"item": "asleep", "unreachable": True, "msg": "timed out"}]}
    hosts = f.gpu_cluster_hosts(["a2", "asleep"], hostvars, gathered)
    assert hosts["unreachable"] == ["asleep"] and hosts["gpu_hosts"] == ["a2"] and hosts["missing"] == []
    # before gathering: both lack nothing but asleep lacks facts
    assert f.gpu_cluster_hosts(["a2", "asleep"], hostvars)["without_facts"] == ["asleep"]


def test_plan_adds_input_problems_lines_and_namespace():
    hostvars = {"a2": {"ansible_facts": {"nvidia": NV, "nodename": "A2"}, "cluster_join_node_name": ""}}
    hosts = f.gpu_cluster_hosts(["a2"], hostvars)
    dp = {"config_map": {"default": "version: v1\n"}, "node_labels": {"a2": {"nvidia.com/device-plugin.config": "default"}},
          "capacity_by_host": {"a2": {"nvidia.com/gpu": 1}}, "sharing_strategy_by_key": {"default": "none"},
          "device_list_strategy_by_key": {"default": ["envvar"]}}
    out = f.gpu_cluster_plan(dp, hosts, hostvars, {"namespace": "ns", "device_plugin_version": "v0.20.0",
                                                   "device_plugin_configs": [], "priority_classes": [],
                                                   "verify_delay": 1, "namespace_problems": ["bad ns."]})
    assert out["problems"] == ["bad ns."]
    assert out["namespace"] == "ns" and out["nodes"][0]["node"] == "a2"
    assert out["lines"] == ["a2: 1 x NVIDIA A2, config 'default', planned nvidia.com/gpu=1"]


def test_apply_plan_maps_the_read_loop_by_query_name():
    reads = {"results": [
        {"item": {"name": "runtime_class"}, "resources": []},
        {"item": {"name": "priority_classes"}, "resources": []},
        {"item": {"name": "crd:podmonitors.monitoring.coreos.com"}, "resources": []},
        {"item": {"name": "nodes"}, "resources": []}]}
    manifests = [{"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "p", "namespace": "n"}},
                 {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "n"}}]
    out = f.gpu_cluster_apply_plan(manifests, reads, [], {"deploy": "device_plugin", "runtime_class_name": "",
                                                          "manage_nodes": True, "field_manager": "m"})
    assert [o["kind"] for o in out["objects"]] == ["ConfigMap"]


def test_smoke_report_reads_registered_results():
    pods = f.gpu_cluster_smoke_pods([{"node": "n", "planned": {"nvidia.com/gpu": 1}}], [], {
        "namespace": "ns", "labels": {}, "runtime_class_name": "", "image": "i", "command": ["nvidia-smi"]})
    out = f.gpu_cluster_smoke_report(pods, {"resources": [{"metadata": {"name": "gpu-smoke-n"},
                                                           "status": {"phase": "Succeeded"}}]},
                                     {"results": [{"log_lines": ["GPU 0"]}]}, {"skipped": True}, 5)
    assert out["ok"] and out["lines"] == ["nvidia-smi in pod gpu-smoke-n on n:", "GPU 0"]
