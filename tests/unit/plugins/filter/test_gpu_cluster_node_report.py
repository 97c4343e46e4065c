# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_cluster_node_report: planned vs advertised capacity, and the likely cause when they differ."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter.gpu_cluster_node_report import FilterModule, node_report

PLUGIN = {"namespace": "nvidia-device-plugin", "name": "nvidia-device-plugin",
          "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
LABELS = {"nvidia.com/gpu.present": "true", "nvidia.com/device-plugin.config": "nvidia-geforce-rtx-3090"}
PLAN = [{"host": "h1", "node": "n1", "capacity": {"nvidia.com/gpu": 8}, "labels": LABELS}]
RC = {"name": "nvidia", "exists": True}


def node(name="n1", gpus="8", labels=None, taints=None, extra=None):
    alloc = {"cpu": "8"}
    if gpus is not None:
        alloc["nvidia.com/gpu"] = gpus
    alloc.update(extra or {})
    return {"metadata": {"name": name, "labels": dict(LABELS if labels is None else labels)},
            "spec": {"taints": taints or []}, "status": {"allocatable": alloc}}


def pod(name="plugin-abc", node_name="n1", phase="Running", ready=True, waiting=None, restarts=0):
    state = {"waiting": waiting} if waiting else {"running": {}}
    return {"metadata": {"name": name}, "spec": {"nodeName": node_name},
            "status": {"phase": phase, "containerStatuses": [
                {"name": "nvidia-device-plugin-ctr", "ready": ready, "restartCount": restarts, "state": state}]}}


def event(obj, message, kind="Pod"):
    return {"involvedObject": {"kind": kind, "name": obj}, "message": message}


def test_all_good():
    report = node_report(PLAN, [node()], [pod()], [], RC, PLUGIN)
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["nodes"][0]["allocatable"] == {"nvidia.com/gpu": 8}


def test_capacity_only_mode_ignores_pods():
    assert node_report(PLAN, [node()])["ok"] is True
    report = node_report(PLAN, [node(gpus="4")])
    assert report["problems"] == ["n1: capacity mismatch: nvidia.com/gpu allocatable 4, planned 8"]


def test_node_not_in_cluster():
    report = node_report(PLAN, [node(name="other")], [], [], RC, PLUGIN)
    assert not report["ok"]
    assert "n1: node n1 (inventory host h1) is not in the cluster" in report["problems"][0]
    assert "cluster_join_node_name" in report["problems"][0]


def test_label_missing_and_no_plugin_pod():
    labels = dict(LABELS)
    del labels["nvidia.com/gpu.present"]
    report = node_report(PLAN, [node(labels=labels, gpus=None)], [], [], RC, PLUGIN)
    problems = report["problems"]
    assert problems[0].startswith("n1: label missing: nvidia.com/gpu.present=true (found None)")
    assert problems[1] == ("n1: device plugin not running on the node: no pod of nvidia-device-plugin/"
                           "nvidia-device-plugin there")


def test_config_label_missing_is_named():
    labels = {"nvidia.com/gpu.present": "true"}
    report = node_report(PLAN, [node(labels=labels)], [pod()], [], RC, PLUGIN)
    assert report["ok"] is False
    assert "label missing: nvidia.com/device-plugin.config=nvidia-geforce-rtx-3090" in report["problems"][0]
    assert "default config" in report["problems"][0]


def test_untolerated_taint_is_named():
    taints = [{"key": "dedicated", "value": "ml", "effect": "NoSchedule"},
              {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    report = node_report(PLAN, [node(taints=taints, gpus=None)], [], [], RC, PLUGIN)
    assert "untolerated taints dedicated=ml:NoSchedule)" in report["problems"][0]
    assert "nvidia.com/gpu=present" not in report["problems"][0]


@pytest.mark.parametrize("message", [
    'Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: '
    'no runtime for "nvidia" is configured',
    'Failed to create pod sandbox: RuntimeHandler "nvidia" not supported',
], ids=["containerd", "k3s"])
def test_no_runtime(message):
    stuck = pod(phase="Pending", ready=False, waiting={"reason": "ContainerCreating"})
    report = node_report(PLAN, [node(gpus=None)], [stuck], [event("plugin-abc", message)], RC, PLUGIN)
    assert report["problems"][0].startswith("n1: no runtime: device plugin pod plugin-abc cannot start")
    assert "gpu_runtime" in report["problems"][0]


def test_missing_runtime_class_rejects_daemonset_pods():
    ev = event("nvidia-device-plugin", 'Error creating: pods "x" is forbidden: pod rejected: RuntimeClass "nvidia" '
               'not found', kind="DaemonSet")
    report = node_report(PLAN, [node(gpus=None)], [], [ev], {"name": "nvidia", "exists": False}, PLUGIN)
    assert "no runtime: " in report["problems"][0]
    assert "RuntimeClass" in report["problems"][0]


def test_crashing_plugin():
    crash = pod(ready=False, waiting={"reason": "CrashLoopBackOff", "message": "back-off"}, restarts=7)
    report = node_report(PLAN, [node(gpus=None)], [crash], [], RC, PLUGIN)
    assert report["problems"][0].startswith("n1: device plugin not running on the node: pod plugin-abc is Running "
                                            "(CrashLoopBackOff: back-off), restarts 7")


def test_capacity_mismatch_with_renamed_resource():
    report = node_report(PLAN, [node(gpus=None, extra={"nvidia.com/gpu.shared": "8"})], [pod()], [], RC, PLUGIN)
    problem = report["problems"][0]
    assert problem.startswith("n1: capacity mismatch: nvidia.com/gpu allocatable 0, planned 8")
    assert "instead" in problem and "nvidia.com/gpu.shared=8" in problem


def test_plugin_running_but_nothing_advertised():
    report = node_report(PLAN, [node(gpus="0")], [pod()], [], RC, PLUGIN)
    assert "advertises no nvidia.com/gpu" in report["problems"][0]


def test_plan_must_be_a_list():
    with pytest.raises(AnsibleFilterError):
        node_report({"host": "h1"}, [])


def test_filter_is_registered():
    assert FilterModule().filters()["gpu_cluster_node_report"] is node_report


def test_daemonset_auto_tolerated_taints_are_not_blamed():
    """The DaemonSet controller tolerates node.kubernetes.io/* taints by itself: the verify view
    must not name them as the reason (it used its own toleration matching before, which did)."""
    taints = [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"},
              {"key": "gpu", "value": "true", "effect": "NoSchedule"}]
    report = node_report(PLAN, [node(taints=taints)], [], [], RC, PLUGIN)
    problem = report["problems"][0]
    assert "untolerated taints gpu=true:NoSchedule)" in problem
    assert "node.kubernetes.io/unreachable" not in problem


def test_plugin_pod_waiting_in_its_init_container():
    """A pod whose config-manager init container waits is described by that container, as the doctor does."""
    waiting_pod = pod(phase="Pending", ready=False, waiting={"reason": "PodInitializing"})
    waiting_pod["status"]["initContainerStatuses"] = [
        {"name": "init", "ready": False, "state": {"waiting": {"reason": "CreateContainerConfigError",
                                                               "message": "configmap not found"}}}]
    report = node_report(PLAN, [node(gpus="0")], [waiting_pod], [], RC, PLUGIN)
    assert report["problems"] == ["n1: device plugin not running on the node: pod plugin-abc is Pending "
                                  "(CreateContainerConfigError: configmap not found)"]
