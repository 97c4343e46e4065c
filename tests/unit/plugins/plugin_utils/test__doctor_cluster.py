# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_doctor_cluster.py (GPU doctor, cluster side, controller only).

Kubernetes objects shaped like `kubectl get -o json` of a k3s cluster running the NVIDIA device
plugin v0.20.0 Helm chart; node results from the node side's own diagnose_node on real
nvidia-smi captures. The failure cases are the ones users hit: no RuntimeClass, plugin pod not on
the node, bad config key, capacity mismatch, taint without toleration, Pending pod with the
scheduler's reason. The same rules against a real kube-apiserver, scheduler and controller
manager: molecule/doctor_healthy_and_broken_nodes.
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _doctor as node_doctor
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _doctor_cluster as doctor
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.test__doctor import (
    by_id,
    healthy_probe,
    statuses,
)


PLUGIN_UID = "5d1e7a10-aaaa-4bbb-8ccc-000000000001"
NS = "nvidia-device-plugin"
CM = "nvidia-device-plugin-configs"
INSUFFICIENT = ("0/3 nodes are available: 3 Insufficient nvidia.com/gpu. preemption: 0/3 nodes are available: "
                "3 No preemption victims found for incoming pod.")


def k8s_node(name, labels=None, taints=None, gpus=0, capacity=None, ready=True, unschedulable=False):
    resources = {"cpu": "8", "memory": "32768Mi", "pods": "110"}
    if gpus:
        resources["nvidia.com/gpu"] = str(gpus)
    node = {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": "uid-" + name,
                     "labels": dict({"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}, **(labels or {}))},
        "spec": {"podCIDR": "10.42.1.0/24"},
        "status": {
            "capacity": dict(resources, **(capacity or {})),
            "allocatable": resources,
            "conditions": [{"type": "MemoryPressure", "status": "False"},
                           {"type": "Ready", "status": "True" if ready else "False",
                            "reason": "KubeletReady" if ready else "KubeletNotReady",
                            "message": "kubelet is posting ready status" if ready else
                            "container runtime network not ready: NetworkReady=false"}],
            "nodeInfo": {"kubeletVersion": "v1.31.4+k3s1", "containerRuntimeVersion": "containerd://1.7.23-k3s2"},
        },
    }
    if taints:
        node["spec"]["taints"] = taints
    if unschedulable:
        node["spec"]["unschedulable"] = True
    return node


def config_manager(name, oneshot):
    return {"name": name, "image": "nvcr.io/nvidia/k8s-device-plugin:v0.20.0", "command": ["config-manager"],
            "env": [{"name": "ONESHOT", "value": oneshot}, {"name": "KUBECONFIG", "value": ""},
                    {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
                    {"name": "NODE_LABEL", "value": "nvidia.com/device-plugin.config"},
                    {"name": "CONFIG_FILE_SRCDIR", "value": "/available-configs"},
                    {"name": "CONFIG_FILE_DST", "value": "/config/config.yaml"},
                    {"name": "DEFAULT_CONFIG", "value": ""},
                    {"name": "FALLBACK_STRATEGIES", "value": "named,single"}],
            "volumeMounts": [{"name": "available-configs", "mountPath": "/available-configs"},
                             {"name": "config", "mountPath": "/config"}]}


def plugin_ds(runtime_class="nvidia", tolerations=None, image="nvcr.io/nvidia/k8s-device-plugin:v0.20.0",
              ready=2, desired=2, with_config=True):
    spec = {
        "priorityClassName": "system-node-critical",
        "containers": [{"name": "nvidia-device-plugin-ctr", "image": image, "command": ["nvidia-device-plugin"],
                        "env": [{"name": "MPS_ROOT", "value": "/run/nvidia/mps"},
                                {"name": "MIG_STRATEGY", "value": "none"},
                                {"name": "FAIL_ON_INIT_ERROR", "value": "true"},
                                {"name": "CONFIG_FILE", "value": "/config/config.yaml"},
                                {"name": "NVIDIA_VISIBLE_DEVICES", "value": "all"}]}],
        "volumes": [{"name": "kubelet-device-plugins-dir",
                     "hostPath": {"path": "/var/lib/kubelet/device-plugins", "type": "Directory"}}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "feature.node.kubernetes.io/pci-10de.present", "operator": "In",
                                   "values": ["true"]}]},
            {"matchExpressions": [{"key": "nvidia.com/gpu.present", "operator": "In", "values": ["true"]}]}]}}},
        "tolerations": tolerations if tolerations is not None else [
            {"key": "CriticalAddonsOnly", "operator": "Exists"},
            {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
    }
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    if with_config:
        spec["shareProcessNamespace"] = True
        spec["initContainers"] = [config_manager("nvidia-device-plugin-init", "true")]
        spec["containers"].insert(0, config_manager("nvidia-device-plugin-sidecar", "false"))
        spec["volumes"] += [{"name": "available-configs", "configMap": {"name": CM}}, {"name": "config", "emptyDir": {}}]
    labels = {"app.kubernetes.io/name": "nvidia-device-plugin", "app.kubernetes.io/instance": "nvidia-device-plugin"}
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "nvidia-device-plugin", "namespace": NS, "uid": PLUGIN_UID, "labels": labels},
            "spec": {"selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels}, "spec": spec}},
            "status": {"desiredNumberScheduled": desired, "numberReady": ready, "currentNumberScheduled": desired}}


def gfd_ds():
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": "gpu-feature-discovery", "namespace": NS, "uid": "gfd"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "gpu-feature-discovery-ctr", "image": "nvcr.io/nvidia/k8s-device-plugin:v0.20.0",
                 "command": ["gpu-feature-discovery"]}]}}}}


def plugin_pod(node, name=None, phase="Running", ready=True, waiting=None, restarts=0):
    state = {"running": {"startedAt": "2026-01-10T08:00:05Z"}} if not waiting else {"waiting": waiting}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name or "nvidia-device-plugin-" + node[-5:], "namespace": NS, "uid": "pod-" + node,
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "controller": True,
                                              "name": "nvidia-device-plugin", "uid": PLUGIN_UID}]},
            "spec": {"nodeName": node, "runtimeClassName": "nvidia",
                     "containers": [{"name": "nvidia-device-plugin-sidecar"}, {"name": "nvidia-device-plugin-ctr"}]},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "nvidia-device-plugin-sidecar", "ready": ready, "restartCount": 0, "state": state},
                {"name": "nvidia-device-plugin-ctr", "ready": ready, "restartCount": restarts, "state": state}]}}


