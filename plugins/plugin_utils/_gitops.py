# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""GitOps files for the gpu_cluster role's render mode (controller side, pure).

From the role's node plan (one entry per GPU node: node name, labels, taints) and the list of
objects render mode writes, build:

* Argo CD objects (``argocd/``): an ``Application`` for the device plugin objects, one for the
  node labels when Argo CD owns them, one for the GPU operator's Helm chart, an ``AppProject``
  allowing exactly those kinds, or one ``ApplicationSet`` generating the git Applications;
  automated sync with prune and self-heal, as the Talos/Argo CD and kind/Terraform homelabs use;
* node label objects (``nodes/``): ``Node`` objects carrying only ``metadata.labels``, applied
  server side so Argo CD owns those label keys and nothing else, never pruned or deleted;
* per-node join configuration (``k3s/``): a k3s config drop-in with ``node-label+`` /
  ``node-taint+`` for each GPU node;
* a kind cluster config (``kind/cluster.yaml``, kind.x-k8s.io/v1alpha4) with a worker per GPU
  node: its labels, the GPU volume-mount request, the nvidia containerd runtime and its taints
  as a kubeadm JoinConfiguration patch.

The device plugin picks each node's sharing config from the node label
``nvidia.com/device-plugin.config``; a node without it falls back to the ConfigMap's
``default`` key (no sharing) without any error. ``problems()`` therefore refuses a render in
which no path carries the planned labels to the nodes.

