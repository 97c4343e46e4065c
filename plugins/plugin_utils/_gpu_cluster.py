# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""The gpu_cluster role's decisions, in plain Python (controller only, no Ansible imports).

The role's tasks only move data: facts and API reads in, these functions' answers out.

- :func:`select_hosts`: which hosts of the GPU group are planned, unreachable, lack facts, have no GPU;
- :func:`input_problems`: every problem with the variables and the hosts, in one list;
- :func:`plan`: the device plugin module's answer + the hosts -> node names, labels, taints, capacity,
  and what the manifests need (config checksum, default key, SYS_ADMIN, MPS refusal);
- :func:`apply_plan`: what API reads say -> the objects to server-side apply (Node label/taint
  objects included), the RuntimeClass decision, problems and messages;
- :func:`node_objects`: per Node, the labels and taints this role owns through its field manager;
- :func:`render_plan`: the files render mode writes and which older ones it removes;
- :func:`verify_view`: the verify step's decisions (which DaemonSet, how long to wait, ready, capacity)
  and its report, a view over the doctor's rules (plugin_utils/_doctor_cluster.py verify_report);
- :func:`smoke_pods` / :func:`smoke_report`: the nvidia-smi probe pods and what their runs say.
"""

from __future__ import annotations

import hashlib
import json
import math
import re

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import RUNTIME_ERROR_RE, verify_report
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._node_labels import (
    NodeLabelError,
    has_gpu,
    merge_labels,
    merge_taints,
    node_name,
    normalise_taints,
)

CONFIG_LABEL = "nvidia.com/device-plugin.config"
MANAGED_BY = "homelab.gpu_node.gpu_cluster"
PODMONITOR_CRD = "podmonitors.monitoring.coreos.com"
NODEFEATURE_CRD = "nodefeatures.nfd.k8s-sigs.io"
SHIPS_RUNTIME_CLASS = ("k3s", "rke2")
HEADER = "Rendered by homelab.gpu_node.gpu_cluster. Do not edit: change the role's variables and render again."
_VERSION_RE = re.compile(r"^v?[0-9]+[.][0-9]+[.][0-9]+")


class GpuClusterError(ValueError):
    """Input the role cannot plan with; the message says what to change."""


def _version_tuple(text):
    return tuple(int(p) for p in re.findall(r"[0-9]+", str(text))[:3])


def _nvidia(facts):
    """ansible_facts.nvidia of a host's facts, or None."""
    if not isinstance(facts, dict):
        return None
    nvidia = facts.get("nvidia")
    return nvidia if isinstance(nvidia, dict) else None


# --------------------------------------------------------------------------- hosts


def select_hosts(group, facts, unreachable=None):
    """Sort the GPU group's hosts.

    ``group``: host names; ``facts``: {host: ansible_facts}; ``unreachable``: {host: message}
    of hosts whose fact gathering found them unreachable (left out, with a warning).
    Returns ``{without_facts, unreachable, hosts, missing, gpu_hosts, no_gpu, wsl_hosts, warnings}``.
    """
    unreachable = dict(unreachable or {})
    group = [str(h) for h in group or []]
    without = [h for h in group if _nvidia(facts.get(h)) is None]
    hosts = [h for h in group if h not in unreachable]
    missing = [h for h in hosts if _nvidia(facts.get(h)) is None]
    gpu_hosts = [h for h in hosts if h not in missing and has_gpu(_nvidia(facts[h]))]
    no_gpu = [h for h in hosts if h not in missing and h not in gpu_hosts]
    wsl = [h for h in gpu_hosts if bool(_nvidia(facts[h]).get("wsl"))]
    warnings = ["GPU node %s is unreachable (asleep or off?): %s. It is left out of this run's device plugin "
                "configs and node labels; run again when it is awake." % (h, str(unreachable[h] or "").strip())
                for h in group if h in unreachable]
    if no_gpu:
        warnings.append("%s: no NVIDIA GPU found, skipped" % ", ".join(no_gpu))
    return {"without_facts": without, "unreachable": [h for h in group if h in unreachable], "hosts": hosts,
            "missing": missing, "gpu_hosts": gpu_hosts, "no_gpu": no_gpu, "wsl_hosts": wsl, "warnings": warnings}