def workload_pod(name, node=None, gpus=1, runtime_class=None, phase="Running", scheduled_message=None, ns="ai"):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "namespace": ns, "uid": "uid-" + name},
           "spec": {"containers": [{"name": "main", "image": "docker.io/nvidia/cuda:12.4.1-base-ubuntu22.04",
                                    "resources": {"limits": {"nvidia.com/gpu": str(gpus)}, "requests": {"cpu": "1"}}}]},
           "status": {"phase": phase}}
    if node:
        pod["spec"]["nodeName"] = node
    if runtime_class:
        pod["spec"]["runtimeClassName"] = runtime_class
    if scheduled_message:
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                                        "message": scheduled_message}]
    return pod


def configmap(data):
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CM, "namespace": NS}, "data": data}


TS4 = "version: v1\nsharing:\n  timeSlicing:\n    resources:\n      - name: nvidia.com/gpu\n        replicas: 4\n"


def node_result(smi_capture, hostname, capture="netdata/rtx-4090-driver-535.xml", wsl=False, runtimes=("nvidia", "runc"),
                default="runc"):
    result = node_doctor.diagnose_node(healthy_probe(smi_capture, wsl=wsl))
    result["nvidia"] = node_doctor.smi_facts({"path": "/usr/bin/nvidia-smi", "rc": 0, "stdout": smi_capture(capture)}, wsl)[0]
    result["node"].update(hostname=hostname, runtimes=list(runtimes), default_runtime=default)
    return result


