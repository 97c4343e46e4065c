# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/plugin_utils/_gpu_cluster.py: the gpu_cluster role's decisions, without Ansible."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils._device_plugin import build_config_map
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _gpu_cluster as gc
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster_yaml import manifest_yaml

GPU_3090 = {"name": "NVIDIA GeForce RTX 3090", "uuid": "GPU-1", "index": 0}
NV_3090 = {"present": True, "wsl": False, "gpus": [GPU_3090, dict(GPU_3090, uuid="GPU-2", index=1)]}
NV_4090_WSL = {"present": True, "wsl": True, "gpus": [{"name": "NVIDIA GeForce RTX 4090", "uuid": "GPU-3"}]}
NO_GPU = {"present": False, "gpus": []}
TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
MANAGER = "homelab-gpu-cluster"


def _hosts():
    facts = {"gpu-3090": {"nvidia": NV_3090}, "wsl-4090": {"nvidia": NV_4090_WSL},
             "cpu-only": {"nvidia": NO_GPU}, "asleep": {}, "new": {}}
    return gc.select_hosts(["gpu-3090", "wsl-4090", "cpu-only", "asleep", "new"], facts,
                           {"asleep": "ssh: connect timed out "})


def _settings(**kw):
    base = {"namespace": "nvidia-device-plugin", "node_labels": {"nvidia.com/gpu.present": True},
            "wsl_node_labels": {"node-type": "wsl"}, "node_taints": [TAINT], "mig_strategy": "none",
            "deploy": "device_plugin", "device_plugin_version": "v0.20.0", "device_plugin_configs": [],
            "priority_classes": [], "verify_delay": 5}
    base.update(kw)
    return base


def _device_plugin(per_model=None, default=None, hosts=None):
    built = build_config_map(per_model if per_model is not None else [
        {"model": "NVIDIA GeForce RTX 3090", "time_slicing": {"replicas": 4}}],
        hosts if hosts is not None else {"gpu-3090": NV_3090, "wsl-4090": NV_4090_WSL},
        default=default if default is not None else {"config": {}})
    return {"config_map": built["config_map"], "node_labels": built["node_labels"],
            "capacity_by_host": built["capacity"], "sharing_strategy_by_key": built["sharing_strategy_by_key"],
            "device_list_strategy_by_key": built["device_list_strategy_by_key"]}


def _plan(host_vars=None, **kw):
    hv = {"gpu-3090": {"nvidia": NV_3090, "nodename": "GPU-3090.lan"},
          "wsl-4090": {"nvidia": NV_4090_WSL, "nodename": "desktop", "cluster_join_node_name": "wsl-4090",
                       "gpu_cluster_node_extra_labels": {"gpu-type": "rtx4090"}}}
    hv.update(host_vars or {})
    return gc.plan(kw.pop("device_plugin", None) or _device_plugin(), _hosts(), hv, _settings(**kw))


# --------------------------------------------------------------------------- hosts and input


def test_select_hosts_sorts_the_group():
    hosts = _hosts()
    assert hosts["without_facts"] == ["asleep", "new"]
    assert hosts["unreachable"] == ["asleep"]
    assert hosts["gpu_hosts"] == ["gpu-3090", "wsl-4090"]
    assert hosts["no_gpu"] == ["cpu-only"]
    assert hosts["missing"] == ["new"]
    assert hosts["wsl_hosts"] == ["wsl-4090"]
    assert hosts["warnings"][0].startswith("GPU node asleep is unreachable (asleep or off?): ssh: connect timed out.")
    assert hosts["warnings"][1] == "cpu-only: no NVIDIA GPU found, skipped"


