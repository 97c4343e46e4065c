# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""EMULATED Kubernetes API server for the gpu_cluster tests. It is NOT a kube-apiserver.

There is no Kubernetes cluster in this test lab. This small HTTP server answers the requests
kubernetes.core (through the `kubernetes` Python client) makes, keeps objects in memory, and
emulates just enough of the cluster's controllers to test the role's apply, wait and smoke logic:

* API discovery (/api, /apis, /version) for the kinds the role uses; GET/LIST with label and
  field selectors, POST, PUT, DELETE, and PATCH as server-side apply (application/apply-patch+yaml,
  per field manager: fields a manager stops applying are removed; lists are replaced whole),
  JSON merge patch and strategic merge patch (treated as merge patch); ?dryRun=All changes nothing.
* Checks the real API server does that the role must cope with: 409 on create of an existing
  object, 404 for objects in a missing namespace, 422 when a PriorityClass value or a DaemonSet
  selector changes, pods rejected when their RuntimeClass does not exist.
* A DaemonSet controller: one pod per matching node (nodeSelector, required node affinity,
  NoSchedule/NoExecute taints vs tolerations); pods are replaced when the pod template changes,
  and only then (that is the rollout the role relies on).
* A kubelet per node, driven by the node's scenario: no runtime handler for the pod's RuntimeClass
  -> pod stuck in ContainerCreating with the FailedCreatePodSandBox event containerd writes;
  plugin "crash" -> CrashLoopBackOff; otherwise Running and ready.
* The NVIDIA device plugin: when its pod starts it reads the config the node's
  nvidia.com/device-plugin.config label selects from the ConfigMap (as config-manager does) and
  the node then advertises devices x replicas (renameByDefault -> <name>.shared). Like the real
  plugin it reads the config only at start.
* A scheduler + kubelet for plain pods (the smoke pod): node selector, tolerations, extended
  resources; "Insufficient nvidia.com/gpu" when nothing fits; Succeeded with the node's canned
  nvidia-smi output (or Failed when the scenario says so).

Admin endpoints for tests: GET /_fake/state, GET /_fake/requests, POST /_fake/nodes
({node: {scenario keys}}), POST /_fake/shutdown.

