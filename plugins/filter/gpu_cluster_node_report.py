# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compare what each GPU node advertises with the plan, and name the likely cause when it differs.

Used by the gpu_cluster role after it applied the device plugin. Input is plain data read with
kubernetes.core.k8s_info; nothing here talks to the cluster.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# Sandbox/runtime errors as containerd, k3s and the kubelet word them.
_RUNTIME_ERROR_RE = re.compile(
    r"no runtime for \S+ is configured|RuntimeHandler \S+ not supported|runtime handler \S+ (?:is )?not"
    r"|RuntimeClass \S+ not found|failed to get sandbox runtime",
    re.IGNORECASE,
)
_NOT_TOLERATED_EFFECTS = ("NoSchedule", "NoExecute")


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _as_int(value):
    """Quantities of extended resources are plain integers ("8"); anything else counts as 0."""
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _tolerates(tolerations, taint):
    for tol in tolerations or []:
        op = tol.get("operator") or "Equal"
        key = tol.get("key")
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if key is None or key == "":
            if op == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if op == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _pod_state(pod):
    """(ready, short description, waiting/terminated reason, restart count) of a pod."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    statuses = status.get("containerStatuses") or []
    ready = phase == "Running" and bool(statuses) and all(cs.get("ready") for cs in statuses)
    reason = ""
    message = ""
    restarts = 0
    for cs in statuses:
        restarts += _as_int(cs.get("restartCount"))
        state = cs.get("state") or {}
        for kind in ("waiting", "terminated"):
            if kind in state and not reason:
                reason = state[kind].get("reason") or kind
                message = state[kind].get("message") or ""
    if not reason:
        for cond in status.get("conditions") or []:
            if cond.get("status") == "False" and cond.get("reason"):
                reason = cond.get("reason")
                message = cond.get("message") or ""
                break
    text = phase + (" (%s%s)" % (reason, ": " + message if message else "") if reason else "")
    return ready, text, reason, restarts


def node_report(plan, nodes, plugin_pods=None, events=None, runtime_class=None, plugin=None):
    """Per planned node: what it advertises, and problems with their likely cause.

    ``plan``: list of ``{host, node, capacity: {resource: count}, labels: {k: v}}`` (labels the role
    set on the node). ``nodes``/``plugin_pods``/``events``: lists of Kubernetes objects.
    ``runtime_class``: ``{name, exists}`` or None when the plugin runs without one.
    ``plugin``: ``{namespace, name, tolerations}`` of the device plugin DaemonSet.
    Without ``plugin_pods`` (None) only capacity and labels are compared.
    Returns ``{ok, nodes: [{host, node, ok, planned, allocatable, problems}], problems: [str]}``.
    """
    if not isinstance(plan, (list, tuple)):
        raise AnsibleFilterError("gpu_cluster_node_report: plan must be a list, got %s" % type(plan).__name__)
    plugin = plugin or {}
    by_name = dict((_get(n, "metadata", "name"), n) for n in nodes or [])
    pods_by_node = {}
    for pod in plugin_pods or []:
        node_name = _get(pod, "spec", "nodeName")
        if node_name:
            pods_by_node.setdefault(node_name, []).append(pod)
    events = [e for e in events or [] if isinstance(e, Mapping)]
    ds_name = plugin.get("name") or "the device plugin DaemonSet"
    ds_ref = "%s/%s" % (plugin.get("namespace"), ds_name) if plugin.get("namespace") else ds_name
    rc_name = (runtime_class or {}).get("name")
    rc_missing = runtime_class is not None and not runtime_class.get("exists", True)
    ds_runtime_errors = [e.get("message") or "" for e in events
                         if _get(e, "involvedObject", "kind") == "DaemonSet"
                         and _get(e, "involvedObject", "name") == plugin.get("name")
                         and _RUNTIME_ERROR_RE.search(e.get("message") or "")]

    report = []
    for item in plan:
        host = item.get("host")
        name = item.get("node") or host
        planned = dict((str(k), _as_int(v)) for k, v in (item.get("capacity") or {}).items())
        entry = {"host": host, "node": name, "planned": planned, "allocatable": {}, "problems": []}
        problems = entry["problems"]
        node = by_name.get(name)
        if node is None:
            problems.append("node %s (inventory host %s) is not in the cluster: join it first (cluster_join) or set "
                            "gpu_cluster_node_name for %s to its Kubernetes node name" % (name, host, host))
            entry["ok"] = False
            report.append(entry)
            continue
        allocatable = _get(node, "status", "allocatable", default={}) or {}
        entry["allocatable"] = dict((k, _as_int(v)) for k, v in allocatable.items() if k.startswith("nvidia.com/"))
        labels = _get(node, "metadata", "labels", default={}) or {}
        for key, value in sorted((item.get("labels") or {}).items()):
            if labels.get(key) != str(value):
                if key == "nvidia.com/device-plugin.config":
                    problems.append("label missing: %s=%s (found %r): the plugin uses its default config instead of "
                                    "'%s'" % (key, value, labels.get(key), value))
                else:
                    problems.append("label missing: %s=%s (found %r): the device plugin DaemonSet selects GPU nodes "
                                    "by this label" % (key, value, labels.get(key)))
        pods = pods_by_node.get(name, [])
        capacity_ok = all(entry["allocatable"].get(res, 0) == count for res, count in planned.items())
        if plugin_pods is None:
            # Capacity only (the wait loop): no pod data to explain anything with.
            if not capacity_ok:
                problems.append("capacity mismatch: %s" % ", ".join(
                    "%s allocatable %d, planned %d" % (res, entry["allocatable"].get(res, 0), count)
                    for res, count in sorted(planned.items()) if entry["allocatable"].get(res, 0) != count))
        elif not pods:
            taints = [t for t in _get(node, "spec", "taints", default=[]) or []
                      if t.get("effect") in _NOT_TOLERATED_EFFECTS and not _tolerates(plugin.get("tolerations"), t)]
            why = []
            if rc_missing or ds_runtime_errors:
                why.append("no runtime: %s" % (ds_runtime_errors[0] if ds_runtime_errors else
                                               "RuntimeClass %s does not exist" % rc_name))
            if taints:
                why.append("untolerated taints %s" % ", ".join(
                    "%s=%s:%s" % (t.get("key"), t.get("value") or "", t.get("effect")) for t in taints))
            if _get(node, "spec", "unschedulable"):
                why.append("the node is cordoned")
            if not why and not any(p.startswith("label missing") for p in problems):
                why.append("check the DaemonSet's node affinity and the node's labels")
            problems.append("device plugin not running on the node: no pod of %s there%s"
                            % (ds_ref, " (" + "; ".join(why) + ")" if why else ""))
        else:
            states = [(p,) + _pod_state(p) for p in pods]
            if not any(s[1] for s in states):
                pod, _ready, text, reason, restarts = states[0]
                pod_name = _get(pod, "metadata", "name")
                runtime_msgs = [e.get("message") or "" for e in events
                                if _get(e, "involvedObject", "name") == pod_name
                                and _RUNTIME_ERROR_RE.search(e.get("message") or "")]
                if rc_missing:
                    problems.append("no runtime: RuntimeClass %s does not exist, so device plugin pod %s cannot run; "
                                    "create it (gpu_cluster_runtime_class: auto)" % (rc_name, pod_name))
                elif runtime_msgs:
                    problems.append("no runtime: device plugin pod %s cannot start (%s); give the node's container "
                                    "engine an 'nvidia' runtime (homelab.gpu_node.gpu_runtime) and restart it"
                                    % (pod_name, runtime_msgs[0]))
                elif reason in ("CrashLoopBackOff", "Error", "RunContainerError", "CreateContainerError"):
                    problems.append("device plugin not running on the node: pod %s is %s, restarts %d; its log names "
                                    "the cause (NVML or driver not found usually means the pod did not get the "
                                    "nvidia runtime, or the driver is broken)" % (pod_name, text, restarts))
                else:
                    problems.append("device plugin not running on the node: pod %s is %s" % (pod_name, text))
            elif not capacity_ok:
                for res, count in sorted(planned.items()):
                    got = entry["allocatable"].get(res, 0)
                    if got == count:
                        continue
                    others = dict((k, v) for k, v in entry["allocatable"].items() if k != res and v)
                    hint = ("the plugin runs but advertises no %s: its log shows why (no GPU found, NVML init failed)"
                            % res) if got == 0 and not others else (
                        "GPUs × replicas differ from the plan: the plugin may still run an old config (it reads its "
                        "config only at start), the node label selects another ConfigMap key, or the node has "
                        "another number of GPUs than its facts")
                    if others:
                        hint += "; the node advertises %s instead" % ", ".join(
                            "%s=%d" % kv for kv in sorted(others.items()))
                    problems.append("capacity mismatch: %s allocatable %d, planned %d (%s)" % (res, got, count, hint))
        entry["ok"] = capacity_ok and not problems
        report.append(entry)
    all_problems = ["%s: %s" % (e["node"], p) for e in report for p in e["problems"]]
    return {"ok": all(e["ok"] for e in report), "nodes": report, "problems": all_problems}


class FilterModule(object):
    """Node capacity report filter."""

    def filters(self):
        return {"gpu_cluster_node_report": node_report}