Taints never go through Argo CD: ``Node.spec.taints`` is an atomic list for server-side apply
(k8s.io/api core/v1 ``+listType=atomic``), so owning it would replace the taints the node
lifecycle controller and ``kubectl cordon`` set, and self-heal would fight them. They go into the
join configuration (k3s ``node-taint``, Talos ``nodeTaints``, kubeadm ``nodeRegistration.taints``).
"""

from __future__ import annotations

import re

import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    CRI_PLUGIN,
    DEFAULT_RUNTIME_PATH,
    RUNTIME_TYPE,
)

DEVICE_PLUGIN_CONFIG_LABEL = "nvidia.com/device-plugin.config"
ARGOCD_API = "argoproj.io/v1alpha1"
NODE_LABEL_PATHS = ("k3s", "talos", "argocd", "kind", "manual")
# Argo CD resource annotation: never prune or delete these (Argo CD sync options).
NODE_SYNC_OPTIONS = "Prune=false,Delete=false"
# Where the k3s drop-in goes on the node (k3s reads /etc/rancher/k3s/config.yaml.d/*.yaml).
K3S_DROP_IN = "/etc/rancher/k3s/config.yaml.d/60-homelab-gpu-cluster.yaml"
# kind's node image ships containerd config version 2 (images/base/files/etc/containerd/
# config.toml in sigs.k8s.io/kind v0.33.0); version 3 is containerd 2.x's layout. kind applies a
# patch that sets `version` only to a config of that version.
# The runtime's path and CRI table names are the node side's (module_utils/_runtime_config.py).
# The NVIDIA container runtime on the Docker host turns a mount of /dev/null at this path into
# "give this container these GPUs" (accept-nvidia-visible-devices-as-volume-mounts = true).
KIND_DEVICE_LIST_DIR = "/var/run/nvidia-container-devices"
# Labels in the kubernetes.io / k8s.io namespaces a kubelet may set on its own node
# (NodeRestriction); others need the API (cluster_join uses the same list).
KUBELET_ALLOWED_PREFIXES = ("kubelet.kubernetes.io/", "node.kubernetes.io/")
KUBELET_ALLOWED_LABELS = (
    "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os", "beta.kubernetes.io/arch",
    "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type", "topology.kubernetes.io/region",
    "topology.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class GitOpsError(Exception):
    """Input that is not the shape the role passes (a bug, not a user problem)."""


def kubelet_may_set(label):
    """Whether a kubelet may put this label on its own node (k3s node-label, Talos nodeLabels, kind)."""
    prefix = label.split("/", 1)[0] if "/" in label else ""
    restricted = prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io") \
        or prefix == "k8s.io" or prefix.endswith(".k8s.io")
    if not restricted:
        return True
    return label in KUBELET_ALLOWED_LABELS or label.startswith(KUBELET_ALLOWED_PREFIXES)


def _taint_string(taint):
    value = taint.get("value")
    return "%s%s:%s" % (taint["key"], "=%s" % value if value not in (None, "") else "", taint["effect"])


def _group(api_version):
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def _destination(opts, namespace):
    dest = {"namespace": namespace}
    if opts.get("argocd_destination_name"):
        dest["name"] = opts["argocd_destination_name"]
    else:
        dest["server"] = opts["argocd_destination_server"]
    return dest


def _sync_policy(opts, extra_options=()):
    options = list(extra_options) + [o for o in opts.get("argocd_sync_options") or [] if o not in extra_options]
    policy = {"automated": {"prune": bool(opts["argocd_prune"]), "selfHeal": bool(opts["argocd_self_heal"])}}
    if options:
        policy["syncOptions"] = options
    return policy


def _path_join(*parts):
    return "/".join(p.strip("/") for p in parts if p and p.strip("/")) or "."


def _git_parts(opts, node_labels_via_argocd):
    """(Application name, repository path, destination namespace, extra sync options) per git part."""
    name = opts["argocd_app_name"]
    parts = [(name, _path_join(opts["argocd_path"]), opts["namespace"], ())]
    if node_labels_via_argocd:
        parts.append((name + "-node-labels", _path_join(opts["argocd_path"], "nodes"), opts["namespace"],
                      ("ServerSideApply=true",)))
    return parts


def _metadata(opts, name):
    return {"name": name, "namespace": opts["argocd_namespace"], "labels": dict(opts.get("labels") or {})}


def _object(kind, opts, name, spec):
    return {"apiVersion": ARGOCD_API, "kind": kind, "metadata": _metadata(opts, name), "spec": spec}


def _project(opts, resources, node_labels_via_argocd, operator):
    namespaces = sorted({r["namespace"] for r in resources if r.get("namespace")} | {opts["namespace"]}
                        | ({operator["namespace"]} if operator else set()))
    if operator:
        # the chart installs its own CRDs, ClusterRoles, RuntimeClasses, ... (not listed here)
        cluster_kinds = [{"group": "*", "kind": "*"}]
    else:
        kinds = {(_group(r["apiVersion"]), r["kind"]) for r in resources if not r.get("namespace")}
        if node_labels_via_argocd:
            kinds.add(("", "Node"))
        cluster_kinds = [{"group": group, "kind": kind} for group, kind in sorted(kinds)]
    spec = {
        "description": "GPU nodes: NVIDIA device plugin, time-slicing configs, node labels (homelab.gpu_node.gpu_cluster)",
        "sourceRepos": [opts["argocd_repo_url"]] + ([operator["repo_url"]] if operator else []),
        "destinations": [_destination(opts, ns) for ns in namespaces],
        "clusterResourceWhitelist": cluster_kinds,
    }
    return {"file": "argocd/appproject-%s.yaml" % opts["argocd_project"],
            "note": "Argo CD project: the repositories, namespaces and cluster-scoped kinds the GPU Applications may use.",
            "manifest": _object("AppProject", opts, opts["argocd_project"], spec)}


def _application_set(opts, git_parts, node_labels_via_argocd):
    options = ["ServerSideApply=true"] if node_labels_via_argocd else []
    template_spec = {
        "project": opts["argocd_project"],
        "source": {"repoURL": opts["argocd_repo_url"], "targetRevision": opts["argocd_target_revision"],
                   "path": "{{.path}}"},
        "destination": _destination(opts, "{{.namespace}}"),
        "syncPolicy": _sync_policy(opts, options),
    }
    elements = [{"name": name, "path": path, "namespace": ns} for name, path, ns, _extra in git_parts]
    spec = {
        "goTemplate": True,
        "goTemplateOptions": ["missingkey=error"],
        "generators": [{"list": {"elements": elements}}],
        "template": {"metadata": {"name": "{{.name}}", "labels": dict(opts.get("labels") or {})},
                     "spec": template_spec},
    }
    return {"file": "argocd/applicationset-%s.yaml" % opts["argocd_app_name"],
            "note": "Argo CD ApplicationSet: generates one Application per part below (apply it instead of the "
                    "separate Applications).",
            "manifest": _object("ApplicationSet", opts, opts["argocd_app_name"], spec)}


def _git_application(opts, name, path, namespace, extra):
    spec = {
        "project": opts["argocd_project"],
        "source": {"repoURL": opts["argocd_repo_url"], "targetRevision": opts["argocd_target_revision"], "path": path},
        "destination": _destination(opts, namespace),
        "syncPolicy": _sync_policy(opts, extra),
    }
    return {"file": "argocd/application-%s.yaml" % name, "note": "Argo CD Application for %s (automated sync)." % path,
            "manifest": _object("Application", opts, name, spec)}


def _operator_application(opts, operator):
    name = operator["release"]
    values = "$values/" + _path_join(opts["argocd_path"], "gpu-operator", "values.yaml")
    spec = {
        "project": opts["argocd_project"],
        "sources": [
            {"repoURL": operator["repo_url"], "chart": "gpu-operator", "targetRevision": operator["chart_version"],
             "helm": {"releaseName": name, "valueFiles": [values]}},
            {"repoURL": opts["argocd_repo_url"], "targetRevision": opts["argocd_target_revision"], "ref": "values"},
        ],
        "destination": _destination(opts, operator["namespace"]),
        "syncPolicy": _sync_policy(opts, ("CreateNamespace=true", "ServerSideApply=true")),
    }
    return {"file": "argocd/application-%s.yaml" % name,
            "note": "Argo CD Application for the NVIDIA GPU operator chart with the rendered values "
                    "(multi-source: chart + values from the git repository).",
            "manifest": _object("Application", opts, name, spec)}


def argocd_objects(opts, resources, node_labels_via_argocd):
    """Argo CD objects as [{file, manifest, note}].

    ``resources``: the objects the render writes, [{apiVersion, kind, namespace}] (namespace ""
    for cluster-scoped ones). ``opts``: see the role's gpu_cluster_argocd_* variables.
    """
    out = []
    operator = opts.get("gpu_operator") or None
    if opts.get("argocd_create_project") and opts["argocd_project"] != "default":
        out.append(_project(opts, resources, node_labels_via_argocd, operator))
    git_parts = _git_parts(opts, node_labels_via_argocd)
    if opts.get("argocd_applicationset"):
        out.append(_application_set(opts, git_parts, node_labels_via_argocd))
    else:
        out += [_git_application(opts, *part) for part in git_parts]
    if operator:
        out.append(_operator_application(opts, operator))
    return out


def node_objects(plan):
    """Node objects carrying only the planned labels (nodes/), and their kustomization."""
    out = []
    for node in sorted(plan, key=lambda n: n["node"]):
        labels = dict(node["labels"])
        out.append({"file": "nodes/node-%s.yaml" % node["node"],
                    "note": "Labels of GPU node %s for Argo CD (server-side apply owns these keys only; "
                            "never pruned or deleted; taints stay in the join configuration)." % node["node"],
                    "manifest": {"apiVersion": "v1", "kind": "Node", "metadata": {
                        "name": node["node"], "labels": labels,
                        "annotations": {"argocd.argoproj.io/sync-options": NODE_SYNC_OPTIONS}}}})
    out.append({"file": "nodes/kustomization.yaml", "note": "The node label objects, for Argo CD.",
                "manifest": {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                             "resources": [f["file"].split("/", 1)[1] for f in out]}})
    return out


def k3s_drop_ins(plan):
    """One k3s config drop-in per GPU node: node-label+ / node-taint+ (appended to config.yaml's)."""
    out = []
    for node in sorted(plan, key=lambda n: n["node"]):
        data = {"node-label+": ["%s=%s" % (k, v) for k, v in sorted(node["labels"].items()) if kubelet_may_set(k)]}
        if node.get("taints"):
            data["node-taint+"] = [_taint_string(t) for t in node["taints"]]
        out.append({"file": "k3s/node-%s.yaml" % node["node"], "data": data,
                    "note": "k3s agent config drop-in for node %s: copy to %s (k3s appends node-label+/node-taint+ "
                            "to config.yaml's lists). k3s applies them when the node registers; a node already "
                            "registered keeps its labels until it registers again or they are set through the "
                            "API." % (node["node"], K3S_DROP_IN)})
    return out


def kind_cluster(plan, opts):
    """kind cluster config (kind.x-k8s.io/v1alpha4): a control plane and a worker per GPU node."""
    devices = opts.get("kind_gpu_devices") or "all"
    device_list = [devices] if isinstance(devices, str) else [str(d) for d in devices]
    nodes = [{"role": "control-plane"}]
    for node in sorted(plan, key=lambda n: n["node"]):
        worker = {
            "role": "worker",
            "labels": {k: v for k, v in sorted(node["labels"].items()) if kubelet_may_set(k)},
            "extraMounts": [{"hostPath": "/dev/null", "containerPath": "%s/%s" % (KIND_DEVICE_LIST_DIR, d)}
                            for d in device_list]
            + [{"hostPath": m["host_path"], "containerPath": m["container_path"],
                "readOnly": bool(m.get("read_only", True))} for m in opts.get("kind_extra_mounts") or []],
        }
        if opts.get("kind_image"):
            worker["image"] = opts["kind_image"]
        if node.get("taints"):
            worker["kubeadmConfigPatches"] = [_yaml_block({
                "kind": "JoinConfiguration",
                "nodeRegistration": {"taints": [
                    {k: v for k, v in (("key", t["key"]), ("value", t.get("value")), ("effect", t["effect"]))
                     if v not in (None, "")} for t in node["taints"]]}})]
        nodes.append(worker)
    if opts.get("kind_image"):
        nodes[0]["image"] = opts["kind_image"]
    patches = []
    for version in (2, 3):
        table = 'plugins."%s".containerd.runtimes.nvidia' % CRI_PLUGIN[version]
        patches.append('version = %d\n\n[%s]\n  runtime_type = "%s"\n\n[%s.options]\n'
                       '  BinaryName = "%s"\n  SystemdCgroup = true\n'
                       % (version, table, RUNTIME_TYPE, table, DEFAULT_RUNTIME_PATH))
    return {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster", "name": opts.get("kind_name") or "gpu",
            "nodes": nodes, "containerdConfigPatches": patches}


def _yaml_block(data):
    """A kubeadm patch as YAML text (kind takes patches as strings); stable key order."""
    return yaml.safe_dump(_plain(data), default_flow_style=False, sort_keys=False)


def _plain(value):
    """Plain str/dict/list (Ansible passes str subclasses that PyYAML's safe dumper refuses)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def problems(plan, opts):
    """What stops the render: each problem says which variable to set."""
    out = []
    via = list(opts.get("node_labels_via") or [])
    unknown = [v for v in via if v not in NODE_LABEL_PATHS]
    if unknown:
        out.append("gpu_cluster_gitops_node_labels: unknown path(s) %s; choose from %s."
                   % (", ".join(unknown), ", ".join(NODE_LABEL_PATHS)))
    needs = {"talos": ("talos", "gpu_cluster_talos: true"), "argocd": ("argocd", "gpu_cluster_argocd: true"),
             "kind": ("kind", "gpu_cluster_kind: true")}
    for path, (flag, fix) in needs.items():
        if path in via and not opts.get(flag):
            out.append("gpu_cluster_gitops_node_labels names %s, which is only rendered with %s." % (path, fix))
    labelled = [n for n in plan if n.get("labels")]
    if not via and labelled:
        out.append("No path carries the planned node labels to the nodes (gpu_cluster_gitops_node_labels is empty): "
                   + "; ".join("%s needs %s=%s" % (n["node"], DEVICE_PLUGIN_CONFIG_LABEL,
                                                   n["labels"].get(DEVICE_PLUGIN_CONFIG_LABEL, "(none planned)"))
                               for n in sorted(labelled, key=lambda n: n["node"]))
                   + ". Without that label the device plugin silently uses its default config (no sharing). "
                     "Choose k3s, talos, argocd, kind or manual (you set them yourself).")
    if via and not {"argocd", "manual"} & set(via):
        restricted = sorted({"%s (%s)" % (k, n["node"]) for n in plan for k in n.get("labels", {})
                             if not kubelet_may_set(k)})
        if restricted:
            out.append("The kubelet may not set these labels on its own node, so %s cannot carry them: %s. "
                       "Add argocd or manual to gpu_cluster_gitops_node_labels, or drop them."
                       % (", ".join(via), ", ".join(restricted)))
    if opts.get("argocd"):
        for key in ("argocd_repo_url", "argocd_path"):
            if not opts.get(key):
                out.append("gpu_cluster_%s is required with gpu_cluster_argocd: true (the git repository and the "
                           "path in it where gpu_cluster_render_dir is committed)." % key)
        for key in ("argocd_namespace", "argocd_app_name", "argocd_project"):
            if not DNS_LABEL.match(opts.get(key) or "") and not (key == "argocd_app_name"
                                                                 and DNS_SUBDOMAIN.match(opts.get(key) or "")):
                out.append("gpu_cluster_%s %r is not a Kubernetes name (lower case letters, digits, '-')."
                           % (key, opts.get(key)))
        if not opts.get("argocd_destination_name") and not opts.get("argocd_destination_server"):
            out.append("Set gpu_cluster_argocd_destination_server (or gpu_cluster_argocd_destination_name, "
                       "which wins): the cluster the Applications deploy to.")
    return out


def render(plan, resources, opts):
    """Everything render mode adds for GitOps: {'files': [{file, manifest|data, note}], 'problems': [...]}.

    ``plan``: the role's node plan ([{node, labels, taints, ...}]); ``resources``: the objects render
    mode writes ([{apiVersion, kind, namespace}]); ``opts``: the role's variables (see problems()).
    """
    if not isinstance(plan, list) or not all(isinstance(n, dict) and "node" in n for n in plan):
        raise GitOpsError("plan must be a list of {node, labels, taints}")
    found = problems(plan, opts)
    if found:
        return {"files": [], "problems": found}
    via = set(opts.get("node_labels_via") or [])
    files = []
    if opts.get("argocd"):
        files += argocd_objects(opts, resources, "argocd" in via)
    if "argocd" in via:
        files += node_objects(plan)
    if "k3s" in via:
        files += k3s_drop_ins(plan)
    if opts.get("kind"):
        files.append({"file": "kind/cluster.yaml", "data": kind_cluster(plan, opts),
                      "note": "kind cluster config for a GPU host (kind create cluster --config): a worker per GPU "
                              "node with its labels, the GPU volume-mount request, the nvidia containerd runtime, "
                              "taints as a kubeadm patch. Needs the NVIDIA container toolkit on the Docker host "
                              "(accept-nvidia-visible-devices-as-volume-mounts) and inside the node image."})
    return {"files": files, "problems": []}


def add_to_render(plan, rendered, opts, dump, header):
    """Render mode's files plus the GitOps files: ``{'rendered', 'problems', 'files'}``.

    ``rendered``: what plugin_utils/_gpu_cluster.py render_plan() returned ({objects, files, dirs,
    path, summary}); the GitOps files join its ``files`` (``{file, content}``, written by
    ``dump(data, header)`` like the others) and their directories its ``dirs``, so render mode
    writes, compares and cleans them with the rest. ``files``: the names of the GitOps files.
    """
    resources = [{"apiVersion": m.get("apiVersion", ""), "kind": m.get("kind", ""),
                  "namespace": (m.get("metadata") or {}).get("namespace", "")}
                 for m in rendered.get("objects") or []]
    out = render(plan, resources, opts)
    if out["problems"]:
        return {"rendered": rendered, "problems": out["problems"], "files": []}
    merged = dict(rendered)
    merged["files"] = list(rendered.get("files") or [])
    merged["dirs"] = list(rendered.get("dirs") or [])
    path = rendered.get("path") or "."
    for item in out["files"]:
        data = item["manifest"] if "manifest" in item else item["data"]
        merged["files"].append({"file": item["file"], "content": dump(data, header + "\n" + item["note"])})
        folder = item["file"].rpartition("/")[0]
        if folder and path + "/" + folder not in merged["dirs"]:
            merged["dirs"].append(path + "/" + folder)
    return {"rendered": merged, "problems": [], "files": [f["file"] for f in out["files"]]}