def input_problems(settings, hosts, namespace_problems=()):
    """Every problem with the role's input at once (an empty list when there is none).

    ``settings``: the role variables that need checks the argument spec cannot express;
    ``hosts``: :func:`select_hosts`' answer; ``namespace_problems``: sentences about namespaces.
    """
    problems = list(namespace_problems)
    version = str(settings.get("device_plugin_version", ""))
    if not _VERSION_RE.match(version):
        problems.append("gpu_cluster_device_plugin_version must look like v0.20.0 (got %s)." % version)
    for name in ("device_plugin_configs", "priority_classes"):
        if not isinstance(settings.get(name), (list, tuple)):
            problems.append("gpu_cluster_%s must be a list." % name)
    try:
        delay_ok = int(settings.get("verify_delay", 0)) > 0
    except (TypeError, ValueError):
        delay_ok = False
    if not delay_ok:
        problems.append("gpu_cluster_verify_delay must be positive.")
    if hosts["missing"]:
        problems.append("No ansible_facts.nvidia for %s. Gather them in this play first "
                        "(homelab.gpu_node.nvidia_smi_facts, or the gpu_runtime role), or set "
                        "gpu_cluster_gather_gpu_facts: true so this role gathers them." % ", ".join(hosts["missing"]))
    wsl = hosts["wsl_hosts"]
    if wsl and settings.get("deploy") == "device_plugin" and _VERSION_RE.match(version) \
            and _version_tuple(version) < (0, 15, 0):
        problems.append("%s %s: the NVIDIA device plugin supports WSL2 only from v0.15.0 "
                        "(gpu_cluster_device_plugin_version is %s)."
                        % (", ".join(wsl), "is a WSL2 node" if len(wsl) == 1 else "are WSL2 nodes", version))
    for index, pc in enumerate(settings.get("priority_classes") or []):
        if not isinstance(pc, dict) or not pc.get("name") or "value" not in pc:
            problems.append("gpu_cluster_priority_classes[%d] needs name and value." % index)
    return problems


# --------------------------------------------------------------------------- plan


def config_sha256(config_map):
    """Checksum of the ConfigMap data as the pod templates carry it (same bytes in, same checksum out)."""
    return hashlib.sha256(json.dumps(config_map, sort_keys=True).encode("utf-8")).hexdigest()


def plan(device_plugin, hosts, host_vars, settings):
    """The plan of every GPU node and what the manifests need.

    ``device_plugin``: homelab.gpu_node.nvidia_device_plugin_config's result (per_model mode);
    ``hosts``: :func:`select_hosts`' answer; ``host_vars``: {host: {nvidia, nodename,
    cluster_join_node_name, gpu_cluster_node_extra_labels, gpu_cluster_node_extra_taints}};
    ``settings``: {node_labels, wsl_node_labels, node_taints, mig_strategy}.
    Returns ``{nodes, config_map, config_sha256, has_default_config, needs_sys_admin, problems}``;
    ``nodes`` is a list of ``{host, node, wsl, gpus, models, config_key, capacity, labels, taints}``.
    """
    config_map = dict(device_plugin.get("config_map") or {})
    sharing = dict(device_plugin.get("sharing_strategy_by_key") or {})
    device_lists = dict(device_plugin.get("device_list_strategy_by_key") or {})
    node_labels = device_plugin.get("node_labels") or {}
    capacity = device_plugin.get("capacity_by_host") or {}
    problems = []
    mps = sorted(k for k, v in sharing.items() if v == "mps")
    if mps:
        problems.append("ConfigMap key(s) %s use sharing.mps. MPS needs the plugin's MPS control daemon DaemonSet, "
                        "which this role does not deploy: use time-slicing here, or the NVIDIA Helm chart / GPU "
                        "operator for MPS." % ", ".join(mps))
    nodes = []
    for host in hosts["gpu_hosts"]:
        hv = host_vars.get(host) or {}
        nv = hv.get("nvidia") or {}
        wsl = bool(nv.get("wsl"))
        labels = merge_labels(settings.get("node_labels"), node_labels.get(host),
                              settings.get("wsl_node_labels") if wsl else {},
                              hv.get("gpu_cluster_node_extra_labels"))
        try:
            taints = normalise_taints(list(settings.get("node_taints") or [])
                                      + list(hv.get("gpu_cluster_node_extra_taints") or []))
        except NodeLabelError as exc:
            problems.append("%s: %s" % (host, exc))
            taints = []
        models = []
        for gpu in nv.get("gpus") or []:
            if gpu.get("name") not in models:
                models.append(gpu.get("name"))
        nodes.append({
            "host": host,
            "node": node_name(hv.get("cluster_join_node_name"), hv.get("nodename"), host),
            "wsl": wsl,
            "gpus": len(nv.get("gpus") or []),
            "models": models,
            "config_key": (node_labels.get(host) or {}).get(CONFIG_LABEL, ""),
            "capacity": dict(capacity.get(host) or {}),
            "labels": labels,
            "taints": taints,
        })
    seen = {}
    for n in nodes:
        if n["node"] in seen:
            problems.append("hosts %s and %s have the same Kubernetes node name %s: set cluster_join_node_name"
                            % (seen[n["node"]], n["host"], n["node"]))
        seen[n["node"]] = n["host"]
    needs_sys_admin = settings.get("mig_strategy", "none") != "none" or any(
        "volume-mounts" in (v if isinstance(v, list) else [v]) for v in device_lists.values())
    return {
        "nodes": nodes,
        "config_map": config_map,
        "config_sha256": config_sha256(config_map),
        "has_default_config": "default" in config_map,
        "needs_sys_admin": needs_sys_admin,
        "problems": problems,
    }


