# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_gitops.py (Argo CD objects, node label paths, kind config).

The objects' validity is judged elsewhere by the real owners of the formats:
tests/integration/test_gpu_cluster_gitops.yml (the kube-apiserver with Argo CD's CRDs, kind's
own loader and Validate()). These tests pin the shapes and the refusals.
"""

from __future__ import annotations

import copy

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter.gpu_cluster_gitops import gpu_cluster_gitops
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gitops import (
    DEVICE_PLUGIN_CONFIG_LABEL,
    GitOpsError,
    argocd_objects,
    k3s_drop_ins,
    kind_cluster,
    kubelet_may_set,
    node_objects,
    problems,
    render,
)

TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
PLAN = [
    {"node": "gpu-a2", "labels": {"nvidia.com/gpu.present": "true", DEVICE_PLUGIN_CONFIG_LABEL: "nvidia-a2"},
     "taints": [TAINT]},
    {"node": "gpu-3090", "labels": {"nvidia.com/gpu.present": "true", "gpu-type": "rtx3090",
                                    DEVICE_PLUGIN_CONFIG_LABEL: "nvidia-geforce-rtx-3090"}, "taints": []},
]
RESOURCES = [
    {"apiVersion": "v1", "kind": "Namespace", "namespace": ""},
    {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "namespace": ""},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "namespace": ""},
    {"apiVersion": "v1", "kind": "ConfigMap", "namespace": "nvidia-device-plugin"},
    {"apiVersion": "apps/v1", "kind": "DaemonSet", "namespace": "nvidia-device-plugin"},
    {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "namespace": "monitoring"},
]
OPTS = {
    "namespace": "nvidia-device-plugin", "labels": {"app.kubernetes.io/part-of": "homelab-gpu-node"},
    "talos": False, "node_labels_via": ["k3s"], "argocd": True,
    "argocd_repo_url": "https://git.example.org/gitops.git", "argocd_path": "infra/gpu/",
    "argocd_target_revision": "HEAD", "argocd_namespace": "argocd", "argocd_project": "gpu-cluster",
    "argocd_create_project": True, "argocd_app_name": "nvidia-device-plugin",
    "argocd_destination_server": "https://kubernetes.default.svc", "argocd_destination_name": "",
    "argocd_prune": True, "argocd_self_heal": True, "argocd_sync_options": [], "argocd_applicationset": False,
    "gpu_operator": {}, "kind": False, "kind_name": "gpu", "kind_image": "", "kind_gpu_devices": "all",
    "kind_extra_mounts": [],
}


def opts(**changes):
    out = copy.deepcopy(OPTS)
    out.update(changes)
    return out


def by_file(files):
    return {f["file"]: f for f in files}


@pytest.mark.parametrize("label, allowed", [
    ("nvidia.com/device-plugin.config", True),
    ("gpu-type", True),
    ("node.kubernetes.io/instance-type", True),
    ("kubernetes.io/hostname", True),
    ("topology.kubernetes.io/zone", True),
    ("node-role.kubernetes.io/gpu", False),
    ("kubernetes.io/role", False),
    ("example.k8s.io/x", False),
])
def test_kubelet_may_set(label, allowed):
    assert kubelet_may_set(label) is allowed


def test_no_path_for_the_node_labels_names_every_node_and_its_label():
    found = problems(PLAN, opts(node_labels_via=[]))
    assert len(found) == 1
    assert "gpu-3090 needs nvidia.com/device-plugin.config=nvidia-geforce-rtx-3090" in found[0]
    assert "gpu-a2 needs nvidia.com/device-plugin.config=nvidia-a2" in found[0]
    assert "no sharing" in found[0]


def test_no_path_is_fine_without_gpu_nodes():
    assert problems([], opts(node_labels_via=[])) == []


@pytest.mark.parametrize("path, switch", [
    ("talos", "gpu_cluster_talos: true"),
    ("argocd", "gpu_cluster_argocd: true"),
    ("kind", "gpu_cluster_kind: true"),
])
def test_a_path_needs_its_part_switched_on(path, switch):
    found = problems(PLAN, opts(node_labels_via=[path], talos=False, argocd=False, kind=False))
    assert found == ["gpu_cluster_gitops_node_labels names %s, which is only rendered with %s." % (path, switch)]


def test_unknown_path():
    assert "unknown path(s) flux" in problems(PLAN, opts(node_labels_via=["flux"]))[0]


def test_labels_the_kubelet_may_not_set_need_the_api():
    plan = copy.deepcopy(PLAN)
    plan[0]["labels"]["node-role.kubernetes.io/gpu"] = "true"
    found = problems(plan, opts(node_labels_via=["k3s"]))
    assert found and "node-role.kubernetes.io/gpu (gpu-a2)" in found[0]
    assert problems(plan, opts(node_labels_via=["k3s", "argocd"])) == []
    assert problems(plan, opts(node_labels_via=["k3s", "manual"])) == []


@pytest.mark.parametrize("key", ["argocd_repo_url", "argocd_path"])
def test_argocd_needs_repository_and_path(key):
    found = problems(PLAN, opts(**{key: ""}))
    assert found == ["gpu_cluster_%s is required with gpu_cluster_argocd: true (the git repository and the path "
                     "in it where gpu_cluster_render_dir is committed)." % key]
    assert problems(PLAN, opts(argocd=False, **{key: ""})) == []


def test_argocd_names_must_be_kubernetes_names():
    found = problems(PLAN, opts(argocd_project="GPU_Cluster"))
    assert found == ["gpu_cluster_argocd_project 'GPU_Cluster' is not a Kubernetes name (lower case letters, digits, '-')."]


def test_argocd_needs_a_destination():
    assert "destination_server" in problems(PLAN, opts(argocd_destination_server=""))[0]
    assert problems(PLAN, opts(argocd_destination_server="", argocd_destination_name="in-cluster")) == []


def test_applications_sync_automated_with_prune_and_self_heal():
    files = by_file(argocd_objects(opts(), RESOURCES, node_labels_via_argocd=False))
    assert sorted(files) == ["argocd/application-nvidia-device-plugin.yaml", "argocd/appproject-gpu-cluster.yaml"]
    app = files["argocd/application-nvidia-device-plugin.yaml"]["manifest"]
    assert app["apiVersion"] == "argoproj.io/v1alpha1" and app["kind"] == "Application"
    assert app["metadata"] == {"name": "nvidia-device-plugin", "namespace": "argocd",
                               "labels": {"app.kubernetes.io/part-of": "homelab-gpu-node"}}
    assert app["spec"] == {
        "project": "gpu-cluster",
        "source": {"repoURL": "https://git.example.org/gitops.git", "targetRevision": "HEAD", "path": "infra/gpu"},
        "destination": {"namespace": "nvidia-device-plugin", "server": "https://kubernetes.default.svc"},
        "syncPolicy": {"automated": {"prune": True, "selfHeal": True}},
    }


def test_project_allows_exactly_the_rendered_kinds_and_namespaces():
    proj = by_file(argocd_objects(opts(), RESOURCES, True))["argocd/appproject-gpu-cluster.yaml"]["manifest"]
    assert proj["spec"]["sourceRepos"] == ["https://git.example.org/gitops.git"]
    assert proj["spec"]["clusterResourceWhitelist"] == [
        {"group": "", "kind": "Namespace"}, {"group": "", "kind": "Node"},
        {"group": "rbac.authorization.k8s.io", "kind": "ClusterRole"},
        {"group": "scheduling.k8s.io", "kind": "PriorityClass"}]
    assert [d["namespace"] for d in proj["spec"]["destinations"]] == ["monitoring", "nvidia-device-plugin"]


def test_no_project_object_for_the_default_project_or_when_switched_off():
    assert not any("appproject" in f["file"] for f in argocd_objects(opts(argocd_project="default"), RESOURCES, False))
    assert not any("appproject" in f["file"] for f in argocd_objects(opts(argocd_create_project=False), RESOURCES, False))


def test_node_labels_application_applies_server_side():
    files = by_file(argocd_objects(opts(argocd_sync_options=["PruneLast=true"]), RESOURCES, True))
    app = files["argocd/application-nvidia-device-plugin-node-labels.yaml"]["manifest"]
    assert app["spec"]["source"]["path"] == "infra/gpu/nodes"
    assert app["spec"]["syncPolicy"]["syncOptions"] == ["ServerSideApply=true", "PruneLast=true"]
    main = files["argocd/application-nvidia-device-plugin.yaml"]["manifest"]
    assert main["spec"]["syncPolicy"]["syncOptions"] == ["PruneLast=true"]


def test_destination_name_wins_over_server():
    app = argocd_objects(opts(argocd_destination_name="in-cluster"), RESOURCES, False)[1]["manifest"]
    assert app["spec"]["destination"] == {"namespace": "nvidia-device-plugin", "name": "in-cluster"}


def test_applicationset_generates_the_git_applications_instead():
    files = by_file(argocd_objects(opts(argocd_applicationset=True), RESOURCES, True))
    assert sorted(files) == ["argocd/applicationset-nvidia-device-plugin.yaml", "argocd/appproject-gpu-cluster.yaml"]
    appset = files["argocd/applicationset-nvidia-device-plugin.yaml"]["manifest"]["spec"]
    assert appset["goTemplate"] is True
    assert appset["generators"][0]["list"]["elements"] == [
        {"name": "nvidia-device-plugin", "path": "infra/gpu", "namespace": "nvidia-device-plugin"},
        {"name": "nvidia-device-plugin-node-labels", "path": "infra/gpu/nodes", "namespace": "nvidia-device-plugin"}]
    template = appset["template"]
    assert template["metadata"]["name"] == "{{.name}}"
    assert template["spec"]["source"]["path"] == "{{.path}}"
    assert template["spec"]["syncPolicy"] == {"automated": {"prune": True, "selfHeal": True},
                                              "syncOptions": ["ServerSideApply=true"]}


def test_gpu_operator_application_takes_the_chart_and_the_rendered_values():
    operator = {"repo_url": "https://helm.ngc.nvidia.com/nvidia", "chart_version": "v26.7.0",
                "namespace": "gpu-operator", "release": "gpu-operator"}
    files = by_file(argocd_objects(opts(gpu_operator=operator, argocd_target_revision="main"), RESOURCES, False))
    app = files["argocd/application-gpu-operator.yaml"]["manifest"]["spec"]
    assert app["sources"] == [
        {"repoURL": "https://helm.ngc.nvidia.com/nvidia", "chart": "gpu-operator", "targetRevision": "v26.7.0",
         "helm": {"releaseName": "gpu-operator", "valueFiles": ["$values/infra/gpu/gpu-operator/values.yaml"]}},
        {"repoURL": "https://git.example.org/gitops.git", "targetRevision": "main", "ref": "values"}]
    assert app["destination"]["namespace"] == "gpu-operator"
    assert app["syncPolicy"]["syncOptions"] == ["CreateNamespace=true", "ServerSideApply=true"]
    proj = files["argocd/appproject-gpu-cluster.yaml"]["manifest"]["spec"]
    assert proj["sourceRepos"][1] == "https://helm.ngc.nvidia.com/nvidia"
    assert proj["clusterResourceWhitelist"] == [{"group": "*", "kind": "*"}]


def test_node_objects_carry_the_labels_only_and_are_never_pruned():
    files = by_file(node_objects(PLAN))
    assert sorted(files) == ["nodes/kustomization.yaml", "nodes/node-gpu-3090.yaml", "nodes/node-gpu-a2.yaml"]
    node = files["nodes/node-gpu-a2.yaml"]["manifest"]
    assert node == {"apiVersion": "v1", "kind": "Node", "metadata": {
        "name": "gpu-a2", "labels": PLAN[0]["labels"],
        "annotations": {"argocd.argoproj.io/sync-options": "Prune=false,Delete=false"}}}
    assert files["nodes/kustomization.yaml"]["manifest"]["resources"] == ["node-gpu-3090.yaml", "node-gpu-a2.yaml"]


def test_k3s_drop_ins_append_labels_and_taints():
    plan = copy.deepcopy(PLAN)
    plan[0]["labels"]["node-role.kubernetes.io/gpu"] = "true"
    plan[0]["taints"].append({"key": "gpu-type", "effect": "PreferNoSchedule"})
    files = by_file(k3s_drop_ins(plan))
    assert files["k3s/node-gpu-a2.yaml"]["data"] == {
        "node-label+": ["nvidia.com/device-plugin.config=nvidia-a2", "nvidia.com/gpu.present=true"],
        "node-taint+": ["nvidia.com/gpu=present:NoSchedule", "gpu-type:PreferNoSchedule"]}
    assert "node-taint+" not in files["k3s/node-gpu-3090.yaml"]["data"]
    assert "/etc/rancher/k3s/config.yaml.d/" in files["k3s/node-gpu-3090.yaml"]["note"]


def test_kind_cluster_worker_per_gpu_node():
    cluster = kind_cluster(PLAN, opts(kind_image="kindest/node:v1.34.0",
                                      kind_extra_mounts=[{"host_path": "/usr/local/nvidia",
                                                          "container_path": "/usr/local/nvidia"}]))
    assert cluster["apiVersion"] == "kind.x-k8s.io/v1alpha4" and cluster["kind"] == "Cluster"
    assert [n["role"] for n in cluster["nodes"]] == ["control-plane", "worker", "worker"]
    assert all(n["image"] == "kindest/node:v1.34.0" for n in cluster["nodes"])
    worker_3090, worker_a2 = cluster["nodes"][1:]
    assert worker_3090["labels"][DEVICE_PLUGIN_CONFIG_LABEL] == "nvidia-geforce-rtx-3090"
    assert worker_3090["extraMounts"] == [
        {"hostPath": "/dev/null", "containerPath": "/var/run/nvidia-container-devices/all"},
        {"hostPath": "/usr/local/nvidia", "containerPath": "/usr/local/nvidia", "readOnly": True}]
    assert "kubeadmConfigPatches" not in worker_3090
    assert yaml.safe_load(worker_a2["kubeadmConfigPatches"][0]) == {
        "kind": "JoinConfiguration", "nodeRegistration": {"taints": [TAINT]}}
    v2, v3 = cluster["containerdConfigPatches"]
    assert v2.startswith("version = 2\n") and '[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]' in v2
    assert v3.startswith("version = 3\n") and '[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.nvidia]' in v3
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in v2


def test_kind_gpu_device_list():
    cluster = kind_cluster(PLAN[:1], opts(kind_gpu_devices=[0, "GPU-abc"]))
    assert [m["containerPath"] for m in cluster["nodes"][1]["extraMounts"]] == [
        "/var/run/nvidia-container-devices/0", "/var/run/nvidia-container-devices/GPU-abc"]
    assert "image" not in cluster["nodes"][0]


def test_render_picks_files_by_path_and_stops_on_problems():
    files = render(PLAN, RESOURCES, opts(node_labels_via=["k3s", "argocd"], kind=True))["files"]
    names = sorted(f["file"] for f in files)
    assert "nodes/node-gpu-a2.yaml" in names and "k3s/node-gpu-a2.yaml" in names and "kind/cluster.yaml" in names
    assert "argocd/application-nvidia-device-plugin-node-labels.yaml" in names
    plain = render(PLAN, RESOURCES, opts(argocd=False))
    assert sorted(f["file"] for f in plain["files"]) == ["k3s/node-gpu-3090.yaml", "k3s/node-gpu-a2.yaml"]
    stopped = render(PLAN, RESOURCES, opts(node_labels_via=[]))
    assert stopped["files"] == [] and len(stopped["problems"]) == 1


def test_render_refuses_a_plan_of_the_wrong_shape():
    with pytest.raises(GitOpsError):
        render([{"labels": {}}], RESOURCES, opts())


RENDERED = {
    "path": "out", "dirs": ["out"], "summary": "",
    "files": [{"file": "kustomization.yaml", "content": "# ours\n"}],
    "objects": [{"apiVersion": r["apiVersion"], "kind": r["kind"],
                 "metadata": dict({"name": "x"}, **({"namespace": r["namespace"]} if r["namespace"] else {}))}
                for r in RESOURCES],
}


def test_filter_turns_errors_into_filter_errors():
    with pytest.raises(AnsibleFilterError, match="gpu_cluster_gitops: plan must be a list"):
        gpu_cluster_gitops("not a plan", RENDERED, opts())
    assert gpu_cluster_gitops(PLAN, RENDERED, opts())["problems"] == []


def test_filter_adds_the_gitops_files_to_render_modes_files_and_folders():
    out = gpu_cluster_gitops(PLAN, RENDERED, opts())
    names = [f["file"] for f in out["rendered"]["files"]]
    assert names[0] == "kustomization.yaml" and names[1:] == out["files"] and out["files"]
    assert out["files"] == [f["file"] for f in render(PLAN, RESOURCES, opts())["files"]]
    for item in out["rendered"]["files"][1:]:
        assert item["content"].startswith("# Rendered by homelab.gpu_node.gpu_cluster.")
    assert set(out["rendered"]["dirs"]) == {"out"} | {"out/" + n.rpartition("/")[0] for n in out["files"] if "/" in n}
    assert RENDERED["files"] == [{"file": "kustomization.yaml", "content": "# ours\n"}]  # input untouched


def test_filter_leaves_the_render_alone_when_a_problem_stops_it():
    out = gpu_cluster_gitops(PLAN, RENDERED, opts(node_labels_via=[]))
    assert out["rendered"] is RENDERED and out["files"] == [] and len(out["problems"]) == 1