def world(smi_capture):
    """Two GPU nodes, everything right: gpu-a (RTX 4090, 4 replicas) and gpu-b (WSL, no sharing)."""
    inputs = [{"host": "gpu-a", "names": [], "result": node_result(smi_capture, "gpu-a")},
              {"host": "wsl-b", "names": ["k3s-wsl"], "result": node_result(smi_capture, "wsl-b", wsl=True)}]
    objects = {
        "available": True,
        "api_host": "localhost",
        "nodes": [
            k8s_node("gpu-a", {"nvidia.com/gpu.present": "true", doctor.CONFIG_LABEL: "rtx-4090"}, gpus=4),
            k8s_node("k3s-wsl", {"nvidia.com/gpu.present": "true", "node-type": "wsl"}, gpus=1),
            k8s_node("server", {"node-role.kubernetes.io/control-plane": "true"},
                     taints=[{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]),
        ],
        "runtime_classes": [{"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass", "metadata": {"name": "nvidia"},
                             "handler": "nvidia"}],
        "daemonsets": [plugin_ds(), gfd_ds()],
        "pods": [plugin_pod("gpu-a"), plugin_pod("k3s-wsl"),
                 workload_pod("ollama-0", node="gpu-a", runtime_class="nvidia")],
        "config_maps": [configmap({"rtx-4090": TS4, "default": "version: v1\n"})],
        "events": [],
    }
    return inputs, objects


def report(inputs, objects, **options):
    opts = {"runtime_class": "nvidia", "cluster": "auto", "parse_yaml": yaml.safe_load}
    opts.update(options)
    return doctor.build_report(inputs, objects, opts)


def test_healthy_cluster_everything_passes(smi_capture):
    rep = report(*world(smi_capture))
    assert rep["ok"], rep["problems"]
    assert [c["id"] for c in rep["cluster"]["checks"]] == list(doctor.CLUSTER_CHECK_IDS)
    gpu_a = rep["nodes"]["gpu-a"]
    assert [c["id"] for c in gpu_a["checks"]] == list(node_doctor.NODE_CHECK_IDS + doctor.CLUSTER_NODE_CHECK_IDS)
    assert gpu_a["node"] == "gpu-a" and rep["nodes"]["wsl-b"]["node"] == "k3s-wsl"
    assert by_id(gpu_a["checks"], "capacity")["detail"] == "advertises nvidia.com/gpu=4, as planned"
    assert "key rtx-4090 (label nvidia.com/device-plugin.config=rtx-4090) is valid: sharing time-slicing" in \
        by_id(gpu_a["checks"], "plugin_config")["detail"]
    # no label on the WSL node: config-manager's 'named' fallback picks the key 'default'
    assert "key default (fallback named)" in by_id(rep["nodes"]["wsl-b"]["checks"], "plugin_config")["detail"]
    assert rep["problems"] == []
    assert by_id(rep["cluster"]["checks"], "device_plugin")["detail"].startswith(
        "DaemonSet nvidia-device-plugin/nvidia-device-plugin (nvcr.io/nvidia/k8s-device-plugin:v0.20.0), 2/2")


def test_no_runtime_class(smi_capture):
    inputs, objects = world(smi_capture)
    objects["runtime_classes"] = []
    rep = report(inputs, objects)
    item = by_id(rep["cluster"]["checks"], "runtime_class")
    assert item["status"] == "fail" and item["detail"] == "no RuntimeClass nvidia (existing: none)"
    assert "handler nvidia" in item["fix"]
    node = statuses(rep["nodes"]["gpu-a"]["checks"])
    assert node["plugin_runtime"] == "fail" and node["runtime_handler"] == "skip"
    assert "uses runtimeClassName nvidia, which does not exist" in by_id(rep["nodes"]["gpu-a"]["checks"],
                                                                         "plugin_runtime")["detail"]


def test_plugin_pod_not_on_node_because_of_affinity(smi_capture):
    inputs, objects = world(smi_capture)
    objects["nodes"][0]["metadata"]["labels"].pop("nvidia.com/gpu.present")
    objects["pods"] = objects["pods"][1:]
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_pod")
    assert item["status"] == "fail" and "does not select node gpu-a: required node affinity" in item["detail"]
    assert "nvidia.com/gpu.present In true" in item["detail"] and "label the node" in item["fix"]


def test_taint_without_toleration(smi_capture):
    inputs, objects = world(smi_capture)
    objects["nodes"][0]["spec"]["taints"] = [{"key": "gpu", "value": "true", "effect": "NoSchedule"},
                                             {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"},
                                             {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]
    objects["pods"] = objects["pods"][1:]
    checks = report(inputs, objects)["nodes"]["gpu-a"]["checks"]
    tol = by_id(checks, "plugin_tolerations")
    assert tol["status"] == "fail"
    # nvidia.com/gpu is tolerated by the DaemonSet, node.kubernetes.io/* by the DaemonSet controller
    assert tol["detail"].endswith("tolerates none of: gpu=true:NoSchedule")
    assert "{key: gpu, operator: Exists, effect: NoSchedule}" in tol["fix"]
    assert "taint gpu=true:NoSchedule not tolerated" in by_id(checks, "plugin_pod")["detail"]


def test_plugin_pod_stuck_without_runtime(smi_capture):
    inputs, objects = world(smi_capture)
    inputs[0]["result"]["node"]["runtimes"] = ["runc"]
    objects["pods"][0] = plugin_pod("gpu-a", phase="Pending", ready=False, waiting={"reason": "ContainerCreating"})
    objects["events"] = [{"apiVersion": "v1", "kind": "Event", "type": "Warning", "reason": "FailedCreatePodSandBox",
                          "metadata": {"name": "x.1", "namespace": NS}, "lastTimestamp": "2026-01-10T08:20:00Z",
                          "involvedObject": {"kind": "Pod", "name": objects["pods"][0]["metadata"]["name"],
                                             "namespace": NS},
                          "message": 'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get '
                                     'sandbox runtime: no runtime for "nvidia" is configured'}]
    objects["nodes"][0]["status"]["allocatable"].pop("nvidia.com/gpu")
    checks = report(inputs, objects)["nodes"]["gpu-a"]["checks"]
    pod = by_id(checks, "plugin_pod")
    assert pod["status"] == "fail" and "Pending (ContainerCreating)" in pod["detail"]
    assert 'event FailedCreatePodSandBox: Failed to create pod sandbox' in pod["detail"]
    assert "no runtime nvidia" in pod["fix"]
    handler = by_id(checks, "runtime_handler")
    assert handler["status"] == "fail" and "containerd on this node has only runc" in handler["detail"]
    cap = by_id(checks, "capacity")
    assert cap["status"] == "fail" and cap["detail"].startswith("node advertises no nvidia.com resource")


def test_plugin_crashloop(smi_capture):
    inputs, objects = world(smi_capture)
    objects["pods"][0] = plugin_pod("gpu-a", ready=False, restarts=7,
                                    waiting={"reason": "CrashLoopBackOff",
                                             "message": "back-off 5m0s restarting failed container"})
    pod = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_pod")
    assert "Running (CrashLoopBackOff); 7 restarts" in pod["detail"]
    assert "logs nvidia-device-plugin-gpu-a -c nvidia-device-plugin-ctr --previous" in pod["fix"]


@pytest.mark.parametrize("label, data, expect", [
    ("rtx4090", {"rtx-4090": TS4}, "config-manager: 'specified config rtx4090 does not exist'"),
    ("rtx-4090", {"rtx-4090": TS4.replace("replicas: 4", "replicas: 1")}, "number of replicas must be >= 2"),
    ("rtx-4090", {"rtx-4090": TS4.replace("timeSlicing", "timeslice")}, "unknown key"),
    ("rtx-4090", {"rtx-4090": "version: v1\nsharing: [\n"}, "is not valid YAML"),
    ("rtx-4090", {"rtx-4090": TS4.replace("version: v1", "version: v2")}, "unknown version: v2"),
], ids=["missing-key", "replicas-1", "typo-ignored", "bad-yaml", "bad-version"])
def test_bad_config_key(smi_capture, label, data, expect):
    inputs, objects = world(smi_capture)
    objects["nodes"][0]["metadata"]["labels"][doctor.CONFIG_LABEL] = label
    objects["config_maps"] = [configmap(data)]
    checks = report(inputs, objects)["nodes"]["gpu-a"]["checks"]
    item = by_id(checks, "plugin_config")
    assert item["status"] == "fail" and expect in item["detail"], item
    assert item["fix"]
    if label == "rtx4090":
        assert "kubectl label node gpu-a nvidia.com/device-plugin.config=<one of: rtx-4090> --overwrite" in item["fix"]
    if expect != "unknown key":
        assert by_id(checks, "capacity")["status"] == "skip"


def test_configmap_missing_and_no_config_manager(smi_capture):
    inputs, objects = world(smi_capture)
    objects["config_maps"] = []
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "fail" and "does not exist: the plugin pods cannot mount it" in item["detail"]
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [plugin_ds(with_config=False)]
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "fail" and "the label is ignored" in item["detail"]
    assert by_id(rep["nodes"]["wsl-b"]["checks"], "plugin_config")["status"] == "skip"
    # no config: the plan is one nvidia.com/gpu per GPU, and gpu-a advertises 4
    assert by_id(rep["nodes"]["gpu-a"]["checks"], "capacity")["status"] == "fail"


def test_capacity_mismatch_config_not_reread(smi_capture):
    inputs, objects = world(smi_capture)
    objects["nodes"][0]["status"]["allocatable"]["nvidia.com/gpu"] = "1"
    objects["nodes"][0]["status"]["capacity"]["nvidia.com/gpu"] = "1"
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "capacity")
    assert item["status"] == "fail"
    assert item["detail"] == ("node advertises nvidia.com/gpu=1, i.e. no sharing: the plugin runs without its config; "
                              "planned nvidia.com/gpu=4 (config rtx-4090)")
    assert item["fix"].startswith("kubectl -n nvidia-device-plugin delete pod nvidia-device-plugin-gpu-a")


def test_capacity_unhealthy_devices(smi_capture):
    inputs, objects = world(smi_capture)
    objects["nodes"][0]["status"]["allocatable"]["nvidia.com/gpu"] = "3"
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "capacity")
    assert item["status"] == "fail" and "devices marked unhealthy" in item["detail"] and "Xid" in item["fix"]


def test_pending_pod_with_scheduler_reason(smi_capture):
    inputs, objects = world(smi_capture)
    objects["pods"].append(workload_pod("trainer", gpus=2, runtime_class="nvidia", phase="Pending",
                                        scheduled_message=INSUFFICIENT))
    objects["pods"].append(workload_pod("web", gpus=0, phase="Pending", scheduled_message=INSUFFICIENT))
    item = by_id(report(inputs, objects)["cluster"]["checks"], "pending_gpu_pods")
    assert item["status"] == "fail"
    assert item["detail"] == ("1 GPU pod Pending: ai/trainer (nvidia.com/gpu=2): 0/3 nodes are available: "
                              "3 Insufficient nvidia.com/gpu.")
    assert "cluster allocatable nvidia.com/gpu=5" in item["fix"] and "time-slicing" in item["fix"]


@pytest.mark.parametrize("message, fix", [
    ("0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 2 Insufficient cpu.",
     "add a toleration"),
    ("0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.", "nodeSelector/affinity"),
    ("0/1 nodes are available: 1 node(s) were unschedulable.", "kubectl uncordon"),
], ids=["taint", "selector", "cordoned"])
def test_pending_fixes(smi_capture, message, fix):
    inputs, objects = world(smi_capture)
    objects["pods"].append(workload_pod("job", phase="Pending", scheduled_message=message))
    assert fix in by_id(report(inputs, objects)["cluster"]["checks"], "pending_gpu_pods")["fix"]


def test_gpu_pod_without_runtime_class_gets_no_gpu(smi_capture):
    inputs, objects = world(smi_capture)
    objects["pods"].append(workload_pod("comfyui", node="gpu-a"))
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "gpu_pods_runtime")
    assert item["status"] == "fail" and "started with runc, so no GPU inside: ai/comfyui" in item["detail"]
    inputs[0]["result"]["node"]["default_runtime"] = "nvidia"
    assert by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "gpu_pods_runtime")["status"] == "pass"