def test_input_problems_lists_every_problem_at_once():
    problems = gc.input_problems(
        {"device_plugin_version": "v0.14.0", "device_plugin_configs": {}, "priority_classes": [{"name": "x"}],
         "verify_delay": 0, "deploy": "device_plugin"}, _hosts(), ["namespace problem."])
    text = " ".join(problems)
    assert problems[0] == "namespace problem."
    assert "gpu_cluster_device_plugin_configs must be a list" in text
    assert "gpu_cluster_verify_delay must be positive" in text
    assert "No ansible_facts.nvidia for new" in text
    assert "wsl-4090 is a WSL2 node: the NVIDIA device plugin supports WSL2 only from v0.15.0" in text
    assert "gpu_cluster_priority_classes[0] needs name and value" in text
    assert len(problems) == 6


def test_input_problems_none_for_good_input():
    hosts = dict(_hosts(), missing=[])
    assert gc.input_problems(_settings(), hosts) == []
    assert "must look like v0.20.0" in gc.input_problems(_settings(device_plugin_version="latest"), hosts)[0]


# --------------------------------------------------------------------------- plan


def test_plan_nodes_names_labels_taints_capacity():
    out = _plan()
    by_host = dict((n["host"], n) for n in out["nodes"])
    gpu = by_host["gpu-3090"]
    # the one node name variable: cluster_join_node_name, else the nodename in lower case
    assert gpu["node"] == "gpu-3090.lan"
    assert by_host["wsl-4090"]["node"] == "wsl-4090"
    assert gpu["labels"] == {"nvidia.com/gpu.present": "true",
                             "nvidia.com/device-plugin.config": "nvidia-geforce-rtx-3090"}
    assert by_host["wsl-4090"]["labels"] == {"nvidia.com/gpu.present": "true", "node-type": "wsl",
                                             "nvidia.com/device-plugin.config": "default", "gpu-type": "rtx4090"}
    assert gpu["taints"] == [TAINT]
    assert gpu["capacity"] == {"nvidia.com/gpu": 8}
    assert gpu["models"] == ["NVIDIA GeForce RTX 3090"] and gpu["gpus"] == 2
    assert out["problems"] == [] and out["has_default_config"] and not out["needs_sys_admin"]
    assert out["config_sha256"] == hashlib.sha256(json.dumps(out["config_map"], sort_keys=True).encode()).hexdigest()
    assert gc.plan_lines(out["nodes"])[1] == \
        "wsl-4090 (WSL2): 1 x NVIDIA GeForce RTX 4090, config 'default', planned nvidia.com/gpu=1"


def test_plan_refuses_mps_from_the_modules_strategy_not_the_yaml_text():
    mps = {"version": "v1", "sharing": {"mps": {"resources": [{"name": "nvidia.com/gpu", "replicas": 2}]}}}
    out = _plan(device_plugin=_device_plugin([{"model": "NVIDIA GeForce RTX 3090", "config": mps}]))
    assert len(out["problems"]) == 1 and "nvidia-geforce-rtx-3090 use sharing.mps" in out["problems"][0]


def test_plan_volume_mounts_needs_sys_admin():
    cfg = {"version": "v1", "flags": {"plugin": {"deviceListStrategy": ["envvar", "volume-mounts"]}}}
    out = _plan(device_plugin=_device_plugin([{"model": "NVIDIA GeForce RTX 3090", "config": cfg}]))
    assert out["needs_sys_admin"]
    assert _plan(mig_strategy="single")["needs_sys_admin"]


def test_plan_same_node_name_twice_and_bad_taint():
    out = _plan({"wsl-4090": {"nvidia": NV_4090_WSL, "cluster_join_node_name": "gpu-3090.lan"},
                 "gpu-3090": {"nvidia": NV_3090, "nodename": "gpu-3090.lan",
                              "gpu_cluster_node_extra_taints": ["bad taint"]}})
    text = " ".join(out["problems"])
    assert "gpu-3090: taint 'bad taint' is not key=value:Effect" in text
    assert "hosts gpu-3090 and wsl-4090 have the same Kubernetes node name gpu-3090.lan" in text


# --------------------------------------------------------------------------- nodes