def plan_lines(nodes):
    """One line per planned node, for the run's output."""
    lines = []
    for n in nodes:
        lines.append("%s%s: %d x %s, config '%s', planned %s" % (
            n["node"], " (WSL2)" if n["wsl"] else "", n["gpus"], " + ".join(n["models"]), n["config_key"] or "-",
            ", ".join("%s=%s" % kv for kv in n["capacity"].items()) or "nothing"))
    return lines


# --------------------------------------------------------------------------- apply


def _owned_fields(obj, manager):
    """fieldsV1 of ``manager``'s Apply entry in an object's managedFields ({} when none)."""
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == manager and entry.get("operation") == "Apply":
            return entry.get("fieldsV1") or {}
    return {}


def owned_labels(node, manager):
    """Label names this field manager owns on a Node."""
    labels = (_owned_fields(node, manager).get("f:metadata") or {}).get("f:labels") or {}
    return sorted(k[2:] for k in labels if k.startswith("f:"))


def owns_taints(node, manager):
    """Whether this field manager owns the Node's spec.taints (an atomic list)."""
    return "f:taints" in (_owned_fields(node, manager).get("f:spec") or {})


def node_objects(nodes_plan, nodes, manager):
    """Server-side apply objects for the GPU Nodes whose labels or taints differ from the plan.

    ``nodes``: the cluster's Node objects (with managedFields). Labels: the planned set (an
    apply drops a label this manager owned and no longer plans). Taints: ``spec.taints`` is an
    atomic list, so the object carries the node's whole list (every other taint kept, ours by
    key + effect replaced). Returns ``{objects, missing}``; missing = planned nodes not in the cluster.
    """
    have = dict(((n.get("metadata") or {}).get("name"), n) for n in nodes or [])
    objects, missing = [], []
    for p in nodes_plan:
        node = have.get(p["node"])
        if node is None:
            missing.append("%s (host %s)" % (p["node"], p["host"]))
            continue
        labels_now = (node.get("metadata") or {}).get("labels") or {}
        taints_now = (node.get("spec") or {}).get("taints") or []
        labels_differ = any(labels_now.get(k) != v for k, v in p["labels"].items()) \
            or bool(set(owned_labels(node, manager)) - set(p["labels"]))
        taints = merge_taints(taints_now, p["taints"])
        taints_differ = [_taint_id(t) for t in taints] != [_taint_id(t) for t in taints_now]
        if not (labels_differ or taints_differ):
            continue
        obj = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": p["node"], "labels": dict(p["labels"])}}
        if p["taints"] or owns_taints(node, manager):
            obj["spec"] = {"taints": [dict((k, t[k]) for k in ("key", "value", "effect") if t.get(k))
                                      for t in taints]}
        objects.append(obj)
    return {"objects": objects, "missing": missing}


def _taint_id(taint):
    return (taint.get("key"), taint.get("value") or "", taint.get("effect"))


def _first(resources):
    resources = resources or []
    return resources[0] if resources else {}