def test_plugin_without_runtime_class_on_runc_node(smi_capture):
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [plugin_ds(runtime_class=None)]
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_runtime")
    assert item["status"] == "fail" and "cannot load NVML" in item["detail"]
    assert "runtimeClassName=nvidia" in item["fix"]


def test_node_states(smi_capture):
    inputs, objects = world(smi_capture)
    objects["nodes"][0] = k8s_node("gpu-a", ready=False)
    assert "is NotReady" in by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "k8s_node")["detail"]
    objects["nodes"][0] = k8s_node("gpu-a", unschedulable=True)
    assert by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "k8s_node")["fix"] == "kubectl uncordon gpu-a"
    objects["nodes"] = objects["nodes"][1:]
    checks = report(inputs, objects)["nodes"]["gpu-a"]["checks"]
    assert by_id(checks, "k8s_node")["detail"] == "no Kubernetes node named gpu-a"
    cluster_side = ("plugin_pod", "plugin_tolerations", "plugin_config", "capacity", "gpu_pods_runtime")
    assert set(statuses(checks)[i] for i in cluster_side) == {"skip"}


def test_old_plugin_on_wsl(smi_capture):
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [plugin_ds(image="nvcr.io/nvidia/k8s-device-plugin:v0.14.5")]
    checks = report(inputs, objects)["nodes"]
    assert "does not support WSL2" in by_id(checks["wsl-b"]["checks"], "plugin_pod")["detail"]
    assert by_id(checks["gpu-a"]["checks"], "plugin_pod")["status"] == "pass"


def test_two_device_plugins_and_none(smi_capture):
    inputs, objects = world(smi_capture)
    operator = plugin_ds()
    operator["metadata"].update(name="nvidia-device-plugin-daemonset", namespace="gpu-operator", uid="op")
    container = operator["spec"]["template"]["spec"]["containers"][-1]
    container.update(name="nvidia-device-plugin", command=["/bin/bash", "-c"],
                     args=["[[ -f /run/nvidia/validations/host-driver-ready ]] && exec nvidia-device-plugin;"])
    objects["daemonsets"].append(operator)
    item = by_id(report(inputs, objects)["cluster"]["checks"], "device_plugin")
    assert item["status"] == "fail" and item["detail"].startswith("2 device plugin DaemonSets")
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [gfd_ds()]
    rep = report(inputs, objects)
    assert by_id(rep["cluster"]["checks"], "device_plugin")["detail"] == "no NVIDIA device plugin DaemonSet in any namespace"
    assert statuses(rep["nodes"]["gpu-a"]["checks"])["plugin_pod"] == "skip"


def test_find_device_plugins_describes_the_helm_chart():
    found = doctor.find_device_plugins([gfd_ds(), plugin_ds()])
    assert len(found) == 1
    plugin = found[0]
    assert (plugin["namespace"], plugin["name"], plugin["version"]) == (NS, "nvidia-device-plugin", "0.20.0")
    assert plugin["config_manager"] is True and plugin["config_map"] == CM
    assert plugin["fallback_strategies"] == ["named", "single"] and plugin["default_config"] == ""
    assert plugin["mig_strategy"] == "none" and plugin["runtime_class"] == "nvidia"
    assert plugin["pod_selector"] == ["app.kubernetes.io/instance=nvidia-device-plugin",
                                      "app.kubernetes.io/name=nvidia-device-plugin"]
    old = {"metadata": {"name": "nvidia-device-plugin-daemonset", "namespace": "kube-system"},
           "spec": {"template": {"spec": {"containers": [{"name": "nvidia-device-plugin-ctr",
                                                          "image": "nvidia/k8s-device-plugin:1.0.0-beta4",
                                                          "args": ["--fail-on-init-error=false"]}]}}}}
    assert doctor.find_device_plugins([old])[0]["version"] == "1.0.0"


@pytest.mark.parametrize("label, default, fallbacks, keys, expect", [
    ("a", "", ["named"], ["a", "b"], ("a", None)),
    ("", "b", [], ["a", "b"], ("b", None)),
    ("", "c", [], ["a", "b"], (None, "specified config c does not exist (DEFAULT_CONFIG)")),
    ("", "", ["named", "single"], ["default", "x"], ("default", None)),
    ("", "", ["named", "single"], ["x"], ("x", None)),
    ("", "", ["named", "empty"], ["x", "y"], ("", None)),
    ("", "", ["named", "single"], ["x", "y"],
     (None, "no config was set, no default was provided, and all fallbacks failed")),
    ("", "", ["bogus"], ["x"], (None, "unknown fallback strategy: bogus")),
    ("a", "", [], [], (None, "no configuration files available")),
], ids=["label", "default", "default-missing", "named", "single", "empty", "all-failed", "bogus", "no-files"])
def test_select_config_like_config_manager(label, default, fallbacks, keys, expect):
    plugin = {"node_label": doctor.CONFIG_LABEL, "default_config": default, "fallback_strategies": fallbacks}
    key, dummy, error = doctor.select_config(plugin, {doctor.CONFIG_LABEL: label} if label else {}, keys)
    assert (key, error) == expect


@pytest.mark.parametrize("tolerations, taint, expect", [
    ([{"operator": "Exists"}], {"key": "a", "effect": "NoSchedule"}, True),
    ([{"key": "a", "operator": "Equal", "value": "x"}], {"key": "a", "value": "y", "effect": "NoSchedule"}, False),
    ([{"key": "a", "value": "x"}], {"key": "a", "value": "x", "effect": "NoExecute"}, True),
    ([{"key": "a", "operator": "Exists", "effect": "NoExecute"}], {"key": "a", "effect": "NoSchedule"}, False),
], ids=["wildcard", "value-differs", "default-equal", "effect-differs"])
def test_tolerates(tolerations, taint, expect):
    assert doctor.tolerates(tolerations, taint) is expect


