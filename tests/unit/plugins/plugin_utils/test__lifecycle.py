"""plugins/plugin_utils/_lifecycle.py: which pods hold a node's GPU, which budgets block a drain."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._lifecycle import (
    LifecycleError,
    blocker_lines,
    drain_blockers,
    gpu_pods,
    gpu_request,
    packages_to_remove,
)


def pod(name, node="wsl", gpu=None, owner="ReplicaSet", phase="Running", labels=None, ns="ai", init_gpu=None,
        terminating=False):
    meta = {"name": name, "namespace": ns, "labels": labels or {}}
    if owner:
        meta["ownerReferences"] = [{"kind": owner, "name": "x"}]
    if terminating:
        meta["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    spec = {"nodeName": node, "containers": [{"name": "c", "resources": {"limits": gpu} if gpu else {}}]}
    if init_gpu:
        spec["initContainers"] = [{"name": "i", "resources": {"requests": init_gpu}}]
    return {"metadata": meta, "spec": spec, "status": {"phase": phase}}


def pdb(name, selector, allowed, ns="ai", spec=None, healthy=1, desired=1):
    return {"metadata": {"name": name, "namespace": ns},
            "spec": dict(spec or {"minAvailable": 1}, selector=selector),
            "status": {"disruptionsAllowed": allowed, "currentHealthy": healthy, "desiredHealthy": desired}}


@pytest.mark.parametrize("p, want", [
    (pod("a", gpu={"nvidia.com/gpu": 1}), {"nvidia.com/gpu": 1}),
    (pod("a", gpu={"nvidia.com/gpu.shared": "2", "cpu": "1"}), {"nvidia.com/gpu.shared": 2}),
    (pod("a", gpu={"cpu": "1"}), {}),
    (pod("a", gpu={"nvidia.com/gpu": 0}), {}),
    (pod("a", init_gpu={"nvidia.com/gpu": 1}), {"nvidia.com/gpu": 1}),
], ids=["limit", "renamed-shared", "cpu-only", "zero", "init-container"])
def test_gpu_request(p, want):
    assert gpu_request(p) == want


def test_gpu_request_adds_up_the_containers_as_the_scheduler_does():
    """Two containers asking one GPU share each hold two (the pod's effective request: the sum of its
    containers, or the largest init container when that is more), as the doctor counts them."""
    two = pod("a", gpu={"nvidia.com/gpu": 1})
    two["spec"]["containers"].append({"name": "d", "resources": {"limits": {"nvidia.com/gpu": 1}}})
    assert gpu_request(two) == {"nvidia.com/gpu": 2}
    init = pod("a", gpu={"nvidia.com/gpu": 1}, init_gpu={"nvidia.com/gpu": 3})
    assert gpu_request(init) == {"nvidia.com/gpu": 3}


def test_gpu_pods_sorts_holding_daemonset_finished_and_ignores_other_nodes():
    pods = [
        pod("llm", gpu={"nvidia.com/gpu": 1}),
        pod("dying", gpu={"nvidia.com/gpu": 1}, terminating=True),
        pod("bare", gpu={"nvidia.com/gpu": 1}, owner=None),
        pod("probe", gpu={"nvidia.com/gpu": 1}, owner="DaemonSet"),
        pod("plugin", owner="DaemonSet"),
        pod("done", gpu={"nvidia.com/gpu": 1}, owner="Job", phase="Succeeded"),
        pod("web"),
        pod("elsewhere", node="gpu-3090", gpu={"nvidia.com/gpu": 1}),
    ]
    got = gpu_pods(pods, "wsl")
    assert [p["pod"] for p in got["holding"]] == ["ai/bare", "ai/dying", "ai/llm"]
    assert [p["terminating"] for p in got["holding"]] == [False, True, False]
    assert got["holding"][0]["owner"] is None
    assert [p["pod"] for p in got["daemonset"]] == ["ai/probe"]
    assert [p["pod"] for p in got["finished"]] == ["ai/done"]


def test_gpu_pods_rejects_non_lists():
    with pytest.raises(LifecycleError):
        gpu_pods({"items": []}, "wsl")


def test_drain_blockers_only_budgets_that_select_a_pod_on_the_node_and_allow_nothing():
    pods = [pod("infer-1", labels={"app": "infer"}), pod("llm-1", labels={"app": "llm"}),
            pod("infer-2", node="gpu-3090", labels={"app": "infer"}),
            pod("agent", owner="DaemonSet", labels={"app": "agent"})]
    pdbs = [
        pdb("infer", {"matchLabels": {"app": "infer"}}, 0),
        pdb("llm", {"matchLabels": {"app": "llm"}}, 1),                       # allows one: not blocking
        pdb("other-ns", {"matchLabels": {"app": "infer"}}, 0, ns="prod"),     # other namespace
        pdb("agent", {"matchLabels": {"app": "agent"}}, 0),                   # DaemonSet pods are not evicted
        pdb("expr", {"matchExpressions": [{"key": "app", "operator": "In", "values": ["llm", "x"]}]}, 0,
            spec={"maxUnavailable": 0}, healthy=1, desired=1),
    ]
    got = drain_blockers(pods, "wsl", pdbs)
    assert [b["pdb"] for b in got] == ["ai/expr", "ai/infer"]
    assert got[1]["pods"] == ["ai/infer-1"]
    assert blocker_lines("wsl", got) == [
        "PodDisruptionBudget ai/expr (maxUnavailable: 0; 1 healthy, 1 needed, disruptions allowed now: 0) blocks "
        "the eviction of ai/llm-1 from wsl",
        "PodDisruptionBudget ai/infer (minAvailable: 1; 1 healthy, 1 needed, disruptions allowed now: 0) blocks "
        "the eviction of ai/infer-1 from wsl",
    ]


@pytest.mark.parametrize("expr, labels, selected", [
    ({"key": "app", "operator": "NotIn", "values": ["x"]}, {"app": "y"}, True),
    ({"key": "app", "operator": "NotIn", "values": ["y"]}, {"app": "y"}, False),
    ({"key": "app", "operator": "Exists"}, {}, False),
    ({"key": "app", "operator": "DoesNotExist"}, {}, True),
], ids=["notin-other", "notin-same", "exists-missing", "doesnotexist"])
def test_drain_blockers_match_expressions(expr, labels, selected):
    got = drain_blockers([pod("p", labels=labels)], "wsl", [pdb("b", {"matchExpressions": [expr]}, 0)])
    assert bool(got) is selected


def test_budget_without_status_counts_as_blocking():
    budget = pdb("b", {}, 0)
    del budget["status"]
    assert [b["allowed"] for b in drain_blockers([pod("p")], "wsl", [budget])] == [0]


# --- the package record of an uninstall ------------------------------------------------------------------------

TOOLKIT = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
           "libnvidia-container1"]


def facts(*names):
    return {name: [{"name": name, "version": "1.17.8-1"}] for name in names}


def test_packages_to_remove_only_recorded_and_installed():
    record = {"packages": ["libnvidia-container-tools", "nvidia-container-toolkit"]}
    installed = facts("libnvidia-container1", "nvidia-container-toolkit", "nvidia-container-toolkit-base")
    assert packages_to_remove(record, installed) == ["nvidia-container-toolkit"]
    assert packages_to_remove({}, installed) == [] and packages_to_remove(None, installed) == []
    # a package name listed with no installed version is not installed
    assert packages_to_remove(record, {"nvidia-container-toolkit": []}) == []


@pytest.mark.parametrize("record", [{"packages": "nvidia-container-toolkit"}, ["nvidia-container-toolkit"], "x"])
def test_packages_bad_record(record):
    with pytest.raises(LifecycleError):
        packages_to_remove(record, facts())


def test_packages_bad_facts():
    with pytest.raises(LifecycleError):
        packages_to_remove({"packages": TOOLKIT}, ["nvidia-container-toolkit"])