def apply_plan(manifests, reads, nodes_plan, settings, check_mode=False):
    """What apply mode sends, from the manifests and what the API said.

    ``manifests``: the rendered objects in apply order (RuntimeClass among them when the role
    may manage one); ``reads``: {runtime_class, priority_classes, crds: {name: [..]},
    namespace, nodes} as lists of resources (None = not read); ``settings``: {deploy,
    runtime_class, runtime_class_name, runtime_class_handler, manage_nodes, field_manager,
    namespace}. Returns ``{objects, rc_apply, rc_existing, problems, messages, missing_nodes}``.
    """
    problems, messages = [], []
    rc_name = settings.get("runtime_class_name") or ""
    device_plugin = settings.get("deploy") == "device_plugin"
    rc_existing = _first(reads.get("runtime_class")) if device_plugin and rc_name else {}
    rc_apply = bool(device_plugin and rc_name and settings.get("runtime_class") != "skip" and (
        not rc_existing or ((rc_existing.get("metadata") or {}).get("labels") or {}).get(
            "app.kubernetes.io/managed-by") == MANAGED_BY))
    if rc_existing and not rc_apply:
        handler = rc_existing.get("handler", "?")
        msg = ("RuntimeClass %s already exists with handler %s (shipped by the distribution, e.g. k3s, or made by "
               "another tool): left as it is." % (rc_name, handler))
        if handler != settings.get("runtime_class_handler"):
            msg += (" WARNING: its handler is not %s, so pods using it may not get the nvidia runtime."
                    % settings.get("runtime_class_handler"))
        messages.append(msg)
    if device_plugin and rc_name and settings.get("runtime_class") == "skip" and not rc_existing:
        problems.append("RuntimeClass %s does not exist and gpu_cluster_runtime_class is skip: the device plugin "
                        "pods would be rejected. Set gpu_cluster_runtime_class to auto, or "
                        "gpu_cluster_runtime_class_name to \"\" when nvidia is the nodes' default runtime." % rc_name)
    have = dict(((pc.get("metadata") or {}).get("name"), pc.get("value"))
                for pc in reads.get("priority_classes") or [])
    for m in manifests:
        if m.get("kind") == "PriorityClass":
            name = m["metadata"]["name"]
            if name in have and int(have[name]) != int(m["value"]):
                problems.append("PriorityClass %s exists with value %s, wanted %s." % (name, have[name], m["value"]))
    if any(p.startswith("PriorityClass") for p in problems):
        problems.append("The value of a PriorityClass cannot be changed: delete it first (pods keep their "
                        "priority) or give gpu_cluster_priority_classes another name.")
    crds = reads.get("crds") or {}
    no_podmonitor = PODMONITOR_CRD in crds and not crds[PODMONITOR_CRD]
    for name in sorted(crds):
        if not crds[name]:
            messages.append("CRD %s is not installed: %s." % (name, (
                "PodMonitor for the DCGM exporter skipped (install the Prometheus operator, then run again)"
                if name == PODMONITOR_CRD else
                "GPU feature discovery runs, but its labels need node-feature-discovery (NFD) in the cluster")))
    ns_missing = bool(check_mode) and reads.get("namespace") is not None and not reads.get("namespace")
    objects, left_out = [], []
    for m in manifests:
        kind = m.get("kind")
        if kind == "RuntimeClass" and not rc_apply:
            continue
        if kind == "PodMonitor" and no_podmonitor:
            continue
        if ns_missing and "namespace" in (m.get("metadata") or {}):
            left_out.append(kind)
            continue
        objects.append(m)
    if ns_missing:
        messages.append("Check mode: namespace %s does not exist yet, so the objects inside it (%s) cannot be "
                        "dry-run; they will be created on a real run." % (settings.get("namespace"),
                                                                          ", ".join(left_out)))
    missing = []
    if settings.get("manage_nodes"):
        nodes = node_objects(nodes_plan, reads.get("nodes") or [], settings.get("field_manager"))
        objects.extend(nodes["objects"])
        missing = nodes["missing"]
        if missing:
            messages.append("Not in the cluster (yet): %s. Join them first (cluster_join), or set "
                            "cluster_join_node_name for hosts whose Kubernetes node name differs." % ", ".join(missing))
    return {"objects": objects, "rc_apply": rc_apply, "rc_existing": rc_existing, "problems": problems,
            "messages": messages, "missing_nodes": missing}


