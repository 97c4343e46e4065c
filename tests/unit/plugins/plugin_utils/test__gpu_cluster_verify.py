# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_cluster's verify step: plugins/plugin_utils/_gpu_cluster.py verify_view() over the doctor's
plugins/plugin_utils/_doctor_cluster.py verify_report() (planned vs advertised capacity, and the likely
cause when they differ), and its filter gpu_cluster_verify."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter.gpu_cluster import FilterModule, gpu_cluster_verify
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import verify_report as node_report
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster import daemonset_ready, retries, verify_view

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
    with pytest.raises(TypeError):
        node_report({"host": "h1"}, [])


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


# ------------------------------------------------------------------ verify_view (the role's verify step)

SETTINGS = {"deploy": "device_plugin", "namespace": "nvidia-device-plugin", "device_plugin_name": "nvidia-device-plugin",
            "device_plugin_tolerations": PLUGIN["tolerations"], "gpu_operator_namespace": "gpu-operator",
            "gpu_operator_values": {"daemonsets": {"tolerations": [{"operator": "Exists"}]}},
            "runtime_class_name": "nvidia", "runtime_class_apply": True, "runtime_class_existing": {},
            "verify_timeout": 300, "verify_delay": 5}


def daemonset(generation=2, observed=2, desired=1, ready=1, updated=1):
    return {"metadata": {"name": "nvidia-device-plugin", "generation": generation},
            "status": {"observedGeneration": observed, "desiredNumberScheduled": desired, "numberReady": ready,
                       "updatedNumberScheduled": updated}}


def settings(**changes):
    out = dict(SETTINGS)
    out.update(changes)
    return out


@pytest.mark.parametrize("ds, ready", [
    (daemonset(), True),
    (daemonset(observed=1), False),
    (daemonset(ready=0), False),
    (daemonset(updated=0), False),
    (daemonset(desired=0, ready=0, updated=0), True),
    (None, False),
], ids=["rolled-out", "old-generation-seen", "pod-not-ready", "pod-not-updated", "no-gpu-node-yet", "absent"])
def test_daemonset_ready(ds, ready):
    assert daemonset_ready([ds] if ds else []) is ready


@pytest.mark.parametrize("timeout, delay, expected", [(300, 5, 60), (7, 5, 2), (0, 5, 1), (10, 0, 10)])
def test_retries_cover_the_timeout(timeout, delay, expected):
    assert retries(timeout, delay) == expected


def test_the_device_plugin_or_the_gpu_operator_daemonset_is_verified():
    assert verify_view(PLAN, SETTINGS)["target"] == {
        "namespace": "nvidia-device-plugin", "name": "nvidia-device-plugin",
        "pod_selector": ["app.kubernetes.io/name=nvidia-device-plugin"], "tolerations": PLUGIN["tolerations"]}
    assert verify_view(PLAN, settings(deploy="gpu_operator"))["target"] == {
        "namespace": "gpu-operator", "name": "nvidia-device-plugin-daemonset",
        "pod_selector": ["app=nvidia-device-plugin-daemonset"], "tolerations": [{"operator": "Exists"}]}


def test_before_anything_is_read_nothing_is_ready():
    view = verify_view(PLAN, SETTINGS)
    assert (view["ds_ready"], view["capacity_ok"], view["retries"]) == (False, False, 60)


def test_capacity_is_only_ok_once_the_daemonset_is_ready():
    assert verify_view(PLAN, SETTINGS, [daemonset(ready=0)], [node()])["capacity_ok"] is False
    view = verify_view(PLAN, SETTINGS, [daemonset()], [node()])
    assert view["capacity_ok"] is True
    assert view["report"]["ok"] is True
    assert view["lines"] == ["n1: nvidia.com/gpu=8 allocatable, as planned"]
    assert view["smoke"] is True


def test_the_diagnosis_names_every_node_that_falls_short_at_once():
    plan = PLAN + [{"host": "h2", "node": "n2", "capacity": {"nvidia.com/gpu": 2}, "labels": LABELS}]
    nodes = [node(gpus="4"), node(name="n2", gpus="0", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])]
    view = verify_view(plan, SETTINGS, [daemonset()], nodes, {"nodes": nodes, "pods": [pod()], "events": []})
    assert view["capacity_ok"] is False
    assert not view["report"]["ok"]
    assert [p.split(":")[0] for p in view["report"]["problems"]] == ["n1", "n2"]
    assert "untolerated taints gpu=true:NoSchedule" in view["report"]["problems"][1]


@pytest.mark.parametrize("changes, exists", [
    ({}, True),
    ({"runtime_class_apply": False, "runtime_class_existing": {"handler": "nvidia"}}, True),
    ({"runtime_class_apply": False, "runtime_class_existing": {}}, False),
], ids=["applied-by-the-role", "already-there", "missing"])
def test_a_missing_runtime_class_is_the_cause(changes, exists):
    view = verify_view(PLAN, settings(**changes), [daemonset()], [node(gpus="0")],
                       {"nodes": [node(gpus="0")], "pods": [], "events": []})
    problem = view["report"]["problems"][0]
    assert ("RuntimeClass nvidia does not exist" in problem) is not exists


def test_no_runtime_class_without_the_device_plugin_deploy():
    view = verify_view(PLAN, settings(deploy="gpu_operator", runtime_class_apply=False), [daemonset()],
                       [node(gpus="0")], {"nodes": [node(gpus="0")], "pods": [], "events": []})
    assert "RuntimeClass" not in view["report"]["problems"][0]


def test_the_filter_reads_registered_results():
    ds = {"resources": [daemonset()]}
    nodes = {"resources": [node(gpus="4")]}
    diag = {"results": [{"item": {"kind": "Node"}, "resources": [node(gpus="4")]},
                        {"item": {"kind": "Pod"}, "resources": [pod()]},
                        {"item": {"kind": "Event"}, "resources": []}]}
    view = gpu_cluster_verify(PLAN, SETTINGS, ds, nodes, diag)
    assert view["ds_ready"] is True
    assert view["report"]["problems"] == [
        "n1: capacity mismatch: nvidia.com/gpu allocatable 4, planned 8 (GPUs × replicas differ from the plan: the "
        "plugin may still run an old config (it reads its config only at start), the node label selects another "
        "ConfigMap key, or the node has another number of GPUs than its facts)"]
    # skipped reads (the Node wait when the DaemonSet never got ready, the diagnosis when all is well) count as unread
    view = gpu_cluster_verify(PLAN, SETTINGS, {"resources": []}, {"skipped": True}, {"skipped": True, "results": []})
    assert (view["ds_ready"], view["capacity_ok"]) == (False, False)
    assert FilterModule().filters()["gpu_cluster_verify"] is gpu_cluster_verify


def test_the_filter_wants_settings():
    with pytest.raises(AnsibleFilterError, match="settings must be a dict"):
        gpu_cluster_verify(PLAN, None)