def test_cluster_unreachable_modes(smi_capture):
    inputs, dummy = world(smi_capture)
    objects = {"available": False, "error": "Could not create API client: Invalid kube-config file. "
                                            "No configuration found.\nmore"}
    rep = report(inputs, objects)
    assert rep["cluster"]["checked"] is False
    assert rep["cluster"]["checks"] == [dict(doctor.check(
        "kube_api", "skip", "cluster checks skipped: Could not create API client: Invalid kube-config file. "
        "No configuration found.", rep["cluster"]["checks"][0]["fix"]), layer="connection")]
    assert [c["id"] for c in rep["nodes"]["gpu-a"]["checks"]] == list(node_doctor.NODE_CHECK_IDS)
    assert rep["ok"] is True
    # auto: the cluster was not required, the nodes are healthy -> exit 0
    assert (rep["status"], rep["exit_code"], rep["not_checked"]) == ("healthy", 0, [])
    always = report(inputs, objects, cluster="always")
    assert always["cluster"]["checks"][0]["status"] == "fail"
    assert (always["status"], always["exit_code"]) == ("not_checked", 2)
    assert always["not_checked"] == ["cluster: cluster checks skipped: Could not create API client: Invalid "
                                     "kube-config file. No configuration found."]
    never = report(inputs, {"available": True, "nodes": []}, cluster="never")
    assert never["cluster"]["checks"][0]["detail"] == "cluster checks skipped: doctor_cluster=never"


def test_unreachable_and_failed_hosts(smi_capture):
    inputs, objects = world(smi_capture)
    inputs.append({"host": "gone", "unreachable": True, "result": {"unreachable": True},
                   "msg": "Failed to connect to the host via ssh: ssh: connect to host 192.168.10.50 port 22: "
                          "No route to host"})
    inputs.append({"host": "nopython", "result": {"failed": True, "msg": "/usr/bin/python3: not found"}})
    rep = report(inputs, objects)
    gone = rep["nodes"]["gone"]["checks"]
    assert gone[0]["id"] == "doctor_module" and gone[0]["detail"].startswith("unreachable: Failed to connect")
    assert "ansible.builtin.ping gone" in gone[0]["fix"]
    assert by_id(gone, "k8s_node")["status"] == "fail"
    assert rep["nodes"]["nopython"]["checks"][0]["detail"] == "failed: /usr/bin/python3: not found"
    assert "gone: doctor_module: unreachable" in rep["problems"][0]


def test_tables(smi_capture):
    inputs, objects = world(smi_capture)
    objects["runtime_classes"] = []
    tables = doctor.format_tables(report(inputs, objects), width=100)
    assert [t["name"] for t in tables] == ["cluster", "gpu-a", "wsl-b"]
    cluster = tables[0]["lines"]
    assert cluster[0] == "cluster (kube API via localhost): 1 fail, 3 pass, 0 skip"
    assert cluster[1].split() == ["CHECK", "DETAIL"]
    fail_row = [i for i, line in enumerate(cluster) if line.startswith("FAIL  runtime_class")][0]
    assert cluster[fail_row + 1].lstrip().startswith("-> fix: create RuntimeClass nvidia")
    assert all(len(line) <= 100 for t in tables for line in t["lines"])
    assert tables[2]["lines"][0].startswith("wsl-b (node k3s-wsl, containerd, WSL2): ")
    assert tables[0]["text"] == "\n".join(cluster)
    assert not any('"' in line for t in tables for line in t["lines"])


def test_table_wraps_long_details_and_keeps_columns():
    checks = [doctor.check("plugin_config", "fail", "word " * 60, "fix " * 40), doctor.check("x", "pass", "ok")]
    lines = doctor.format_table("t", checks, width=60, max_lines=3)
    detail_lines = [line for line in lines if line.startswith(" ") and "word" in line]
    assert len(detail_lines) == 2 and lines[2].endswith("word") and detail_lines[-1].endswith("...")
    assert all(line.index("word") == lines[2].index("word") for line in detail_lines)
    fix_lines = [line for line in lines if "fix" in line]
    assert fix_lines[0].lstrip().startswith("-> fix:") and fix_lines[1].startswith(" " * 29)
    assert lines[-1].startswith("pass  x")


def test_check_rejects_unknown_status():
    with pytest.raises(ValueError):
        doctor.check("x", "warn", "")


def test_to_plain_and_gpu_requests():
    assert doctor.to_plain({"a": (1, b"x", {"b": "c"})}) == {"a": [1, "x", {"b": "c"}]}
    pod = {"spec": {"containers": [{"resources": {"limits": {"nvidia.com/gpu": "1", "cpu": "2"}}},
                                   {"resources": {"requests": {"nvidia.com/gpu.shared": "2"}}}],
                    "initContainers": [{"resources": {"limits": {"nvidia.com/gpu": "3"}}}]}}
    assert doctor.gpu_requests(pod) == {"nvidia.com/gpu": 3, "nvidia.com/gpu.shared": 2}


SCHEMA = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "docs", "doctor-report.schema.json")


def test_report_schema_status_exit_code_and_layers(smi_capture):
    """The report file's contract: docs/doctor-report.schema.json validates every report shape
    (healthy, problems, not checked), and exit_code follows status."""
    jsonschema = pytest.importorskip("jsonschema")
    with open(SCHEMA) as handle:
        schema = json.load(handle)
    jsonschema.Draft202012Validator.check_schema(schema)
    inputs, objects = world(smi_capture)
    healthy = report(inputs, objects)
    broken_objects = copy.deepcopy(objects)
    broken_objects["runtime_classes"] = []
    problems_found = report(inputs, broken_objects)
    unreachable = report(inputs + [{"host": "asleep", "unreachable": True, "msg": "ssh: connect timed out"}], objects)
    assert [(r["status"], r["exit_code"]) for r in (healthy, problems_found, unreachable)] == [
        ("healthy", 0), ("problems", 1), ("not_checked", 2)]
    assert unreachable["not_checked"] == ["asleep: unreachable: ssh: connect timed out"]
    for rep in (healthy, problems_found, unreachable):
        jsonschema.validate(json.loads(json.dumps(rep)), schema)
        assert rep["schema"] == "homelab.gpu_node/doctor-report" and rep["schema_version"] == 1
    layers = dict((c["id"], c["layer"]) for c in healthy["nodes"]["gpu-a"]["checks"] + healthy["cluster"]["checks"])
    assert layers["nvidia_smi"] == "driver" and layers["capacity"] == "allocatable"
    assert "other" not in layers.values()
    # a report missing a required field does not validate (the schema is not a rubber stamp)
    bad = copy.deepcopy(healthy)
    del bad["nodes"]["gpu-a"]["checks"][0]["fix"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


# =========================================================================== doctor v2 cluster checks (issue 20)


def managed(manager, time, fields):
    return {"manager": manager, "operation": "Update", "apiVersion": "v1", "time": time, "fieldsType": "FieldsV1",
            "fieldsV1": fields}


def dcgm_ds(runtime_class=None, name="nvidia-dcgm-exporter", ns="gpu-operator"):
    spec = {"containers": [{"name": "nvidia-dcgm-exporter", "image": "nvcr.io/nvidia/k8s/dcgm-exporter:4.2.3-4.1.3-ubuntu22.04"}]}
    if runtime_class:
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": ns, "uid": "dcgm"},
            "spec": {"template": {"spec": spec}}}