def changed_objects(objects, result):
    """``Kind/name`` of the objects kubernetes.core.k8s reports changed (one result per object)."""
    results = (result or {}).get("result", {}).get("results") if isinstance((result or {}).get("result"), dict) \
        else None
    if results is None:
        results = [result or {}] * len(objects) if len(objects) == 1 else []
    return ["%s/%s" % (o["kind"], o["metadata"]["name"]) for o, r in zip(objects, results) if r.get("changed")]


# --------------------------------------------------------------------------- render


def render_runtime_class(settings):
    """Whether render mode writes a RuntimeClass (not for k3s/rke2, which ship ``nvidia``)."""
    return bool(settings.get("deploy") == "device_plugin" and settings.get("runtime_class_name") and (
        settings.get("runtime_class") == "create" or (
            settings.get("runtime_class") == "auto" and settings.get("distribution") not in SHIPS_RUNTIME_CLASS)))


def render_plan(manifests, extras, nodes_plan, settings, dump):
    """The files render mode writes: ``{objects, files, path, dirs, summary}``.

    ``manifests``: objects in apply order; ``extras``: {talos_schematic, talos_patch,
    gpu_operator_values}; ``dump(data, header)``: the byte-stable YAML writer. ``files`` is a
    list of ``{file, content}``; ``objects`` the manifests written (kustomization's resources).
    """
    rc = render_runtime_class(settings)
    objects = [m for m in manifests if m.get("kind") != "RuntimeClass" or rc]
    named = [{"file": "%s-%s.yaml" % (m["kind"].lower(), m["metadata"]["name"]), "manifest": m} for m in objects]
    files = [{"file": n["file"], "content": dump(n["manifest"], HEADER)} for n in named]
    files.append({"file": "kustomization.yaml", "content": dump(
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
         "resources": [n["file"] for n in named]}, HEADER)})
    node_data = dict((n["node"], {"labels": n["labels"], "taints": n["taints"], "planned_allocatable": n["capacity"]})
                     for n in nodes_plan)
    files.append({"file": "node-labels.yaml", "content": dump({"nodes": node_data}, HEADER + "\n" + (
        "Not a Kubernetes manifest and not in kustomization.yaml: Node objects belong to the kubelet. Set these "
        "labels and taints when the node joins (cluster_join: k3s node-label/node-taint), through Talos "
        "(talos/node-*.yaml), or with this role in apply mode."))})
    if settings.get("talos"):
        files.append({"file": "talos/schematic.yaml", "content": dump(extras["talos_schematic"], HEADER + (
            "\nTalos Image Factory schematic for GPU nodes (POST it to factory.talos.dev/schematics, install that "
            "image)."))})
        files.append({"file": "talos/nvidia-gpu-patch.yaml", "content": dump(extras["talos_patch"], HEADER + (
            "\nTalos machine config patch for every GPU node: NVIDIA kernel modules and the sysctl the Talos NVIDIA "
            "guide asks for."))})
        for n in nodes_plan:
            machine = {"nodeLabels": n["labels"]}
            if n["taints"]:
                machine["nodeTaints"] = dict((t["key"], "%s:%s" % (t.get("value") or "", t["effect"]))
                                             for t in n["taints"])
            files.append({"file": "talos/node-%s.yaml" % n["node"], "content": dump({"machine": machine}, HEADER + (
                "\nTalos machine config patch for node %s: its GPU labels and taints." % n["node"]))})
    if settings.get("deploy") == "gpu_operator":
        files.append({"file": "gpu-operator/values.yaml", "content": dump(extras["gpu_operator_values"], HEADER + (
            "\nHelm values for nvidia/gpu-operator %s (%s), release %s in namespace %s." % (
                settings.get("gpu_operator_chart_version"), settings.get("gpu_operator_repo_url"),
                settings.get("gpu_operator_release"), settings.get("gpu_operator_namespace"))))})
    summary = "%d manifests (%s) and kustomization.yaml in %s; %s beside them. Device plugin %s; planned %s." % (
        len(objects), ", ".join(m["kind"] for m in objects), settings.get("render_dir"),
        ", ".join(f["file"] for f in files[len(named) + 1:]), settings.get("device_plugin_version"),
        "; ".join("%s: %s" % (n["node"], ", ".join("%s=%s" % kv for kv in n["capacity"].items()))
                  for n in nodes_plan))
    path = str(settings.get("render_dir") or ".").rstrip("/") or "/"
    dirs = [path]
    for f in files:
        d = f["file"].rpartition("/")[0]
        if d and path + "/" + d not in dirs:
            dirs.append(path + "/" + d)
    return {"objects": objects, "files": files, "summary": summary, "path": path, "dirs": dirs}


