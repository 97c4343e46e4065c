# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Lifecycle of a GPU node seen from the kube API: which pods hold its GPU, what blocks a drain.

Plain data in (objects as kubernetes.core.k8s_info returns them), plain data out; nothing here
talks to the cluster. Used by playbooks/gpu_give_back.yml, gpu_take_back.yml and upgrade.yml
through the filters lifecycle_gpu_pods and lifecycle_drain_blockers.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.homelab.gpu_node.plugins.module_utils._package_record import PackageRecordError, recorded
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import gpu_requests

_FINISHED = ("Succeeded", "Failed")


class LifecycleError(ValueError):
    """Input that is not what k8s_info returns."""


def _get(obj, *path, default=None):
    for key in path:
        if not isinstance(obj, Mapping) or key not in obj:
            return default
        obj = obj[key]
    return obj


def _ref(pod):
    return "%s/%s" % (_get(pod, "metadata", "namespace", default="?"), _get(pod, "metadata", "name", default="?"))


def _count(value):
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def gpu_request(pod):
    """{resource: count} of the ``nvidia.com/*`` resources the pod holds: the doctor's count
    (plugin_utils/_doctor_cluster.py gpu_requests: containers added up, init containers at their largest)."""
    return gpu_requests(pod if isinstance(pod, Mapping) else {})


def _owner_kinds(pod):
    return [str(owner.get("kind")) for owner in _get(pod, "metadata", "ownerReferences", default=[]) or []
            if isinstance(owner, Mapping)]


def gpu_pods(pods, node):
    """The pods on ``node`` that hold a GPU share, sorted by namespace/name.

    Returns ``{"holding": [...], "daemonset": [...], "finished": [...]}``, each a list of
    ``{"pod": "ns/name", "resources": {...}, "terminating": bool, "owner": kind}``:
    ``holding`` are the pods a drain must move (not finished, not owned by a DaemonSet; also
    those already terminating: they hold the GPU until they are gone); ``daemonset`` the
    DaemonSet pods that ask for a GPU (a drain never evicts them, so they are named, not
    waited for); ``finished`` pods that ended and hold nothing.
    """
    if not isinstance(pods, list):
        raise LifecycleError("expected a list of pods, got %s" % type(pods).__name__)
    out = {"holding": [], "daemonset": [], "finished": []}
    for pod in pods:
        if not isinstance(pod, Mapping) or _get(pod, "spec", "nodeName") != node:
            continue
        wanted = gpu_request(pod)
        if not wanted:
            continue
        kinds = _owner_kinds(pod)
        entry = {"pod": _ref(pod), "resources": wanted,
                 "terminating": _get(pod, "metadata", "deletionTimestamp") is not None,
                 "owner": kinds[0] if kinds else None}
        if _get(pod, "status", "phase") in _FINISHED:
            out["finished"].append(entry)
        elif "DaemonSet" in kinds:
            out["daemonset"].append(entry)
        else:
            out["holding"].append(entry)
    for key in out:
        out[key].sort(key=lambda item: item["pod"])
    return out


def _selects(selector, labels):
    """Does a LabelSelector (matchLabels + matchExpressions) select these labels? An empty one selects all."""
    if not isinstance(selector, Mapping):
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), list(expr.get("values") or [])
        if op == "In" and labels.get(key) not in values:
            return False
        if op == "NotIn" and key in labels and labels[key] in values:
            return False
        if op == "Exists" and key not in labels:
            return False
        if op == "DoesNotExist" and key in labels:
            return False
    return True


def drain_blockers(pods, node, pdbs):
    """What keeps the pods on ``node`` from being evicted: one entry per PodDisruptionBudget that
    selects a pod on the node and allows no disruption now.

    Returns a list of ``{"pdb": "ns/name", "pods": [...], "allowed": n, "healthy": n, "desired": n,
    "rule": "minAvailable: 1"}``, sorted, plus the message lines in ``text``.
    """
    if not isinstance(pods, list) or not isinstance(pdbs, list):
        raise LifecycleError("expected lists of pods and PodDisruptionBudgets")
    on_node = [p for p in pods if isinstance(p, Mapping) and _get(p, "spec", "nodeName") == node
               and _get(p, "status", "phase") not in _FINISHED and "DaemonSet" not in _owner_kinds(p)]
    out = []
    for pdb in pdbs:
        if not isinstance(pdb, Mapping):
            continue
        namespace = _get(pdb, "metadata", "namespace")
        selector = _get(pdb, "spec", "selector")
        chosen = sorted(_ref(p) for p in on_node if _get(p, "metadata", "namespace") == namespace
                        and _selects(selector, _get(p, "metadata", "labels", default={}) or {}))
        allowed = _count(_get(pdb, "status", "disruptionsAllowed", default=0))
        if not chosen or allowed > 0:
            continue
        spec = _get(pdb, "spec", default={}) or {}
        rule = ("minAvailable: %s" % spec["minAvailable"]) if "minAvailable" in spec else (
            "maxUnavailable: %s" % spec.get("maxUnavailable", "?"))
        out.append({"pdb": "%s/%s" % (namespace, _get(pdb, "metadata", "name")), "pods": chosen, "allowed": allowed,
                    "healthy": _count(_get(pdb, "status", "currentHealthy", default=0)),
                    "desired": _count(_get(pdb, "status", "desiredHealthy", default=0)), "rule": rule})
    out.sort(key=lambda item: item["pdb"])
    return out


def blocker_lines(node, blockers):
    """One line per blocking PodDisruptionBudget, in the user's terms."""
    return ["PodDisruptionBudget %s (%s; %d healthy, %d needed, disruptions allowed now: %d) blocks the "
            "eviction of %s from %s" % (b["pdb"], b["rule"], b["healthy"], b["desired"], b["allowed"],
                                        ", ".join(b["pods"]), node) for b in blockers]


def _installed_names(package_facts):
    """Names in ``ansible_facts.packages`` (package_facts: name -> list of versions) that are installed."""
    if not isinstance(package_facts, Mapping):
        raise LifecycleError("expected ansible_facts.packages (a mapping), got %s" % type(package_facts).__name__)
    return set(name for name, versions in package_facts.items() if versions)


def _recorded(record):
    try:
        return recorded(record)
    except PackageRecordError as exc:
        raise LifecycleError(str(exc))


def packages_to_remove(record, installed):
    """The packages of ``record`` that are installed now (``ansible_facts.packages``), sorted: what an uninstall
    removes. Nothing else, whatever the role installs today."""
    has = _installed_names(installed)
    return sorted(name for name in _recorded(record) if name in has)