Usage: fake_kube_api.py --scenario scenario.json --port-file port.txt [--max-seconds 900]
"""

from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import json
import os
import re
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import yaml

# group, version, plural, kind, namespaced, subresources
RESOURCES = [
    ("", "v1", "namespaces", "Namespace", False, ["status"]),
    ("", "v1", "nodes", "Node", False, ["status"]),
    ("", "v1", "pods", "Pod", True, ["status", "log"]),
    ("", "v1", "configmaps", "ConfigMap", True, []),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, []),
    ("", "v1", "services", "Service", True, ["status"]),
    ("", "v1", "events", "Event", True, []),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ["status"]),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, []),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, []),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, []),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, []),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, []),
]
CRD_RESOURCES = {
    "podmonitors.monitoring.coreos.com": ("monitoring.coreos.com", "v1", "podmonitors", "PodMonitor", True, []),
    "nodefeatures.nfd.k8s-sigs.io": ("nfd.k8s-sigs.io", "v1alpha1", "nodefeatures", "NodeFeature", True, []),
}
VERBS = ["create", "delete", "get", "list", "patch", "update"]
CONFIG_LABEL = "nvidia.com/device-plugin.config"
SANDBOX_ERROR = ('Failed to create pod sandbox: rpc error: code = Unknown desc = failed to get sandbox runtime: '
                 'no runtime for "%s" is configured')


class ApiError(Exception):
    def __init__(self, code, reason, message):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


def now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target, patch):
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def prune(target, previous, current):
    """Remove from target the map keys the manager applied before (previous) but not now (current)."""
    if not isinstance(target, dict) or not isinstance(previous, dict):
        return
    current = current if isinstance(current, dict) else {}
    for key, value in previous.items():
        if key not in current:
            target.pop(key, None)
        elif isinstance(value, dict):
            prune(target.get(key), value, current.get(key))


def deep_apply(target, applied):
    for key, value in applied.items():
        if isinstance(value, dict) and isinstance(target.get(key), dict):
            deep_apply(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def parse_label_selector(text):
    reqs = []
    if not text:
        return reqs
    for part in re.split(r",(?![^()]*\))", text):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([^\s!=]+)\s+(in|notin)\s+\((.*)\)$", part)
        if m:
            reqs.append((m.group(1), m.group(2), [v.strip() for v in m.group(3).split(",")]))
        elif "!=" in part:
            k, v = part.split("!=", 1)
            reqs.append((k.strip(), "!=", [v.strip()]))
        elif "==" in part or "=" in part:
            k, v = re.split(r"==?", part, 1)
            reqs.append((k.strip(), "=", [v.strip()]))
        elif part.startswith("!"):
            reqs.append((part[1:], "!", []))
        else:
            reqs.append((part, "exists", []))
    return reqs


def labels_match(labels, reqs):
    labels = labels or {}
    for key, op, values in reqs:
        have = labels.get(key)
        if op == "=" and have != values[0]:
            return False
        if op == "!=" and have == values[0]:
            return False
        if op == "in" and have not in values:
            return False
        if op == "notin" and have in values:
            return False
        if op == "exists" and key not in labels:
            return False
        if op == "!" and key in labels:
            return False
    return True


def field_value(obj, path):
    for key in path.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def fields_match(obj, text):
    if not text:
        return True
    for part in text.split(","):
        neg = "!=" in part
        key, value = re.split(r"!=|==?", part, 1)
        have = field_value(obj, key.strip())
        have = "" if have is None else str(have)
        if neg == (have == value.strip()):
            return False
    return True


def expression_matches(labels, expr):
    key, op, values = expr.get("key"), expr.get("operator"), expr.get("values") or []
    if op == "In":
        return labels.get(key) in values
    if op == "NotIn":
        return labels.get(key) not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    return False


def node_selected(node, pod_spec):
    labels = node["metadata"].get("labels") or {}
    for key, value in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = (((pod_spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms:
        if not any(all(expression_matches(labels, e) for e in (t.get("matchExpressions") or [])) for t in terms):
            return False
    return True


def tolerated(node, pod_spec):
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        ok = False
        for tol in pod_spec.get("tolerations") or []:
            if tol.get("effect") and tol.get("effect") != taint.get("effect"):
                continue
            if not tol.get("key"):
                ok = ok or tol.get("operator") == "Exists"
                continue
            if tol.get("key") != taint.get("key"):
                continue
            if tol.get("operator") == "Exists" or (tol.get("value") or "") == (taint.get("value") or ""):
                ok = True
        if not ok:
            return False
    return True


class Cluster:
    def __init__(self, scenario):
        self.lock = threading.RLock()
        self.rv = 100
        self.objects = {}   # (plural, namespace or "", name) -> object
        self.applied = {}   # key -> {manager: last applied config}
        self.loaded = {}    # device plugin pod uid -> resources it advertises (read at start)
        self.logs = {}      # (namespace, pod) -> text
        self.requests = []
        self.scenario = scenario
        self.version = scenario.get("version", "v1.31.4+k3s1")
        self.resources = list(RESOURCES)
        for crd in scenario.get("crds", []):
            if crd in CRD_RESOURCES:
                self.resources.append(CRD_RESOURCES[crd])
        self.by_plural = dict(((r[0], r[2]), r) for r in self.resources)
        self.node_scenarios = {}
        for crd in scenario.get("crds", []):
            self._store("customresourcedefinitions", None, {
                "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": crd}, "spec": {"group": crd.split(".", 1)[1]}})
        for ns in ["default", "kube-system"]:
            self._store("namespaces", None, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns},
                                             "status": {"phase": "Active"}})
        for rc in scenario.get("runtime_classes", []):
            self._store("runtimeclasses", None, {"apiVersion": "node.k8s.io/v1", "kind": "RuntimeClass",
                                                 "metadata": {"name": rc["name"], "labels": rc.get("labels", {})},
                                                 "handler": rc.get("handler", rc["name"])})
        for node in scenario.get("nodes", []):
            self.add_node(node)
        self.reconcile()

    # ------------------------------------------------------------------ storage
    def _next_rv(self):
        self.rv += 1
        return str(self.rv)

    def _store(self, plural, namespace, obj):
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", now())
        meta["resourceVersion"] = self._next_rv()
        meta.setdefault("generation", 1)
        if namespace:
            meta["namespace"] = namespace
        self.objects[(plural, namespace or "", meta["name"])] = obj
        return obj

    def add_node(self, spec):
        name = spec["name"]
        self.node_scenarios[name] = dict(spec)
        labels = {"kubernetes.io/hostname": spec.get("hostname", name), "kubernetes.io/os": "linux",
                  "kubernetes.io/arch": "amd64"}
        labels.update(spec.get("labels", {}))
        self._store("nodes", None, {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {"taints": spec.get("taints", [])} if spec.get("taints") else {},
            "status": {"capacity": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "allocatable": {"cpu": "8", "memory": "32Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}],
                       "nodeInfo": {"kubeletVersion": self.version, "containerRuntimeVersion": "containerd://1.7.23"}}})

    def resource(self, group, plural):
        res = self.by_plural.get((group, plural))
        if res is None:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        return res

    def key(self, plural, namespace, name):
        return (plural, namespace or "", name)

    def get(self, plural, namespace, name):
        obj = self.objects.get(self.key(plural, namespace, name))
        if obj is None:
            res = [r for r in self.resources if r[2] == plural][0]
            raise ApiError(404, "NotFound", '%s "%s" not found' % (plural if not res[0] else plural + "." + res[0],
                                                                   name))
        return obj

    def list(self, plural, namespace, label_selector, field_selector):
        reqs = parse_label_selector(label_selector)
        out = []
        for (p, ns, _name), obj in sorted(self.objects.items()):
            if p != plural or (namespace and ns != namespace):
                continue
            if labels_match(obj["metadata"].get("labels"), reqs) and fields_match(obj, field_selector):
                out.append(obj)
        return out

    # ------------------------------------------------------------------ validation
    def check_namespace(self, res, namespace):
        if res[4] and ("namespaces", "", namespace) not in self.objects:
            raise ApiError(404, "NotFound", 'namespaces "%s" not found' % namespace)

    def check_update(self, plural, old, new):
        if plural == "priorityclasses" and old.get("value") != new.get("value"):
            raise ApiError(422, "Invalid", 'PriorityClass.scheduling.k8s.io "%s" is invalid: value: Forbidden: '
                           'may not be changed in an update.' % old["metadata"]["name"])
        if plural == "daemonsets" and (old.get("spec") or {}).get("selector") != (new.get("spec") or {}).get("selector"):
            raise ApiError(422, "Invalid", 'DaemonSet.apps "%s" is invalid: spec.selector: Invalid value: '
                           'field is immutable' % old["metadata"]["name"])

    def check_pod(self, pod):
        rc = (pod.get("spec") or {}).get("runtimeClassName")
        if rc and ("runtimeclasses", "", rc) not in self.objects:
            raise ApiError(403, "Forbidden", 'pods "%s" is forbidden: pod rejected: RuntimeClass "%s" not found'
                           % (pod["metadata"].get("name"), rc))

    # ------------------------------------------------------------------ writes
    def finish_write(self, plural, namespace, old, new, dry_run):
        """Keep server-owned fields, bump versions when something changed, store unless dry run."""
        for field in ("uid", "creationTimestamp", "resourceVersion", "generation"):
            if old is not None and field in old["metadata"]:
                new["metadata"][field] = old["metadata"][field]
        if old is not None and "status" in old:
            new["status"] = copy.deepcopy(old["status"])
        if old is not None:
            self.check_update(plural, old, new)
        if old is not None and new == old:
            return old
        if plural == "pods" and old is None:
            self.check_pod(new)
        if old is not None:
            body_old = dict((k, v) for k, v in old.items() if k not in ("metadata", "status"))
            body_new = dict((k, v) for k, v in new.items() if k not in ("metadata", "status"))
            if body_old != body_new:
                new["metadata"]["generation"] = old["metadata"].get("generation", 1) + 1
        if dry_run:
            new = copy.deepcopy(new)
            new["metadata"].setdefault("uid", "dry-run")
            return new
        self._store(plural, namespace, new)
        self.reconcile()
        return self.objects[self.key(plural, namespace, new["metadata"]["name"])]

    def create(self, res, namespace, body, dry_run):
        plural = res[2]
        name = body.get("metadata", {}).get("name")
        if not name:
            raise ApiError(422, "Invalid", "metadata.name: Required value")
        self.check_namespace(res, namespace)
        if self.key(plural, namespace, name) in self.objects:
            raise ApiError(409, "AlreadyExists", '%s "%s" already exists' % (plural, name))
        new = copy.deepcopy(body)
        new["metadata"].pop("resourceVersion", None)
        return self.finish_write(plural, namespace, None, new, dry_run)

    def replace(self, res, namespace, name, body, dry_run):
        old = self.get(res[2], namespace, name)
        new = copy.deepcopy(body)
        return self.finish_write(res[2], namespace, old, new, dry_run)

    def patch(self, res, namespace, name, body, content_type, query, dry_run):
        plural = res[2]
        key = self.key(plural, namespace, name)
        old = self.objects.get(key)
        if content_type.startswith("application/apply-patch"):
            manager = (query.get("fieldManager") or [""])[0]
            if not manager:
                raise ApiError(422, "Invalid", "fieldManager: Required value: is required for apply patch")
            if old is None:
                self.check_namespace(res, namespace)
                new = {}
            else:
                new = copy.deepcopy(old)
            applied = copy.deepcopy(body)
            for field in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
                applied.get("metadata", {}).pop(field, None)
            previous = self.applied.get(key, {}).get(manager)
            if previous is not None:
                prune(new, previous, applied)
            deep_apply(new, applied)
            if namespace:
                new["metadata"]["namespace"] = namespace
            result = self.finish_write(plural, namespace, old, new, dry_run)
            if not dry_run:
                self.applied.setdefault(key, {})[manager] = applied
            return result
        if old is None:
            raise ApiError(404, "NotFound", '%s "%s" not found' % (plural, name))
        new = merge_patch(old, body)
        return self.finish_write(plural, namespace, old, new, dry_run)

    def delete(self, res, namespace, name, dry_run):
        obj = self.get(res[2], namespace, name)
        if not dry_run:
            del self.objects[self.key(res[2], namespace, name)]
            self.applied.pop(self.key(res[2], namespace, name), None)
            self.reconcile()
        return obj

    # ------------------------------------------------------------------ controllers
    def event(self, namespace, kind, name, reason, message):
        for obj in self.list("events", namespace, "", ""):
            inv = obj.get("involvedObject", {})
            if inv.get("name") == name and obj.get("reason") == reason and obj.get("message") == message:
                return
        count = len(self.list("events", namespace, "", "")) + 1
        self._store("events", namespace, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "%s.%d" % (name, count)},
            "involvedObject": {"kind": kind, "name": name, "namespace": namespace},
            "reason": reason, "message": message, "type": "Warning", "count": 1,
            "firstTimestamp": now(), "lastTimestamp": now()})

    def runtime_handler(self, pod):
        rc = (pod.get("spec") or {}).get("runtimeClassName")
        if not rc:
            return "runc"
        obj = self.objects.get(("runtimeclasses", "", rc))
        return obj.get("handler") if obj else None

    def run_pod(self, pod, node_name, is_plugin):
        """Kubelet on node_name starts (or fails to start) a DaemonSet pod."""
        scen = self.node_scenarios.get(node_name, {})
        handler = self.runtime_handler(pod)
        ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
        containers = (pod.get("spec") or {}).get("containers") or []
        if handler not in scen.get("runtime_handlers", ["runc", "nvidia"]):
            pod["status"] = {"phase": "Pending", "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
                "containerStatuses": [{"name": c["name"], "ready": False, "restartCount": 0,
                                       "state": {"waiting": {"reason": "ContainerCreating"}}} for c in containers]}
            self.event(ns, "Pod", name, "FailedCreatePodSandBox", SANDBOX_ERROR % handler)
            return False
        if is_plugin and scen.get("plugin") == "crash":
            pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}],
                             "containerStatuses": [
                                 {"name": c["name"], "ready": c["name"] != "nvidia-device-plugin-ctr",
                                  "restartCount": 5 if c["name"] == "nvidia-device-plugin-ctr" else 0,
                                  "state": ({"waiting": {"reason": "CrashLoopBackOff",
                                                         "message": "back-off 5m0s restarting failed container"}}
                                            if c["name"] == "nvidia-device-plugin-ctr" else {"running": {}})}
                                 for c in containers]}
            self.logs[(ns, name)] = ("E0101 00:00:00 main.go:132] error starting plugins: error creating plugin "
                                     "manager: unable to create plugin manager: nvml init failed: ERROR_LIBRARY_NOT_FOUND\n")
            return False
        pod["status"] = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                         "containerStatuses": [{"name": c["name"], "ready": True, "restartCount": 0,
                                                "state": {"running": {"startedAt": now()}}} for c in containers]}
        return True

    def plugin_resources(self, pod, node):
        """What the device plugin advertises, from the config it reads at start."""
        scen = self.node_scenarios.get(node["metadata"]["name"], {})
        devices = int(scen.get("gpus_visible", scen.get("gpus", 0)))
        spec = pod.get("spec") or {}
        cm_name = None
        for vol in spec.get("volumes") or []:
            if vol.get("name") == "available-configs":
                cm_name = (vol.get("configMap") or {}).get("name")
        data = {}
        if cm_name:
            cm = self.objects.get(("configmaps", pod["metadata"]["namespace"], cm_name))
            data = (cm or {}).get("data") or {}
        key = (node["metadata"].get("labels") or {}).get(CONFIG_LABEL)
        if not key:
            env = dict((e.get("name"), e.get("value")) for c in spec.get("initContainers") or []
                       for e in c.get("env") or [])
            key = env.get("DEFAULT_CONFIG") or ("default" if "default" in data else None)
        config = yaml.safe_load(data.get(key) or "") if key else None
        config = config or {}
        resources = {"nvidia.com/gpu": devices}
        block = ((config.get("sharing") or {}).get("timeSlicing") or {})
        if block.get("resources"):
            resources = {}
            for entry in block["resources"]:
                name = entry["name"] if "/" in entry["name"] else "nvidia.com/" + entry["name"]
                if block.get("renameByDefault"):
                    name += ".shared"
                resources[name] = devices * int(entry.get("replicas", 1))
        return resources

    def reconcile(self):
        nodes = [o for (p, _ns, _n), o in sorted(self.objects.items()) if p == "nodes"]
        advertised = dict((n["metadata"]["name"], {}) for n in nodes)
        for (plural, ns, name), ds in sorted(self.objects.items()):
            if plural != "daemonsets":
                continue
            template = ds["spec"]["template"]
            tmpl_hash = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]
            is_plugin = any("nvidia-device-plugin" in (c.get("command") or [""])[0]
                            for c in template["spec"].get("containers") or [])
            wanted = [n for n in nodes if node_selected(n, template["spec"]) and tolerated(n, template["spec"])]
            wanted_names = set(n["metadata"]["name"] for n in wanted)
            owned = [p for p in self.list("pods", ns, "", "")
                     if (p["metadata"].get("ownerReferences") or [{}])[0].get("uid") == ds["metadata"]["uid"]]
            for pod in owned:
                if pod["spec"].get("nodeName") not in wanted_names or \
                        pod["metadata"]["labels"].get("controller-revision-hash") != tmpl_hash:
                    del self.objects[("pods", ns, pod["metadata"]["name"])]
                    self.loaded.pop(pod["metadata"]["uid"], None)
            ready = updated = 0
            for node in wanted:
                node_name = node["metadata"]["name"]
                pod_name = "%s-%s" % (name, hashlib.sha256(node_name.encode()).hexdigest()[:5])
                pod = self.objects.get(("pods", ns, pod_name))
                if pod is None:
                    pod = copy.deepcopy(template)
                    pod["apiVersion"], pod["kind"] = "v1", "Pod"
                    pod["metadata"]["name"] = pod_name
                    pod["metadata"].setdefault("labels", {})["controller-revision-hash"] = tmpl_hash
                    pod["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "DaemonSet",
                                                           "name": name, "uid": ds["metadata"]["uid"],
                                                           "controller": True}]
                    pod["spec"]["nodeName"] = node_name
                    try:
                        self.check_pod(pod)
                    except ApiError as exc:
                        self.event(ns, "DaemonSet", name, "FailedCreate", "Error creating: " + exc.message)
                        continue
                    pod["metadata"]["namespace"] = ns
                    self._store("pods", ns, pod)
                    if self.run_pod(pod, node_name, is_plugin) and is_plugin:
                        self.loaded[pod["metadata"]["uid"]] = self.plugin_resources(pod, node)
                elif pod["status"].get("phase") != "Running" or not all(
                        c.get("ready") for c in pod["status"].get("containerStatuses") or []):
                    # kubelet retries: the node may have been fixed in the meantime
                    if self.run_pod(pod, node_name, is_plugin) and is_plugin:
                        self.loaded[pod["metadata"]["uid"]] = self.plugin_resources(pod, node)
                updated += 1
                if pod["status"].get("phase") == "Running" and all(
                        c.get("ready") for c in pod["status"].get("containerStatuses") or []):
                    ready += 1
                    if is_plugin:
                        advertised[node_name] = self.loaded.get(pod["metadata"]["uid"], {})
            status = {"desiredNumberScheduled": len(wanted), "currentNumberScheduled": len(wanted),
                      "numberReady": ready, "updatedNumberScheduled": updated, "numberAvailable": ready,
                      "numberMisscheduled": 0, "observedGeneration": ds["metadata"].get("generation", 1)}
            if len(wanted) - ready:
                status["numberUnavailable"] = len(wanted) - ready
            ds["status"] = status
        for node in nodes:
            for section in ("capacity", "allocatable"):
                res = node["status"][section]
                for k in [k for k in res if k.startswith("nvidia.com/")]:
                    del res[k]
                for k, v in advertised[node["metadata"]["name"]].items():
                    res[k] = str(v)
        self.schedule_plain_pods(nodes)

    def schedule_plain_pods(self, nodes):
        for (plural, ns, name), pod in sorted(self.objects.items()):
            if plural != "pods" or pod["metadata"].get("ownerReferences"):
                continue
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed", "Running"):
                continue
            spec = pod["spec"]
            limits = {}
            for c in spec.get("containers") or []:
                for k, v in ((c.get("resources") or {}).get("limits") or {}).items():
                    limits[k] = limits.get(k, 0) + int(str(v)) if k.startswith("nvidia.com/") else limits.get(k, 0)
            reasons = {}
            chosen = None
            for node in nodes:
                if not node_selected(node, spec) or not tolerated(node, spec):
                    reasons["node(s) didn't match Pod's node affinity/selector"] = reasons.get(
                        "node(s) didn't match Pod's node affinity/selector", 0) + 1
                    continue
                alloc = node["status"]["allocatable"]
                short = [k for k, v in limits.items() if v > int(alloc.get(k, "0"))]
                if short:
                    for k in short:
                        reasons["Insufficient " + k] = reasons.get("Insufficient " + k, 0) + 1
                    continue
                chosen = node
                break
            if chosen is None:
                msg = "0/%d nodes are available: %s." % (len(nodes), ", ".join(
                    "%d %s" % (n, r) for r, n in sorted(reasons.items())))
                pod["status"] = {"phase": "Pending", "conditions": [
                    {"type": "PodScheduled", "status": "False", "reason": "Unschedulable", "message": msg}]}
                continue
            node_name = chosen["metadata"]["name"]
            spec["nodeName"] = node_name
            scen = self.node_scenarios.get(node_name, {})
            handler = self.runtime_handler(pod)
            cname = (spec.get("containers") or [{}])[0].get("name")
            if handler not in scen.get("runtime_handlers", ["runc", "nvidia"]):
                pod["status"] = {"phase": "Pending", "containerStatuses": [
                    {"name": cname, "ready": False, "restartCount": 0,
                     "state": {"waiting": {"reason": "ContainerCreating"}}}]}
                self.event(ns, "Pod", name, "FailedCreatePodSandBox", SANDBOX_ERROR % handler)
                continue
            if scen.get("smi") == "fail":
                code, reason = 9, "Error"
                self.logs[(ns, name)] = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
                                         "driver. Make sure that the latest NVIDIA driver is installed and running.\n")
            else:
                code, reason = 0, "Completed"
                self.logs[(ns, name)] = scen.get("smi_output", "No devices were found\n")
            pod["status"] = {"phase": "Succeeded" if code == 0 else "Failed", "containerStatuses": [
                {"name": cname, "ready": False, "restartCount": 0,
                 "state": {"terminated": {"exitCode": code, "reason": reason}}}]}

    def update_nodes(self, changes):
        for name, change in changes.items():
            if ("nodes", "", name) not in self.objects:  # a node joins the cluster
                self.add_node(dict(change, name=name))
                continue
            self.node_scenarios.setdefault(name, {"name": name}).update(change)
            node = self.objects.get(("nodes", "", name))
            if node is not None and "labels" in change:
                node["metadata"].setdefault("labels", {}).update(change["labels"])
                for k, v in list(change["labels"].items()):
                    if v is None:
                        node["metadata"]["labels"].pop(k, None)
            if node is not None and "taints" in change:
                node.setdefault("spec", {})["taints"] = change["taints"]
            # A changed node is a restarted kubelet: its DaemonSet pods start again under the new conditions.
            for (plural, ns, pod_name), pod in list(self.objects.items()):
                if plural == "pods" and pod["spec"].get("nodeName") == name and pod["metadata"].get("ownerReferences"):
                    del self.objects[(plural, ns, pod_name)]
                    self.loaded.pop(pod["metadata"]["uid"], None)
        self.reconcile()

    def state(self):
        out = {}
        for (plural, ns, name), obj in sorted(self.objects.items()):
            out.setdefault(plural, {})["%s/%s" % (ns, name) if ns else name] = obj
        return {"objects": out, "nodes": self.node_scenarios, "loaded": self.loaded}


class Handler(BaseHTTPRequestHandler):
    cluster = None
    server_version = "fake-kube-api/1 (EMULATED, not a kube-apiserver)"

    def log_message(self, fmt, *args):  # quiet
        pass

    def reply(self, code, body, content_type="application/json"):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def fail(self, exc):
        self.reply(exc.code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                              "message": exc.message, "reason": exc.reason, "code": exc.code})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        return yaml.safe_load(raw.decode())

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def handle_any(self, method):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        cluster = self.cluster
        try:
            with cluster.lock:
                if url.path.startswith("/_fake/"):
                    return self.admin(method, url.path)
                dry_run = "All" in query.get("dryRun", [])
                cluster.requests.append({"method": method, "path": url.path, "dryRun": dry_run,
                                         "contentType": self.headers.get("Content-Type", "")})
                if query.get("watch", ["false"])[0] in ("true", "1"):
                    raise ApiError(400, "BadRequest", "watch is not emulated")
                result = self.route(method, url.path, query, dry_run)
            if isinstance(result, tuple):
                return self.reply(200, result[0], result[1])
            return self.reply(201 if method == "POST" else 200, result)
        except ApiError as exc:
            return self.fail(exc)
        except Exception as exc:  # an emulator bug: say so loudly
            return self.fail(ApiError(500, "InternalError", "fake_kube_api: %r" % exc))

    def admin(self, method, path):
        cluster = self.cluster
        if path == "/_fake/state":
            return self.reply(200, cluster.state())
        if path == "/_fake/requests":
            return self.reply(200, cluster.requests)
        if path == "/_fake/nodes" and method == "POST":
            cluster.update_nodes(self.body())
            return self.reply(200, {"ok": True})
        if path == "/_fake/shutdown":
            self.reply(200, {"ok": True})
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return None
        raise ApiError(404, "NotFound", path)

    def discovery(self, path):
        cluster = self.cluster
        if path == "/version":
            major, minor = re.match(r"v(\d+)\.(\d+)", cluster.version).groups()
            return {"major": major, "minor": minor, "gitVersion": cluster.version, "platform": "linux/amd64"}
        if path == "/api":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if path == "/apis":
            groups = {}
            for g, v, *_rest in cluster.resources:
                if g:
                    groups.setdefault(g, v)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": "%s/%s" % (g, v), "version": v}],
                 "preferredVersion": {"groupVersion": "%s/%s" % (g, v), "version": v}}
                for g, v in sorted(groups.items())]}
        m = re.match(r"^/api/(v1)$|^/apis/([^/]+)/([^/]+)$", path)
        if m:
            group, version = ("", "v1") if m.group(1) else (m.group(2), m.group(3))
            found = [r for r in cluster.resources if r[0] == group and r[1] == version]
            if not found:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            items = []
            for g, v, plural, kind, namespaced, subs in found:
                items.append({"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
                              "verbs": VERBS + ["deletecollection", "watch"]})
                for sub in subs:
                    items.append({"name": "%s/%s" % (plural, sub), "singularName": "", "namespaced": namespaced,
                                  "kind": kind, "verbs": ["get"] if sub == "log" else ["get", "patch", "update"]})
            return {"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": version if not group else "%s/%s" % (group, version), "resources": items}
        m = re.match(r"^/apis/([^/]+)$", path)
        if m:
            versions = [r[1] for r in cluster.resources if r[0] == m.group(1)]
            if not versions:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            gv = {"groupVersion": "%s/%s" % (m.group(1), versions[0]), "version": versions[0]}
            return {"kind": "APIGroup", "apiVersion": "v1", "name": m.group(1), "versions": [gv],
                    "preferredVersion": gv}
        return None

    def route(self, method, path, query, dry_run):
        cluster = self.cluster
        if method == "GET":
            found = self.discovery(path)
            if found is not None:
                return found
        m = re.match(r"^/api/v1/(.*)$", path)
        if m:
            group, rest = "", m.group(1)
        else:
            m = re.match(r"^/apis/([^/]+)/([^/]+)/(.*)$", path)
            if not m:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
            group, rest = m.group(1), m.group(3)
        segs = [s for s in rest.split("/") if s]
        namespace = None
        if len(segs) >= 3 and segs[0] == "namespaces" and (group, segs[2]) in cluster.by_plural:
            namespace, segs = segs[1], segs[2:]
        res = cluster.resource(group, segs[0])
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else None
        if res[4] and namespace is None and (method != "GET" or name):
            raise ApiError(404, "NotFound", "namespaced resource needs a namespace in the path")
        plural = res[2]
        if method == "GET":
            if name is None:
                items = cluster.list(plural, namespace, (query.get("labelSelector") or [""])[0],
                                     (query.get("fieldSelector") or [""])[0])
                return {"kind": res[3] + "List", "apiVersion": (group + "/" if group else "") + res[1],
                        "metadata": {"resourceVersion": str(cluster.rv)}, "items": items}
            obj = cluster.get(plural, namespace, name)
            if sub == "log":
                return (cluster.logs.get((namespace, name), ""), "text/plain")
            return obj
        body = self.body() if method in ("POST", "PUT", "PATCH") else None
        if method == "POST":
            return cluster.create(res, namespace, body, dry_run)
        if method == "PUT":
            return cluster.replace(res, namespace, name, body, dry_run)
        if method == "PATCH":
            return cluster.patch(res, namespace, name, body, self.headers.get("Content-Type", ""), query, dry_run)
        if method == "DELETE":
            return cluster.delete(res, namespace, name, dry_run)
        raise ApiError(405, "MethodNotAllowed", method)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--max-seconds", type=int, default=900, help="stop by itself after this long")
    args = parser.parse_args(argv)
    with open(args.scenario) as handle:
        scenario = json.load(handle)
    Handler.cluster = Cluster(scenario)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(str(server.server_address[1]))
    os.replace(tmp, args.port_file)
    timer = threading.Timer(args.max_seconds, server.shutdown)
    timer.daemon = True
    timer.start()
    started = time.time()
    server.serve_forever(poll_interval=0.2)
    sys.stderr.write("fake_kube_api: stopped after %.0f s\n" % (time.time() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