# --------------------------------------------------------------------------- verify


def verify_target(settings):
    """The device plugin DaemonSet the verify step reads: ``{namespace, name, pod_selector, tolerations}``.

    ``settings``: ``deploy`` (device_plugin or gpu_operator), ``namespace``, ``device_plugin_name``,
    ``device_plugin_tolerations``, ``gpu_operator_namespace``, ``gpu_operator_values`` (the chart values
    the role installs: ``daemonsets.tolerations``).
    """
    if settings.get("deploy") == "gpu_operator":
        daemonsets = (settings.get("gpu_operator_values") or {}).get("daemonsets") or {}
        return {"namespace": settings.get("gpu_operator_namespace"), "name": "nvidia-device-plugin-daemonset",
                "pod_selector": ["app=nvidia-device-plugin-daemonset"],
                "tolerations": list(daemonsets.get("tolerations") or [])}
    name = settings.get("device_plugin_name")
    return {"namespace": settings.get("namespace"), "name": name,
            "pod_selector": ["app.kubernetes.io/name=%s" % name],
            "tolerations": list(settings.get("device_plugin_tolerations") or [])}


def retries(timeout, delay):
    """How often an ``until`` loop with ``delay`` seconds between tries asks within ``timeout`` seconds (>= 1)."""
    return max(1, int(math.ceil(float(timeout) / max(1, int(delay)))))


def daemonset_ready(daemonsets):
    """The first DaemonSet of ``daemonsets`` is rolled out: its controller saw the last change and every
    scheduled pod is updated and ready."""
    ds = (list(daemonsets or []) + [None])[0]
    if not ds:
        return False
    status = ds.get("status") or {}
    desired = status.get("desiredNumberScheduled", -1)
    return (status.get("observedGeneration", -1) == (ds.get("metadata") or {}).get("generation", 0)
            and status.get("numberReady", 0) == desired and status.get("updatedNumberScheduled", 0) == desired)


def verify_view(nodes_plan, settings, daemonsets=None, nodes=None, diagnosis=None):
    """The verify step as data, from what it has read so far (None: not read, or the read was skipped).

    ``settings``: those of :func:`verify_target`, plus ``runtime_class_name``, ``runtime_class_apply``
    and ``runtime_class_existing`` (the apply step's RuntimeClass decision), ``verify_timeout`` and
    ``verify_delay``. ``daemonsets``: the DaemonSet as read; ``nodes``: the Nodes as read while waiting
    for capacity; ``diagnosis``: ``{nodes, pods, events}`` read to explain a node that falls short.

    Returns ``{target, retries, ds_ready, capacity_ok, report, lines, smoke}``: ``report`` is
    :func:`verify_report`'s (capacity only while waiting; with the cause per node after the
    diagnosis), ``lines`` what each node advertises, ``smoke`` whether any node plans GPUs.
    """
    target = verify_target(settings)
    ds_ready = daemonset_ready(daemonsets)
    capacity_ok = bool(ds_ready and nodes is not None and verify_report(nodes_plan, nodes, plugin=target)["ok"])
    if capacity_ok or diagnosis is None:
        report = verify_report(nodes_plan, nodes or [], plugin=target)
    else:
        runtime_class = None
        if settings.get("deploy") == "device_plugin" and settings.get("runtime_class_name"):
            runtime_class = {"name": settings["runtime_class_name"],
                             "exists": bool(settings.get("runtime_class_apply"))
                             or bool(settings.get("runtime_class_existing"))}
        report = verify_report(nodes_plan, diagnosis.get("nodes") or [], diagnosis.get("pods") or [],
                               diagnosis.get("events") or [], runtime_class, target)
    lines = ["%s: %s allocatable, as planned" % (n["node"], ", ".join("%s=%s" % kv for kv in n["allocatable"].items()))
             for n in report["nodes"]]
    return {"target": target, "retries": retries(settings.get("verify_timeout", 300), settings.get("verify_delay", 5)),
            "ds_ready": ds_ready, "capacity_ok": capacity_ok, "report": report, "lines": lines,
            "smoke": any(n.get("planned") for n in report["nodes"])}


# --------------------------------------------------------------------------- smoke test