def owned_pod(ds, node, name):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ds["metadata"]["namespace"], "uid": "uid-" + name,
                         "ownerReferences": [{"kind": "DaemonSet", "name": ds["metadata"]["name"],
                                              "uid": ds["metadata"]["uid"]}]},
            "spec": {"nodeName": node, "containers": [{"name": "main"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "main", "ready": True, "restartCount": 0,
                 "state": {"running": {"startedAt": "2026-01-10T08:00:05Z"}}}]}}


def test_find_gpu_daemonsets_gfd_and_dcgm_not_the_plugin():
    found = doctor.find_gpu_daemonsets([plugin_ds(), gfd_ds(), dcgm_ds("nvidia")])
    assert [(d["namespace"], d["name"], d["what"], d["runtime_class"]) for d in found] == [
        ("gpu-operator", "nvidia-dcgm-exporter", "DCGM exporter", "nvidia"),
        (NS, "gpu-feature-discovery", "GPU feature discovery", "")]


def test_gfd_and_dcgm_without_runtime_class_on_a_runc_node(smi_capture):
    inputs, objects = world(smi_capture)
    gfd, dcgm = gfd_ds(), dcgm_ds()
    objects["daemonsets"] = [plugin_ds(), gfd, dcgm]
    objects["pods"] += [owned_pod(gfd, "gpu-a", "gpu-feature-discovery-x1"), owned_pod(dcgm, "gpu-a", "dcgm-y2")]
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "gfd_dcgm_runtime")
    assert item["status"] == "fail"
    assert ("GPU feature discovery DaemonSet nvidia-device-plugin/gpu-feature-discovery sets no runtimeClassName and "
            "the node's default runtime is runc: pod nvidia-device-plugin/gpu-feature-discovery-x1 cannot load NVML "
            "(no GPU labels)") in item["detail"]
    assert "DCGM exporter DaemonSet gpu-operator/nvidia-dcgm-exporter" in item["detail"]
    assert "(no GPU metrics)" in item["detail"]
    assert item["fix"].startswith("set runtimeClassName: nvidia in the DaemonSet (Helm: runtimeClassName=nvidia")
    # the WSL node has no such pod
    wsl = by_id(report(inputs, objects)["nodes"]["wsl-b"]["checks"], "gfd_dcgm_runtime")
    assert wsl == {"id": "gfd_dcgm_runtime", "status": "pass", "fix": "", "layer": "runtime_class",
                   "detail": "no GPU feature discovery or DCGM exporter pod on this node"}


@pytest.mark.parametrize("runtime_class, default, status, words", [
    ("nvidia", "runc", "pass", "DCGM exporter pods (gpu-operator/dcgm-y2) use RuntimeClass nvidia (handler nvidia)"),
    ("nvidia-cdi", "runc", "fail", "uses runtimeClassName nvidia-cdi, which does not exist"),
    (None, "nvidia", "pass", "no runtimeClassName, but the node's default runtime is nvidia"),
    (None, None, "skip", "sets no runtimeClassName and the node's default runtime is unknown"),
])
def test_gfd_dcgm_runtime_same_rule_as_plugin_runtime(smi_capture, runtime_class, default, status, words):
    inputs, objects = world(smi_capture)
    inputs[0]["result"]["node"]["default_runtime"] = default
    dcgm = dcgm_ds(runtime_class)
    objects["daemonsets"].append(dcgm)
    objects["pods"].append(owned_pod(dcgm, "gpu-a", "dcgm-y2"))
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "gfd_dcgm_runtime")
    assert item["status"] == status and words in item["detail"], item


CM_FIELDS = {"f:data": {".": {}, "f:default": {}, "f:rtx-4090": {}}}


def test_plugin_restart_configmap_changed_after_the_plugin_started(smi_capture):
    inputs, objects = world(smi_capture)
    cm = objects["config_maps"][0]
    cm["metadata"]["creationTimestamp"] = "2026-01-10T07:00:00Z"
    cm["metadata"]["managedFields"] = [managed("kubectl-edit", "2026-01-10T09:30:00Z", CM_FIELDS),
                                       managed("helm", "2026-01-10T07:00:00Z", {"f:metadata": {"f:labels": {}}})]
    # the plugin on gpu-a still advertises the GPU count, not the 4 replicas of its new config
    objects["nodes"][0]["status"]["allocatable"]["nvidia.com/gpu"] = "1"
    objects["nodes"][0]["status"]["capacity"]["nvidia.com/gpu"] = "1"
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_restart")
    assert item["status"] == "fail" and item["layer"] == "device_plugin"
    assert item["detail"] == (
        "ConfigMap nvidia-device-plugin/nvidia-device-plugin-configs changed 2026-01-10 09:30:00Z (by kubectl-edit), "
        "after container nvidia-device-plugin-ctr of nvidia-device-plugin/nvidia-device-plugin-gpu-a started "
        "2026-01-10 08:00:05Z: the plugin still runs the config it read at start (config-manager switches the config "
        "only when node label nvidia.com/device-plugin.config changes)")
    assert item["fix"].startswith("restart it: kubectl -n nvidia-device-plugin delete pod nvidia-device-plugin-gpu-a ")
    cap = by_id(rep["nodes"]["gpu-a"]["checks"], "capacity")
    assert cap["status"] == "fail"
    assert "pod nvidia-device-plugin/nvidia-device-plugin-gpu-a started before its ConfigMap changed (see " \
           "plugin_restart)" in cap["detail"]
    assert "config-manager switches it only when the node label changes: see plugin_restart" in cap["fix"]
    # the fix: a new pod, started after the change
    for pod in objects["pods"]:
        if pod["spec"]["nodeName"] == "gpu-a" and pod["metadata"]["namespace"] == NS:
            pod["status"]["containerStatuses"][1]["state"] = {"running": {"startedAt": "2026-01-10T09:31:12Z"}}
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_restart")
    assert item["status"] == "pass"
    assert "started 2026-01-10 09:31:12Z, after the last change of ConfigMap" in item["detail"]