def _node(name, labels=None, taints=None, owned_labels=(), owned_taints=False):
    fields = {}
    if owned_labels:
        fields["f:metadata"] = {"f:labels": dict(("f:" + k, {}) for k in owned_labels)}
    if owned_taints:
        fields["f:spec"] = {"f:taints": {}}
    managed = [{"manager": "kubelet", "operation": "Update", "fieldsV1": {"f:status": {}}}]
    if fields:
        managed.append({"manager": MANAGER, "operation": "Apply", "fieldsV1": fields})
    return {"metadata": {"name": name, "labels": labels or {}, "managedFields": managed},
            "spec": {"taints": taints} if taints is not None else {}}


def _plan_node(**kw):
    p = {"host": "h", "node": "n1", "labels": {"a": "1"}, "taints": [TAINT]}
    p.update(kw)
    return p


def test_node_objects_unchanged_node_sends_nothing():
    node = _node("n1", {"a": "1", "kubernetes.io/hostname": "n1"}, [dict(TAINT, timeAdded="x")], ["a"], True)
    assert gc.node_objects([_plan_node()], [node], MANAGER) == {"objects": [], "missing": []}


def test_node_objects_keeps_other_taints_in_the_atomic_list():
    other = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
    old_ours = {"key": "nvidia.com/gpu", "value": "old", "effect": "NoSchedule"}
    out = gc.node_objects([_plan_node()], [_node("n1", {"a": "1"}, [other, old_ours])], MANAGER)
    assert out["objects"] == [{"apiVersion": "v1", "kind": "Node",
                               "metadata": {"name": "n1", "labels": {"a": "1"}},
                               "spec": {"taints": [other, TAINT]}}]


def test_node_objects_drops_a_label_it_owned_and_no_longer_plans():
    out = gc.node_objects([_plan_node(taints=[])], [_node("n1", {"a": "1", "old": "x"}, [], ["a", "old"])], MANAGER)
    assert out["objects"] == [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "labels": {"a": "1"}}}]
    # a label someone else set is not ours to remove
    assert gc.node_objects([_plan_node(taints=[])], [_node("n1", {"a": "1", "x": "y"}, [], ["a"])],
                           MANAGER)["objects"] == []


def test_node_objects_names_missing_nodes():
    assert gc.node_objects([_plan_node(node="gone", host="box")], [], MANAGER) == \
        {"objects": [], "missing": ["gone (host box)"]}


# --------------------------------------------------------------------------- apply


def _manifests():
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns"}},
        {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"}, "handler": "nvidia"},
        {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": "gpu-batch"}, "value": 1000},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "namespace": "ns"}},
        {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "pm", "namespace": "ns"}},
    ]


APPLY = {"deploy": "device_plugin", "runtime_class": "auto", "runtime_class_name": "nvidia",
         "runtime_class_handler": "nvidia", "manage_nodes": True, "field_manager": MANAGER, "namespace": "ns"}


def _kinds(out):
    return [o["kind"] for o in out["objects"]]


def test_apply_plan_creates_the_runtime_class_and_labels_nodes():
    out = gc.apply_plan(_manifests(), {"runtime_class": [], "priority_classes": [],
                                       "crds": {gc.PODMONITOR_CRD: [{}]}, "nodes": [_node("n1")]},
                        [_plan_node()], APPLY)
    assert _kinds(out) == ["Namespace", "RuntimeClass", "PriorityClass", "ConfigMap", "PodMonitor", "Node"]
    assert out["rc_apply"] and out["problems"] == [] and out["messages"] == []


def test_apply_plan_leaves_a_shipped_runtime_class_and_skips_podmonitor_without_crd():
    shipped = {"metadata": {"name": "nvidia", "labels": {"objectset.rio.cattle.io/hash": "x"}}, "handler": "runc"}
    out = gc.apply_plan(_manifests(), {"runtime_class": [shipped], "priority_classes": [],
                                       "crds": {gc.PODMONITOR_CRD: []}, "nodes": []}, [_plan_node()], APPLY)
    assert _kinds(out) == ["Namespace", "PriorityClass", "ConfigMap"]
    assert not out["rc_apply"] and out["rc_existing"] == shipped
    text = " ".join(out["messages"])
    assert "RuntimeClass nvidia already exists with handler runc" in text
    assert "WARNING: its handler is not nvidia" in text
    assert "PodMonitor for the DCGM exporter skipped" in text
    assert "Not in the cluster (yet): n1 (host h)" in text
    ours = dict(shipped, metadata={"name": "nvidia", "labels": {"app.kubernetes.io/managed-by": gc.MANAGED_BY}})
    assert gc.apply_plan(_manifests(), {"runtime_class": [ours]}, [], dict(APPLY, manage_nodes=False))["rc_apply"]