def _pod_name(node):
    return re.sub(r"-+$", "", ("gpu-smoke-" + re.sub(r"[^a-z0-9-]+", "-", node.lower()))[:63])


def smoke_pods(report_nodes, nodes, settings):
    """One nvidia-smi pod per GPU node that plans capacity, each asking for one GPU share.

    ``report_nodes``: the verification report's nodes ({node, planned}); ``nodes``: Node
    objects (their kubernetes.io/hostname label pins the pod); ``settings``: {namespace,
    labels, runtime_class_name, image, command}.
    """
    have = dict(((n.get("metadata") or {}).get("name"), n) for n in nodes or [])
    pods = []
    for n in report_nodes:
        if not n.get("planned"):
            continue
        labels = ((have.get(n["node"]) or {}).get("metadata") or {}).get("labels") or {}
        spec = {
            "restartPolicy": "Never",
            "nodeSelector": {"kubernetes.io/hostname": labels.get("kubernetes.io/hostname", n["node"])},
            "tolerations": [{"operator": "Exists"}],
            "containers": [{
                "name": "nvidia-smi",
                "image": settings["image"],
                "command": list(settings["command"]),
                "env": [{"name": "NVIDIA_DISABLE_REQUIRE", "value": "true"}],
                "resources": {"limits": {sorted(n["planned"])[0]: 1}},
            }],
        }
        if settings.get("runtime_class_name"):
            spec["runtimeClassName"] = settings["runtime_class_name"]
        pods.append({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": _pod_name(n["node"]), "namespace": settings["namespace"],
                         "labels": merge_labels(settings.get("labels"), {"app.kubernetes.io/name": "gpu-smoke-test"}),
                         "annotations": {"homelab.gpu-node/node": n["node"]}},
            "spec": spec,
        })
    return pods


def smoke_report(pods, seen, logs, events, timeout):
    """Per smoke pod: ``{node, pod, ok, phase, problem, output}``.

    ``seen``: the pods as last read; ``logs``: one k8s_log result per pod (in ``pods`` order);
    ``events``: the namespace's events (when some pod did not succeed).
    """
    by_name = dict(((p.get("metadata") or {}).get("name"), p) for p in seen or [])
    out = []
    for want, log in zip(pods, logs):
        name = want["metadata"]["name"]
        status = (by_name.get(name) or {}).get("status") or {}
        phase = status.get("phase") or ""
        messages = [e.get("message") or "" for e in events or []
                    if (e.get("involvedObject") or {}).get("name") == name]
        runtime = [m for m in messages if RUNTIME_ERROR_RE.search(m)]
        unsched = [c.get("message") for c in status.get("conditions") or []
                   if c.get("type") == "PodScheduled" and c.get("status") == "False"]
        terminated = (((status.get("containerStatuses") or [{}])[0]).get("state") or {}).get("terminated") or {}
        if phase == "Succeeded":
            why = ""
        elif phase == "Failed":
            why = "nvidia-smi exited %s: %s" % (terminated.get("exitCode", "?"), (
                "no runtime: " + runtime[0]) if runtime else
                "the container did not get a working GPU (driver or runtime on the node), see its output")
        elif runtime:
            why = "no runtime: %s (give the node an nvidia runtime: homelab.gpu_node.gpu_runtime)" % runtime[0]
        elif unsched:
            why = "not scheduled: %s" % unsched[0]
        else:
            why = "did not finish within %s s (phase %s)%s" % (timeout, phase or "unknown",
                                                               (": " + " | ".join(messages)) if messages else "")
        out.append({"node": want["metadata"]["annotations"]["homelab.gpu-node/node"], "pod": name,
                    "ok": phase == "Succeeded", "phase": phase, "problem": why,
                    "output": [line for line in (log or {}).get("log_lines") or [] if line != ""]})
    return out


def smoke_lines(report):
    """The run's output: nvidia-smi of every pod that ran, then why the others did not."""
    lines = []
    for r in report:
        if r["ok"]:
            lines.append("nvidia-smi in pod %s on %s:" % (r["pod"], r["node"]))
            lines.extend(r["output"])
    failed = [r for r in report if not r["ok"]]
    if failed:
        lines.append("GPU smoke test failed:")
        lines.extend("%s: %s" % (r["node"], r["problem"]) for r in failed)
        lines.extend("last output line: %s" % r["output"][-1] for r in failed if r["output"])
    return lines