def test_plugin_restart_label_switched_later_and_no_change_time(smi_capture):
    inputs, objects = world(smi_capture)
    assert by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_restart")["status"] == "skip"
    cm = objects["config_maps"][0]
    cm["metadata"]["managedFields"] = [managed("kubectl-edit", "2026-01-10T09:30:00Z", CM_FIELDS)]
    objects["nodes"][0]["metadata"]["managedFields"] = [
        managed("kubectl-label", "2026-01-10T09:35:00.123456789Z",
                {"f:metadata": {"f:labels": {"f:nvidia.com/device-plugin.config": {}}}})]
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_restart")
    assert item["status"] == "pass" and "config-manager switched the config and signalled the plugin" in item["detail"]


def static_plugin_ds(mount_items=None):
    """A plugin without config-manager: --config-file from a ConfigMap volume (a static manifest)."""
    ds = plugin_ds(with_config=False)
    spec = ds["spec"]["template"]["spec"]
    ctr = spec["containers"][0]
    ctr["env"] = [e for e in ctr["env"] if e["name"] != "CONFIG_FILE"]
    ctr["args"] = ["--config-file", "/etc/nvidia-device-plugin/config.yaml"]
    ctr["volumeMounts"] = [{"name": "plugin-config", "mountPath": "/etc/nvidia-device-plugin"}]
    volume = {"name": "plugin-config", "configMap": {"name": CM}}
    if mount_items:
        volume["configMap"]["items"] = mount_items
    spec["volumes"].append(volume)
    return ds


def test_plugin_config_from_a_configmap_without_config_manager(smi_capture):
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [static_plugin_ds(mount_items=[{"key": "rtx-4090", "path": "config.yaml"}])]
    objects["nodes"][0]["metadata"]["labels"].pop(doctor.CONFIG_LABEL)
    plugins = doctor.find_device_plugins(objects["daemonsets"])
    assert (plugins[0]["config_file_map"], plugins[0]["config_file_key"]) == (CM, "rtx-4090")
    assert doctor.plugin_reads(plugins)[0] == {"kind": "ConfigMap", "namespace": NS, "name": CM}
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "pass", item
    assert item["detail"] == ("ConfigMap nvidia-device-plugin/nvidia-device-plugin-configs key rtx-4090 (config file "
                              "/etc/nvidia-device-plugin/config.yaml) is valid: sharing time-slicing")
    assert by_id(rep["nodes"]["gpu-a"]["checks"], "capacity")["detail"] == "advertises nvidia.com/gpu=4, as planned"
    # before: 'has no config ConfigMap: no sharing', and capacity planned 1 against the 4 advertised


def test_plugin_config_file_key_missing_and_label_ignored(smi_capture):
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [static_plugin_ds()]
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "fail"
    assert "node label nvidia.com/device-plugin.config=rtx-4090 is set but" in item["detail"]
    assert "every node gets ConfigMap nvidia-device-plugin/nvidia-device-plugin-configs key config.yaml" in item["detail"]
    objects["nodes"][0]["metadata"]["labels"].pop(doctor.CONFIG_LABEL)
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "fail"
    assert "key config.yaml, which does not exist (keys: default, rtx-4090)" in item["detail"]
    assert item["fix"] == ("name the key config.yaml in the ConfigMap, or point --config-file/CONFIG_FILE at one of: "
                           "default, rtx-4090")


def test_plugin_restart_without_config_manager(smi_capture):
    inputs, objects = world(smi_capture)
    objects["daemonsets"] = [static_plugin_ds(mount_items=[{"key": "rtx-4090", "path": "config.yaml"}])]
    objects["config_maps"][0]["metadata"]["managedFields"] = [managed("kubectl-client-side-apply",
                                                                      "2026-01-10T08:10:00Z", CM_FIELDS)]
    for pod in objects["pods"]:
        if pod["metadata"]["namespace"] == NS:
            pod["status"]["containerStatuses"] = pod["status"]["containerStatuses"][1:]
    item = by_id(report(inputs, objects)["nodes"]["gpu-a"]["checks"], "plugin_restart")
    assert item["status"] == "fail"
    assert item["detail"].endswith("(DaemonSet nvidia-device-plugin/nvidia-device-plugin has no config-manager)")


def wsl_world(smi_capture, mode="mirrored", backend="vxlan", single=False):
    inputs, objects = world(smi_capture)
    inputs[1]["result"]["node"]["network"] = {"addresses": ["192.168.10.35"], "wsl_mode": mode,
                                              "wsl_mode_source": "wslinfo --networking-mode", "node_ip": [],
                                              "node_ip_source": None, "errors": []}
    wsl = objects["nodes"][1]
    wsl["metadata"]["annotations"] = {}
    if backend:
        wsl["metadata"]["annotations"].update({doctor.FLANNEL_BACKEND_ANNOTATION: backend,
                                               doctor.FLANNEL_PUBLIC_IP_ANNOTATION: "192.168.10.35"})
    if single:
        objects["nodes"] = [wsl]
    return inputs, objects


@pytest.mark.parametrize("mode, backend, single, status, words", [
    ("mirrored", "vxlan", False, "fail", "mirrored mode does not carry sockets the kernel creates (microsoft/WSL#10842)"),
    ("mirrored", "wireguard", False, "fail", "with flannel backend wireguard (public-ip 192.168.10.35)"),
    ("mirrored", "vxlan", True, "pass", "the only node: no pod traffic between nodes"),
    ("mirrored", "host-gw", False, "pass", "WSL networking mirrored (wslinfo --networking-mode), flannel backend host-gw"),
    ("nat", "vxlan", False, "fail", "the node's address 192.168.10.35 is private to the Windows host"),
    ("bridged", "vxlan", False, "pass", "WSL networking bridged (wslinfo --networking-mode), flannel backend vxlan"),
    ("mirrored", None, False, "skip", "not a flannel cluster"),
    (None, "vxlan", False, "skip", "WSL networking mode unknown"),
])
def test_wsl_networking(smi_capture, mode, backend, single, status, words):
    rep = report(*wsl_world(smi_capture, mode, backend, single))
    item = by_id(rep["nodes"]["wsl-b"]["checks"], "wsl_networking")
    assert item["status"] == status and words in item["detail"], item
    assert item["layer"] == "node"
    if status == "fail":
        assert "windows_host_networking_mode: bridged" in item["fix"]
        assert "networkingMode=bridged and vmSwitch=<switch>, then 'wsl --shutdown'" in item["fix"]
    # a bare-metal node is not concerned
    if not single:
        assert by_id(rep["nodes"]["gpu-a"]["checks"], "wsl_networking")["detail"] == "not a WSL 2 node"