def test_apply_plan_refuses_a_priority_class_value_change_and_a_skipped_runtime_class():
    out = gc.apply_plan(_manifests(), {"runtime_class": [], "priority_classes": [
        {"metadata": {"name": "gpu-batch"}, "value": 5}]}, [], dict(APPLY, runtime_class="skip", manage_nodes=False))
    text = " ".join(out["problems"])
    assert "RuntimeClass nvidia does not exist and gpu_cluster_runtime_class is skip" in text
    assert "PriorityClass gpu-batch exists with value 5, wanted 1000." in text
    assert "cannot be changed" in text


def test_apply_plan_check_mode_leaves_out_objects_of_a_missing_namespace():
    out = gc.apply_plan(_manifests(), {"runtime_class": [], "namespace": [], "crds": {}}, [],
                        dict(APPLY, manage_nodes=False), check_mode=True)
    assert _kinds(out) == ["Namespace", "RuntimeClass", "PriorityClass"]
    assert "namespace ns does not exist yet, so the objects inside it (ConfigMap, PodMonitor)" in out["messages"][0]


def test_changed_objects():
    objs = _manifests()[:2]
    result = {"changed": True, "result": {"results": [{"changed": False}, {"changed": True}]}}
    assert gc.changed_objects(objs, result) == ["RuntimeClass/nvidia"]


# --------------------------------------------------------------------------- render


def test_render_plan_files_and_runtime_class_per_distribution():
    nodes = _plan()["nodes"]
    extras = {"talos_schematic": {"s": 1}, "talos_patch": {"p": 1}, "gpu_operator_values": {"v": 1}}
    settings = {"deploy": "device_plugin", "runtime_class": "auto", "runtime_class_name": "nvidia",
                "distribution": "auto", "talos": True, "render_dir": "/out/"}
    out = gc.render_plan(_manifests(), extras, nodes, settings, manifest_yaml)
    names = [f["file"] for f in out["files"]]
    assert names[:6] == ["namespace-ns.yaml", "runtimeclass-nvidia.yaml", "priorityclass-gpu-batch.yaml",
                         "configmap-cm.yaml", "podmonitor-pm.yaml", "kustomization.yaml"]
    assert "talos/node-gpu-3090.lan.yaml" in names and "gpu-operator/values.yaml" not in names
    assert out["path"] == "/out" and out["dirs"] == ["/out", "/out/talos"]
    kust = yaml.safe_load(out["files"][5]["content"])
    assert kust["resources"] == names[:5]
    talos = yaml.safe_load([f for f in out["files"] if f["file"] == "talos/node-gpu-3090.lan.yaml"][0]["content"])
    assert talos["machine"]["nodeTaints"] == {"nvidia.com/gpu": "present:NoSchedule"}
    k3s_settings = dict(settings, distribution="k3s", deploy="gpu_operator", talos=False)
    k3s = gc.render_plan(_manifests(), extras, nodes, k3s_settings, manifest_yaml)
    assert "runtimeclass-nvidia.yaml" not in [f["file"] for f in k3s["files"]]
    assert k3s["files"][-1]["file"] == "gpu-operator/values.yaml"


# --------------------------------------------------------------------------- smoke


SMOKE = {"namespace": "ns", "labels": {"x": "y"}, "runtime_class_name": "nvidia", "image": "cuda:1",
         "command": ["nvidia-smi"]}