def ip_world(smi_capture, registered="192.168.10.35", addresses=("192.168.10.35",), node_ip=(), internal=None):
    inputs, objects = world(smi_capture)
    inputs[1]["result"]["node"]["network"] = {
        "addresses": list(addresses), "node_ip": list(node_ip), "wsl_mode": "bridged",
        "node_ip_source": "/etc/rancher/k3s/config.yaml" if node_ip else None, "wsl_mode_source": "wslinfo", "errors": []}
    wsl = objects["nodes"][1]
    if registered:
        wsl["metadata"]["annotations"] = {doctor.K3S_INTERNAL_IP_ANNOTATION: registered}
    wsl["status"]["addresses"] = [{"type": "InternalIP", "address": internal or (registered or "").split(",")[0]},
                                  {"type": "Hostname", "address": "k3s-wsl"}]
    return inputs, objects


@pytest.mark.parametrize("kwargs, status, words, fix", [
    ({}, "pass", "node k3s-wsl registered as 192.168.10.35, an address of the node; node-ip not pinned", ""),
    ({"node_ip": ["192.168.10.35"]}, "pass", "node-ip pinned in /etc/rancher/k3s/config.yaml", ""),
    ({"node_ip": ["192.168.10.35"], "addresses": ["172.28.141.7"]}, "fail",
     "node-ip 192.168.10.35 in /etc/rancher/k3s/config.yaml is not an address of the node any more (it has "
     "172.28.141.7)", "set cluster_join_node_ip to it"),
    ({"addresses": ["172.28.141.7", "fd00::7"], "registered": "172.28.130.2"}, "fail",
     "node k3s-wsl registered as 172.28.130.2 (k3s.io/internal-ip, InternalIP 172.28.130.2) but has 172.28.141.7, "
     "fd00::7 now: the API server and the other nodes still use 172.28.130.2",
     "systemctl restart k3s-agent (it registers its current address)"),
    ({"addresses": ["192.168.10.35", "192.168.10.36"], "node_ip": ["192.168.10.36"]}, "fail",
     "node-ip 192.168.10.36 in /etc/rancher/k3s/config.yaml, but node k3s-wsl registered as 192.168.10.35: k3s was "
     "not restarted after node-ip changed", "restart k3s so it registers node-ip 192.168.10.36: systemctl restart k3s-agent"),
    ({"registered": None}, "skip", "has no k3s.io/internal-ip annotation: not a k3s node", ""),
])
def test_node_ip_drift(smi_capture, kwargs, status, words, fix):
    item = by_id(report(*ip_world(smi_capture, **kwargs))["nodes"]["wsl-b"]["checks"], "node_ip")
    assert item["status"] == status and words in item["detail"], item
    assert fix in item["fix"]
    if status == "fail" and "restarted" not in words:
        assert "NAT gives the VM a new address at every start" in item["fix"]


def test_node_ip_without_network_probe(smi_capture):
    inputs, objects = ip_world(smi_capture)
    inputs[1]["result"]["node"].pop("network")
    item = by_id(report(inputs, objects)["nodes"]["wsl-b"]["checks"], "node_ip")
    assert item["status"] == "skip" and "module predates this check" in item["detail"]


def test_parse_time_and_config_map_changed():
    assert doctor.parse_time("2026-01-10T09:35:00.123456789Z").isoformat() == "2026-01-10T09:35:00.123456+00:00"
    assert doctor.parse_time("") is None and doctor.parse_time("yesterday") is None
    cm = configmap({"a": "b"})
    assert doctor.config_map_changed(cm) == (None, None)
    cm["metadata"]["creationTimestamp"] = "2026-01-10T07:00:00Z"
    assert doctor.config_map_changed(cm)[1] == "creation"
    cm["metadata"]["managedFields"] = [managed("a", "2026-01-10T08:00:00Z", {"f:data": {}}),
                                       managed("b", "2026-01-10T09:00:00Z", {"f:binaryData": {}}),
                                       managed("c", "2026-01-10T10:00:00Z", {"f:metadata": {}})]
    assert doctor.config_map_changed(cm)[1] == "b"


def test_plugin_config_default_name_missing_and_unlabelled_node(smi_capture):
    """The default config name (DEFAULT_CONFIG / Helm config.default) and a node without the label."""
    inputs, objects = world(smi_capture)
    ds = plugin_ds()
    for container in ds["spec"]["template"]["spec"]["initContainers"] + ds["spec"]["template"]["spec"]["containers"]:
        for env in container.get("env") or []:
            if env["name"] == "DEFAULT_CONFIG":
                env["value"] = "time-sliced"
    objects["daemonsets"] = [ds]
    objects["nodes"][0]["metadata"]["labels"].pop(doctor.CONFIG_LABEL)
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "fail"
    assert item["detail"] == ("config-manager: 'specified config time-sliced does not exist (DEFAULT_CONFIG)' (ConfigMap "
                              "nvidia-device-plugin/nvidia-device-plugin-configs keys: default, rtx-4090)")
    assert item["fix"].startswith("the default config name time-sliced (DEFAULT_CONFIG; Helm config.default, GPU "
                                  "operator devicePlugin.config.default) is not a key: add key time-sliced")
    # no default: fallback 'named' picks key default (no sharing); capacity stays at the GPU count
    objects["daemonsets"] = [plugin_ds()]
    objects["nodes"][0]["status"]["allocatable"]["nvidia.com/gpu"] = "1"
    objects["nodes"][0]["status"]["capacity"]["nvidia.com/gpu"] = "1"
    rep = report(inputs, objects)
    item = by_id(rep["nodes"]["gpu-a"]["checks"], "plugin_config")
    assert item["status"] == "pass"
    assert item["detail"].endswith("key default (fallback named) is valid: sharing none; node gpu-a has no label "
                                   "nvidia.com/device-plugin.config, so keys that share the GPU (rtx-4090) are not used: "
                                   "label it to use one")
    assert by_id(rep["nodes"]["gpu-a"]["checks"], "capacity")["status"] == "pass"