def test_smoke_pods_one_per_node_with_capacity():
    nodes = [{"metadata": {"name": "N_1.lan", "labels": {"kubernetes.io/hostname": "n1"}}}]
    pods = gc.smoke_pods([{"node": "N_1.lan", "planned": {"nvidia.com/gpu": 8}}, {"node": "n2", "planned": {}}],
                         nodes, SMOKE)
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["name"] == "gpu-smoke-n-1-lan"
    assert pod["metadata"]["labels"] == {"x": "y", "app.kubernetes.io/name": "gpu-smoke-test"}
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "n1"}
    assert pod["spec"]["runtimeClassName"] == "nvidia"
    assert pod["spec"]["containers"][0]["resources"] == {"limits": {"nvidia.com/gpu": 1}}
    assert "runtimeClassName" not in gc.smoke_pods([{"node": "n", "planned": {"g": 1}}], [],
                                                   dict(SMOKE, runtime_class_name=""))[0]["spec"]


def test_smoke_report_names_each_cause():
    report_nodes = [{"node": n, "planned": {"nvidia.com/gpu": 1}} for n in ("ok", "fail", "rt", "pending", "slow")]
    pods = gc.smoke_pods(report_nodes, [], SMOKE)
    seen = [
        {"metadata": {"name": "gpu-smoke-ok"}, "status": {"phase": "Succeeded"}},
        {"metadata": {"name": "gpu-smoke-fail"}, "status": {"phase": "Failed", "containerStatuses": [
            {"state": {"terminated": {"exitCode": 9}}}]}},
        {"metadata": {"name": "gpu-smoke-rt"}, "status": {"phase": "Pending"}},
        {"metadata": {"name": "gpu-smoke-pending"}, "status": {"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "False", "message": "0/3 nodes are available"}]}},
    ]
    logs = [{"log_lines": ["GPU 0: A2", ""]}, {"log_lines": ["NVIDIA-SMI has failed"]}, {}, {}, {}]
    events = [{"involvedObject": {"name": "gpu-smoke-rt"},
               "message": 'failed to get sandbox runtime: no runtime for "nvidia" is configured'}]
    report = gc.smoke_report(pods, seen, logs, events, 60)
    why = dict((r["node"], r["problem"]) for r in report)
    assert why["ok"] == "" and report[0]["ok"] and report[0]["output"] == ["GPU 0: A2"]
    assert why["fail"].startswith("nvidia-smi exited 9: the container did not get a working GPU")
    assert why["rt"].startswith('no runtime: failed to get sandbox runtime: no runtime for "nvidia"')
    assert why["pending"] == "not scheduled: 0/3 nodes are available"
    assert why["slow"] == "did not finish within 60 s (phase unknown)"
    lines = gc.smoke_lines(report)
    assert lines[:2] == ["nvidia-smi in pod gpu-smoke-ok on ok:", "GPU 0: A2"]
    assert "GPU smoke test failed:" in lines and "last output line: NVIDIA-SMI has failed" in lines


@pytest.mark.parametrize("message, runtime", [
    ('failed to create containerd task: no runtime for "nvidia" is configured', True),
    ('RuntimeHandler "nvidia" not supported', True),
    ('pods "gpu-smoke-n" is forbidden: pod rejected: RuntimeClass "nvidia" not found', True),
    ('Back-off pulling image "nvidia/cuda:12.4.1-base-ubuntu22.04"', False),
], ids=["containerd", "cri-o", "admission", "image-pull"])
def test_smoke_report_reads_runtime_errors_as_the_doctor_does(message, runtime):
    pods = gc.smoke_pods([{"node": "n", "planned": {"nvidia.com/gpu": 1}}], [], SMOKE)
    seen = [{"metadata": {"name": "gpu-smoke-n"}, "status": {"phase": "Pending"}}]
    report = gc.smoke_report(pods, seen, [{}], [{"involvedObject": {"name": "gpu-smoke-n"}, "message": message}], 60)
    assert report[0]["problem"].startswith("no runtime: ") is runtime
