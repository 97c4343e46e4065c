# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""GPU doctor, cluster side (controller only): cluster checks, the report and its tables.

Plain data in (objects read with ``kubernetes.core.k8s_info``, the ``gpu_node_doctor``
results of the nodes), checks out; nothing here talks to the cluster. Users:

* the filters ``doctor_device_plugins``, ``doctor_report`` and ``doctor_tables`` (the
  ``gpu_node_doctor`` role / ``playbooks/doctor.yml``);
* the ``gpu_cluster`` role's verify step (plugin_utils/_gpu_cluster.py ``verify_view``, filter
  ``gpu_cluster_verify``): :func:`verify_report` is a view over the same Kubernetes rules (toleration matching,
  pod states, runtime errors) as the doctor's checks.

Kubernetes rules implemented once here: toleration matching (``tolerates``), node
selection (``selection_problems``), a pod's state (``pod_state``), the runtime errors
containerd, k3s and the kubelet report (``RUNTIME_ERROR_RE``), config-manager's choice of
ConfigMap key (``select_config``).
"""

from __future__ import annotations

import datetime
import posixpath
import re
import textwrap
from collections.abc import Mapping, Sequence

from ansible_collections.homelab.gpu_node.plugins.module_utils._device_plugin import (
    CONFIG_LABEL,
    analyse,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._doctor import (
    FAIL,
    PASS,
    RUNTIME_NAME,
    SKIP,
    STATUSES,
    _first_line,
    _get,
    _plural,
    check,
    register_fix,
    summarise,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import DevicePluginConfigError

# in report order; wsl_networking, node_ip, gfd_dcgm_runtime and plugin_restart: see the end of this file
CLUSTER_NODE_CHECK_IDS = ("k8s_node", "wsl_networking", "node_ip", "plugin_pod", "plugin_tolerations", "plugin_runtime",
                          "runtime_handler", "gfd_dcgm_runtime", "plugin_config", "plugin_restart", "capacity",
                          "gpu_pods_runtime")
CLUSTER_CHECK_IDS = ("kube_api", "runtime_class", "device_plugin", "pending_gpu_pods")

#: The report file's schema (docs/doctor-report.schema.json); the version grows only with
#: incompatible changes (a field removed or its meaning changed); new fields keep it.
REPORT_SCHEMA = "homelab.gpu_node/doctor-report"
REPORT_SCHEMA_VERSION = 1
#: Exit codes for scripts (the report's exit_code): healthy, problems found, could not check.
EXIT_HEALTHY, EXIT_PROBLEMS, EXIT_NOT_CHECKED = 0, 1, 2
#: Each check's layer of the stack, from the bottom: where to start fixing.
LAYERS = (
    ("windows_host", ("windows_host", "wsl_idle_timeout", "wsl_keepalive", "wslconfig_networking")),
    ("connection", ("doctor_module", "kube_api")),
    ("driver", ("nvidia_smi", "driver_mismatch", "device_nodes")),
    ("toolkit", ("container_runtime", "toolkit_version")),
    ("engine", ("engine_runtime", "engine_running", "default_runtime", "daemon_reload")),
    ("node", ("k8s_node", "wsl_networking", "node_ip")),
    ("runtime_class", ("runtime_class", "runtime_handler", "plugin_runtime", "gfd_dcgm_runtime")),
    ("device_plugin", ("device_plugin", "plugin_pod", "plugin_tolerations", "plugin_config", "plugin_restart")),
    ("allocatable", ("capacity",)),
    ("pods", ("gpu_pods_runtime", "pending_gpu_pods")),
)
_LAYER_OF = dict((check_id, layer) for layer, ids in LAYERS for check_id in ids)

GPU_RESOURCE_PREFIX = "nvidia.com/"
#: Taints the DaemonSet controller tolerates by itself (pkg/controller/daemon/util).
DAEMONSET_AUTO_TOLERATED = (
    "node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable", "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/unschedulable",
    "node.kubernetes.io/network-unavailable",
)
#: First version of the NVIDIA device plugin with WSL2 support (DESIGN section 4).
_PLUGIN_WSL_MIN = (0, 15, 0)
RUNTIME_ERROR_RE = re.compile(
    r"no runtime for \S+ is configured|runtimehandler \S+ not supported|runtime handler \S+ (?:is )?not"
    r"|runtimeclass \S+ not found|failed to get sandbox runtime", re.IGNORECASE)


def to_plain(value):
    """Deep copy as plain dict/list/str (drops wrappers such as Ansible's tagged or lazy containers)."""
    if isinstance(value, Mapping):
        return dict((str(k), to_plain(v)) for k, v in value.items())
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Sequence):
        return [to_plain(v) for v in value]
    return value


# =========================================================================== cluster side


def _meta(obj, key):
    return _get(obj, "metadata", key, default="")


def _labels(obj):
    return _get(obj, "metadata", "labels", default={}) or {}


def _containers(spec):
    return [c for c in (spec or {}).get("containers") or [] if isinstance(c, dict)]


def _argv(container):
    return [str(a) for a in (container.get("command") or []) + (container.get("args") or [])]


_OTHER_BINARIES = re.compile(r"(^|[\s/;])(gpu-feature-discovery|mps-control-daemon|config-manager)(\s|;|$)")
_PLUGIN_BINARY = re.compile(r"(^|[\s/;])nvidia-device-plugin(\s|;|$)")


def _plugin_container(spec):
    """The device plugin's container in a pod spec, or None."""
    for container in _containers(spec):
        text = " ".join(_argv(container))
        if _PLUGIN_BINARY.search(text) and not _OTHER_BINARIES.search(text):
            return container
    for container in _containers(spec):
        text = " ".join(_argv(container))
        if not container.get("command") and "k8s-device-plugin" in str(container.get("image") or "") \
                and not _OTHER_BINARIES.search(text):
            return container
    return None


def _env(container):
    out = {}
    for item in (container or {}).get("env") or []:
        if isinstance(item, dict) and "value" in item:
            out[str(item.get("name"))] = "" if item.get("value") is None else str(item.get("value"))
    return out


def _arg_value(container, flag):
    args = _argv(container or {})
    for i, arg in enumerate(args):
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
        if arg == flag and i + 1 < len(args):
            return args[i + 1]
    return None


def image_version(image):
    """(major, minor, patch) from an image tag such as ``nvcr.io/nvidia/k8s-device-plugin:v0.17.1``, or None."""
    tag = str(image or "").rsplit("/", 1)[-1].partition("@")[0]
    if ":" not in tag:
        return None
    match = re.match(r"^v?(\d+)\.(\d+)(?:\.(\d+))?", tag.split(":", 1)[1])
    if not match:
        return None
    return tuple(int(x or 0) for x in match.groups())


def find_device_plugins(daemonsets):
    """NVIDIA device plugin DaemonSets among ``daemonsets`` (k8s objects), described as plain dicts.

    A DaemonSet is the device plugin when a container runs ``nvidia-device-plugin`` (Helm chart,
    GPU operator, this collection) or, for old manifests without a command, uses the
    k8s-device-plugin image; GPU feature discovery and the MPS control daemon use the same
    image with another command and are not counted.
    """
    found = []
    for ds in daemonsets or []:
        spec = _get(ds, "spec", "template", "spec", default={})
        container = _plugin_container(spec)
        if container is None:
            continue
        manager = None
        for other in _containers(spec):
            argv = _argv(other)
            if argv and posixpath.basename(argv[0]) == "config-manager":
                manager = other
        manager_env = _env(manager)
        config_map = ""
        if manager is not None:
            mounts = set(m.get("name") for m in manager.get("volumeMounts") or [] if isinstance(m, dict))
            for volume in spec.get("volumes") or []:
                if isinstance(volume, dict) and volume.get("name") in mounts and isinstance(volume.get("configMap"), dict):
                    config_map = volume["configMap"].get("name") or ""
        plugin_env = _env(container)
        config_file = plugin_env.get("CONFIG_FILE") or _arg_value(container, "--config-file") or ""
        file_map, file_key = config_map_at(spec, container, config_file) if manager is None else ("", "")
        match_labels = _get(ds, "spec", "selector", "matchLabels", default={}) or {}
        status = ds.get("status") or {}
        found.append({
            "namespace": _meta(ds, "namespace"),
            "name": _meta(ds, "name"),
            "uid": _meta(ds, "uid"),
            "container": container.get("name") or "",
            "image": container.get("image") or "",
            "version": ".".join(str(x) for x in image_version(container.get("image")) or ()) or None,
            "pod_selector": ["%s=%s" % (k, v) for k, v in sorted(match_labels.items())],
            "runtime_class": spec.get("runtimeClassName") or "",
            "tolerations": spec.get("tolerations") or [],
            "node_selector": spec.get("nodeSelector") or {},
            "affinity": spec.get("affinity") or {},
            "config_manager": manager is not None,
            "config_map": config_map,
            "node_label": manager_env.get("NODE_LABEL") or CONFIG_LABEL,
            "default_config": manager_env.get("DEFAULT_CONFIG", ""),
            "fallback_strategies": [s for s in manager_env.get("FALLBACK_STRATEGIES", "").split(",") if s],
            "mig_strategy": plugin_env.get("MIG_STRATEGY") or _arg_value(container, "--mig-strategy") or None,
            "config_file": config_file,
            "config_file_map": file_map,
            "config_file_key": file_key,
            "desired": int(status.get("desiredNumberScheduled") or 0),
            "ready": int(status.get("numberReady") or 0),
        })
    return sorted(found, key=lambda p: (p["namespace"], p["name"]))


def plugin_reads(plugins):
    """What to read next for each device plugin: its config ConfigMap (when it has one) and its
    namespace's warning events about pods, as ``kubernetes.core.k8s_info`` parameters."""
    out = []
    for plugin in plugins or []:
        if plugin.get("config_map") or plugin.get("config_file_map"):
            out.append({"kind": "ConfigMap", "namespace": plugin["namespace"],
                        "name": plugin.get("config_map") or plugin["config_file_map"]})
        out.append({"kind": "Event", "namespace": plugin["namespace"],
                    "field_selectors": ["involvedObject.kind=Pod", "type=Warning"]})
    return out


# --------------------------------------------------------------------------- scheduling rules


def _expression_matches(values, expr):
    key, op = expr.get("key"), expr.get("operator")
    wanted = [str(v) for v in expr.get("values") or []]
    present = key in values
    value = values.get(key)
    if op == "In":
        return present and value in wanted
    if op == "NotIn":
        return not present or value not in wanted
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt") and present and wanted:
        try:
            left, right = int(value), int(wanted[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def selection_problems(node, pod_spec):
    """Why a pod spec's nodeSelector / required node affinity does not select ``node`` ([] = it does)."""
    labels = _labels(node)
    problems = []
    for key, value in sorted((pod_spec.get("nodeSelector") or {}).items()):
        if labels.get(key) != str(value):
            has = "%s=%s" % (key, labels[key]) if key in labels else "no such label"
            problems.append("nodeSelector %s=%s (node has %s)" % (key, value, has))
    terms = _get(pod_spec, "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                 "nodeSelectorTerms", default=[])
    if terms:
        fields = {"metadata.name": _meta(node, "name")}
        matched = False
        for term in terms:
            exprs = term.get("matchExpressions") or []
            field_exprs = term.get("matchFields") or []
            if (exprs or field_exprs) and all(_expression_matches(labels, e) for e in exprs) \
                    and all(_expression_matches(fields, e) for e in field_exprs):
                matched = True
                break
        if not matched:
            wanted = []
            for term in terms:
                wanted.append(" and ".join("%s %s %s" % (e.get("key"), e.get("operator"), ",".join(e.get("values") or []))
                                           for e in term.get("matchExpressions") or []))
            problems.append("required node affinity (%s)" % " or ".join("(%s)" % w for w in wanted if w))
    return problems


def tolerates(tolerations, taint):
    """Kubernetes toleration matching (k8s.io/api/core/v1 Toleration.ToleratesTaint)."""
    for tol in tolerations or []:
        if not isinstance(tol, dict):
            continue
        effect = tol.get("effect") or ""
        if effect and effect != taint.get("effect"):
            continue
        key = tol.get("key") or ""
        op = tol.get("operator") or "Equal"
        if not key:
            if op == "Exists":
                return True
            continue
        if key != taint.get("key"):
            continue
        if op == "Exists" or str(tol.get("value") or "") == str(taint.get("value") or ""):
            return True
    return False


def untolerated_taints(node, tolerations, auto_daemonset=True):
    """NoSchedule/NoExecute taints of ``node`` that ``tolerations`` do not tolerate."""
    out = []
    for taint in _get(node, "spec", "taints", default=[]) or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if auto_daemonset and taint.get("key") in DAEMONSET_AUTO_TOLERATED:
            continue
        if not tolerates(tolerations, taint):
            out.append(taint)
    return out


def _taint_text(taint):
    value = taint.get("value")
    return "%s%s:%s" % (taint.get("key"), "=%s" % value if value not in (None, "") else "", taint.get("effect"))


# --------------------------------------------------------------------------- pods


def gpu_requests(pod):
    """``{resource: count}`` of nvidia.com/* a pod asks for (limits, else requests; init containers max)."""
    spec = pod.get("spec") or {}

    def per_container(container):
        resources = container.get("resources") or {}
        out = {}
        for source in (resources.get("requests") or {}, resources.get("limits") or {}):
            for key, value in source.items():
                if str(key).startswith(GPU_RESOURCE_PREFIX):
                    out[key] = _as_int(value)
        return out

    total = {}
    for container in _containers(spec):
        for key, value in per_container(container).items():
            total[key] = total.get(key, 0) + value
    for container in spec.get("initContainers") or []:
        for key, value in per_container(container).items():
            total[key] = max(total.get(key, 0), value)
    return dict((k, v) for k, v in sorted(total.items()) if v > 0)


def _as_int(value):
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return 0


def _pod_name(pod):
    return "%s/%s" % (_meta(pod, "namespace"), _meta(pod, "name"))


def pod_state(pod):
    """A pod's state as ``kubectl get pod`` would summarise it.

    ``{phase, ready, reason, message, restarts, condition_reason, condition_message}``: ready
    when Running with every container ready; reason/message of the first waiting container
    (init containers first) or of a terminated one that is not ready (a Completed init
    container does not count); the first False condition's reason as a fallback.
    """
    status = pod.get("status") or {}
    phase = status.get("phase") or "Unknown"
    statuses = status.get("containerStatuses") or []
    ready = phase == "Running" and bool(statuses) and all(cs.get("ready") for cs in statuses)
    restarts = sum(_as_int(cs.get("restartCount")) for cs in statuses)
    reason, message = "", ""
    for cs in list(status.get("initContainerStatuses") or []) + list(statuses):
        state = cs.get("state") or {}
        for kind in ("waiting", "terminated"):
            if kind in state and not reason and (kind == "waiting" or not cs.get("ready")):
                if kind == "terminated" and (state[kind] or {}).get("reason") == "Completed":
                    continue
                reason = (state[kind] or {}).get("reason") or kind
                message = (state[kind] or {}).get("message") or ""
    cond_reason, cond_message = "", ""
    for cond in status.get("conditions") or []:
        if cond.get("status") == "False" and cond.get("reason"):
            cond_reason, cond_message = cond.get("reason"), cond.get("message") or ""
            break
    return {"phase": phase, "ready": ready, "reason": reason, "message": message, "restarts": restarts,
            "condition_reason": cond_reason, "condition_message": cond_message}


def _pod_problem(pod, events):
    """(ready, reason, text) describing a pod's state, with the newest matching warning event's message."""
    state = pod_state(pod)
    phase, ready, restarts, reason, message = (state["phase"], state["ready"], state["restarts"], state["reason"],
                                               state["message"])
    pod_events = [e for e in events or [] if _get(e, "involvedObject", "name") == _meta(pod, "name")
                  and _get(e, "involvedObject", "namespace", default=_meta(e, "namespace")) == _meta(pod, "namespace")
                  and e.get("type") == "Warning"]
    pod_events.sort(key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or _meta(e, "creationTimestamp")))
    event = pod_events[-1] if pod_events else None
    parts = [phase + (" (%s)" % reason if reason else "")]
    if restarts:
        parts.append("%s" % _plural(restarts, "restart"))
    if message:
        parts.append(_first_line(message, 160))
    if event is not None:
        parts.append("event %s: %s" % (event.get("reason") or "?", _first_line(event.get("message") or "", 200)))
    return ready, reason, "; ".join(parts)


def _scheduler_message(pod):
    for cond in _get(pod, "status", "conditions", default=[]) or []:
        if cond.get("type") == "PodScheduled" and cond.get("status") == "False":
            message = cond.get("message") or cond.get("reason") or "not scheduled"
            return message.split(" preemption:")[0].strip()
    return None


def _pending_fix(message, allocatable_text):
    text = message.lower()
    if "insufficient nvidia.com/" in text:
        return ("all advertised GPUs are taken or too few are advertised (%s): lower the request, stop other GPU "
                "pods, or share GPUs with time-slicing replicas" % (allocatable_text or "no GPU node advertises any"))
    if "untolerated taint" in text or "had taint" in text:
        return "add a toleration for the GPU nodes' taint (e.g. nvidia.com/gpu Exists NoSchedule) to the pod"
    if "node affinity" in text or "node selector" in text or "didn't match pod's node" in text:
        return "the pod's nodeSelector/affinity matches no GPU node: compare it with the GPU nodes' labels"
    if "unschedulable" in text:
        return "GPU nodes are cordoned: kubectl uncordon <node>"
    if "runtimeclass" in text:
        return "create the RuntimeClass the pod names (see runtime_class)"
    return "kubectl describe pod on it and read the Events"


# --------------------------------------------------------------------------- config-manager


def select_config(plugin, node_labels, keys):
    """Which ConfigMap key config-manager links for a node (cmd/config-manager updateConfigName).

    Returns ``(key, how, error)``: key ``""`` means the empty config (plain GPUs); error is
    config-manager's own message when it gives up.
    """
    label = str(node_labels.get(plugin.get("node_label") or CONFIG_LABEL) or "")
    keys = list(keys)
    if not keys:
        return None, "", "no configuration files available"
    if label:
        if label not in keys:
            return None, "label", "specified config %s does not exist" % label
        return label, "label %s=%s" % (plugin.get("node_label") or CONFIG_LABEL, label), None
    default = plugin.get("default_config") or ""
    if default:
        if default not in keys:
            # config-manager prints the (empty) label value here: "specified config  does not exist"
            return None, "default", "specified config %s does not exist (DEFAULT_CONFIG)" % default
        return default, "DEFAULT_CONFIG=%s" % default, None
    for strategy in plugin.get("fallback_strategies") or []:
        if strategy == "named" and "default" in keys:
            return "default", "fallback named", None
        if strategy == "single" and len(keys) == 1:
            return keys[0], "fallback single", None
        if strategy == "empty":
            return "", "fallback empty", None
        if strategy not in ("named", "single", "empty"):
            return None, "fallback", "unknown fallback strategy: %s" % strategy
    return None, "fallback", "no config was set, no default was provided, and all fallbacks failed"


def _resources_text(resources):
    return ", ".join("%s=%s" % (k, v) for k, v in sorted(resources.items())) or "none"


# --------------------------------------------------------------------------- per node


class _NodeContext(object):
    """Everything the per-node cluster checks look at."""

    def __init__(self, host, node_input, objects, options):
        self.host = host
        self.options = options
        result = node_input.get("result") or {}
        self.result = result
        self.node_info = result.get("node") or {}
        self.nvidia = result.get("nvidia")
        self.wsl = bool(self.node_info.get("wsl") or (self.nvidia or {}).get("wsl"))
        names = [str(n) for n in node_input.get("names") or [] if n]
        hostname = self.node_info.get("hostname")
        if hostname:
            names.append(str(hostname).lower())
        names.append(host)
        self.candidates = []
        for name in names:
            if name not in self.candidates:
                self.candidates.append(name)
        by_name = dict((_meta(n, "name"), n) for n in objects.get("nodes") or [])
        self.node = None
        for name in self.candidates:
            if name in by_name:
                self.node = by_name[name]
                break
        self.name = _meta(self.node, "name") if self.node else None
        self.plugins = objects.get("plugins") or []
        self.plugin = self.plugins[0] if self.plugins else None
        rc_name = options.get("runtime_class") or RUNTIME_NAME
        self.runtime_classes = dict((_meta(rc, "name"), rc) for rc in objects.get("runtime_classes") or [])
        self.plugin_rc_name = (self.plugin or {}).get("runtime_class") or ""
        self.rc_name = self.plugin_rc_name or rc_name
        self.runtime_class = self.runtime_classes.get(self.rc_name)
        self.pods = [p for p in objects.get("pods") or [] if _get(p, "spec", "nodeName") == self.name] if self.name else []
        self.events = objects.get("events") or []
        self.config_maps = dict(((_meta(c, "namespace"), _meta(c, "name")), c) for c in objects.get("config_maps") or [])
        self.parse_yaml = options.get("parse_yaml")
        self.selected = None  # (key, config dict) once plugin_config ran
        self.objects = objects
        self.stale_config = None  # plugin_restart's finding: the pod that runs an old config

    def plugin_pod(self):
        if not self.plugin:
            return None
        for pod in self.pods:
            if _meta(pod, "namespace") != self.plugin["namespace"]:
                continue
            for owner in _get(pod, "metadata", "ownerReferences", default=[]) or []:
                if owner.get("kind") == "DaemonSet" and (owner.get("uid") == self.plugin["uid"]
                                                         or owner.get("name") == self.plugin["name"]):
                    return pod
        return None


def _plugin_ref(plugin):
    return "DaemonSet %s/%s" % (plugin["namespace"], plugin["name"])


def _check_k8s_node(ctx):
    if ctx.node is None:
        return check("k8s_node", FAIL, "no Kubernetes node named %s" % " or ".join(ctx.candidates),
                     "join it (playbooks/cluster_join.yml), or set cluster_join_node_name to its node name")
    ready = [c for c in _get(ctx.node, "status", "conditions", default=[]) or [] if c.get("type") == "Ready"]
    info = _get(ctx.node, "status", "nodeInfo", default={})
    version = "%s, %s" % (info.get("kubeletVersion") or "?", info.get("containerRuntimeVersion") or "?")
    if not ready or ready[0].get("status") != "True":
        message = ready[0].get("message") if ready else "no Ready condition"
        return check("k8s_node", FAIL, "node %s is NotReady: %s" % (ctx.name, _first_line(message, 160)),
                     "check the kubelet on the node: journalctl -u k3s-agent (or kubelet) -b")
    if _get(ctx.node, "spec", "unschedulable"):
        return check("k8s_node", FAIL, "node %s is Ready but cordoned: no new pods land on it (%s)" % (ctx.name, version),
                     "kubectl uncordon %s" % ctx.name)
    return check("k8s_node", PASS, "node %s Ready (%s)" % (ctx.name, version))


def _check_plugin_pod(ctx):
    plugin = ctx.plugin
    if plugin is None:
        return check("plugin_pod", SKIP, "no device plugin DaemonSet (see device_plugin)")
    if ctx.node is None:
        return check("plugin_pod", SKIP, "not a Kubernetes node (see k8s_node)")
    version = image_version(plugin.get("image"))
    if ctx.wsl and version is not None and version < _PLUGIN_WSL_MIN:
        return check("plugin_pod", FAIL, "device plugin %s does not support WSL2 nodes (needs v0.15.0 or later)"
                     % plugin.get("image"), "upgrade the device plugin (gpu_cluster_device_plugin_version)")
    pod = ctx.plugin_pod()
    if pod is None:
        spec = {"nodeSelector": plugin["node_selector"], "affinity": plugin["affinity"]}
        problems = selection_problems(ctx.node, spec)
        if problems:
            return check("plugin_pod", FAIL, "%s does not select node %s: %s"
                         % (_plugin_ref(plugin), ctx.name, "; ".join(problems)),
                         "label the node to match (gpu_cluster sets nvidia.com/gpu.present=true), or widen the "
                         "DaemonSet's nodeSelector/affinity")
        taints = untolerated_taints(ctx.node, plugin["tolerations"])
        if taints:
            return check("plugin_pod", FAIL, "no plugin pod on %s: taint %s not tolerated (see plugin_tolerations)"
                         % (ctx.name, ", ".join(_taint_text(t) for t in taints)),
                         "add the toleration to the DaemonSet (see plugin_tolerations)")
        return check("plugin_pod", FAIL, "no pod of %s on %s (desired %d, ready %d)"
                     % (_plugin_ref(plugin), ctx.name, plugin["desired"], plugin["ready"]),
                     "kubectl -n %s describe daemonset %s" % (plugin["namespace"], plugin["name"]))
    ready, reason, text = _pod_problem(pod, ctx.events)
    name = _pod_name(pod)
    if ready:
        return check("plugin_pod", PASS, "%s %s" % (name, text))
    if RUNTIME_ERROR_RE.search(text):
        fix = ("the node's engine has no runtime %s: see engine_runtime/runtime_handler (on k3s restart it after "
               "installing the toolkit)" % (ctx.runtime_class or {}).get("handler", ctx.rc_name))
    elif reason in ("CrashLoopBackOff", "Error"):
        fix = ("read its log: kubectl -n %s logs %s -c %s --previous (NVML errors: the pod lacks the NVIDIA "
               "runtime, see plugin_runtime)" % (plugin["namespace"], _meta(pod, "name"), plugin["container"]))
    elif reason in ("ImagePullBackOff", "ErrImagePull"):
        fix = "the node cannot pull %s: check registry access from the node" % plugin["image"]
    else:
        fix = "kubectl -n %s describe pod %s" % (plugin["namespace"], _meta(pod, "name"))
    return check("plugin_pod", FAIL, "%s %s" % (name, text), fix)


def _check_plugin_tolerations(ctx):
    plugin = ctx.plugin
    if plugin is None or ctx.node is None:
        return check("plugin_tolerations", SKIP, "no device plugin DaemonSet or no node")
    taints = [t for t in _get(ctx.node, "spec", "taints", default=[]) or []
              if t.get("effect") in ("NoSchedule", "NoExecute") and t.get("key") not in DAEMONSET_AUTO_TOLERATED]
    bad = untolerated_taints(ctx.node, plugin["tolerations"])
    if bad:
        first = bad[0]
        return check("plugin_tolerations", FAIL, "%s tolerates none of: %s"
                     % (_plugin_ref(plugin), ", ".join(_taint_text(t) for t in bad)),
                     "add to its tolerations {key: %s, operator: Exists, effect: %s} "
                     "(gpu_cluster_device_plugin_tolerations / Helm tolerations)" % (first.get("key"), first.get("effect")))
    if not taints:
        return check("plugin_tolerations", PASS, "node %s has no NoSchedule/NoExecute taint" % ctx.name)
    return check("plugin_tolerations", PASS, "%s tolerated by the device plugin" % ", ".join(_taint_text(t) for t in taints))


def nvml_runtime_verdict(ctx, ref, rc_name, pods="plugin pods", consequence="the plugin cannot load NVML and "
                         "registers no GPU", helm="Helm: --set runtimeClassName=%s"):
    """``(status, detail, fix)``: do the pods of ``ref`` (a DaemonSet that loads NVML) get the NVIDIA runtime here?

    ``rc_name`` is the DaemonSet's runtimeClassName ("" for none). Without one, the pods run
    under the node's default runtime, which must be the RuntimeClass's handler or ``nvidia``;
    with one, the RuntimeClass must exist (whether the node has its handler is runtime_handler).
    Used by plugin_runtime (the device plugin) and gfd_dcgm_runtime (GFD, DCGM exporter).
    """
    if rc_name:
        runtime_class = ctx.runtime_classes.get(rc_name)
        if runtime_class is None:
            return (FAIL, "%s uses runtimeClassName %s, which does not exist: its pods are rejected" % (ref, rc_name),
                    "create RuntimeClass %s (see runtime_class)" % rc_name)
        return PASS, "%s use RuntimeClass %s (handler %s)" % (pods, rc_name, runtime_class.get("handler")), ""
    default = ctx.node_info.get("default_runtime")
    handler = (ctx.runtime_class or {}).get("handler") or ctx.rc_name
    if default is None:
        return SKIP, "%s sets no runtimeClassName and the node's default runtime is unknown" % ref, ""
    if default in (handler, RUNTIME_NAME):
        return PASS, "no runtimeClassName, but the node's default runtime is %s" % default, ""
    return (FAIL, "%s sets no runtimeClassName and the node's default runtime is %s: %s" % (ref, default, consequence),
            "set runtimeClassName: %s in the DaemonSet (%s), or make %s the default runtime"
            % (ctx.rc_name, helm % ctx.rc_name, RUNTIME_NAME))


def _check_plugin_runtime(ctx):
    plugin = ctx.plugin
    if plugin is None:
        return check("plugin_runtime", SKIP, "no device plugin DaemonSet")
    return check("plugin_runtime", *nvml_runtime_verdict(ctx, _plugin_ref(plugin), ctx.plugin_rc_name))


def _check_runtime_handler(ctx):
    if ctx.runtime_class is None:
        return check("runtime_handler", SKIP, "no RuntimeClass %s (see runtime_class)" % ctx.rc_name)
    handler = ctx.runtime_class.get("handler") or ""
    runtimes = ctx.node_info.get("runtimes")
    engine = ctx.node_info.get("engine")
    if not engine or not runtimes:
        return check("runtime_handler", SKIP, "the node's runtimes are unknown (see engine_runtime)")
    if handler in runtimes:
        return check("runtime_handler", PASS, "RuntimeClass %s handler %s is a runtime of %s" % (ctx.rc_name, handler, engine))
    return check("runtime_handler", FAIL, "RuntimeClass %s wants handler %s; %s on this node has only %s: pods fail "
                 "with 'no runtime for %s is configured'" % (ctx.rc_name, handler, engine, ", ".join(runtimes), handler),
                 register_fix(engine, handler, None) if handler == RUNTIME_NAME else
                 "name the runtime %s on the node, or point the RuntimeClass handler at an existing one" % handler)


def _check_plugin_config(ctx):
    plugin = ctx.plugin
    if plugin is None or ctx.node is None:
        return check("plugin_config", SKIP, "no device plugin DaemonSet or no node")
    label_key = plugin.get("node_label") or CONFIG_LABEL
    label = _labels(ctx.node).get(label_key)
    if not plugin["config_manager"] and plugin.get("config_file_map"):
        return _check_plugin_config_file(ctx, plugin, label_key, label)
    if not plugin["config_manager"] or not plugin["config_map"]:
        ctx.selected = ("", {})
        if label:
            return check("plugin_config", FAIL, "node label %s=%s is set but %s has no config-manager/ConfigMap: the "
                         "label is ignored" % (label_key, label, _plugin_ref(plugin)),
                         "deploy the plugin with a config ConfigMap (gpu_cluster_device_plugin_configs; Helm "
                         "config.name or config.map)")
        return check("plugin_config", SKIP, "%s has no config ConfigMap: no sharing, one nvidia.com/gpu per GPU"
                     % _plugin_ref(plugin))
    ref = "ConfigMap %s/%s" % (plugin["namespace"], plugin["config_map"])
    cm = ctx.config_maps.get((plugin["namespace"], plugin["config_map"]))
    if cm is None:
        return check("plugin_config", FAIL, "%s does not exist: the plugin pods cannot mount it" % ref,
                     "create it (playbooks/gpu_cluster.yml) or fix the DaemonSet's configMap volume")
    data = cm.get("data") or {}
    key, how, error = select_config(plugin, _labels(ctx.node), sorted(data))
    if error:
        keys = ", ".join(sorted(data)) or "none"
        if how == "label":
            fix = ("kubectl label node %s %s=<one of: %s> --overwrite, or add key %s to the ConfigMap"
                   % (ctx.name, label_key, keys, label))
        elif how == "default":
            fix = ("the default config name %s (DEFAULT_CONFIG; Helm config.default, GPU operator devicePlugin.config."
                   "default) is not a key: add key %s to the ConfigMap or set the default to one of: %s; or label the "
                   "node: kubectl label node %s %s=<key>" % (plugin.get("default_config"), plugin.get("default_config"),
                                                             keys, ctx.name, label_key))
        else:
            fix = "label the node: kubectl label node %s %s=<one of: %s>, or add a 'default' key" % (ctx.name, label_key, keys)
        return check("plugin_config", FAIL, "config-manager: '%s' (%s keys: %s)" % (error, ref, keys), fix)
    if key == "":
        ctx.selected = ("", {})
        return check("plugin_config", PASS, "empty config (%s): no sharing" % how)
    return _plugin_config_key(ctx, plugin, ref, key, how, data.get(key) or "")


def _plugin_config_key(ctx, plugin, ref, key, how, text):
    """plugin_config for the YAML ``text`` of the ConfigMap key the plugin reads."""
    try:
        config = ctx.parse_yaml(text) if text.strip() else {}
    except Exception as exc:  # the YAML parser's own message is what helps
        return check("plugin_config", FAIL, "%s key %s is not valid YAML: %s" % (ref, key, _first_line(str(exc), 160)),
                     "fix the YAML of key %s" % key)
    return _plugin_config_verdict(ctx, plugin, ref, key, how, config)


def _plugin_config_verdict(ctx, plugin, ref, key, how, config):
    """plugin_config's row for a parsed config (key ``key`` of ``ref``, chosen by ``how``)."""
    if config is None:
        config = {}
    gpus = (ctx.nvidia or {}).get("gpus") if ctx.nvidia else None
    try:
        result = analyse(config=config, gpus=gpus, mig_strategy=plugin.get("mig_strategy"), wsl=ctx.wsl)
    except DevicePluginConfigError as exc:
        return check("plugin_config", FAIL, "%s key %s (%s): %s" % (ref, key, how, _first_line(str(exc), 200)),
                     "fix key %s (check it with homelab.gpu_node.nvidia_device_plugin_config), then restart the "
                     "plugin pod" % key)
    ignored = [w for w in result["warnings"] if "unknown key" in w]
    if ignored:
        return check("plugin_config", FAIL, "%s key %s: %s" % (ref, key, "; ".join(_first_line(w, 120) for w in ignored)),
                     "fix the key names (the plugin silently ignores unknown keys, e.g. a typo in timeSlicing)")
    ctx.selected = (key, config)
    sharing = result["sharing_strategy"]
    return check("plugin_config", PASS, "%s key %s (%s) is valid: sharing %s%s"
                 % (ref, key, how, sharing, _unlabelled_note(ctx, plugin, how, config, ref)))


def _nvidia_resources(node, field):
    values = _get(node, "status", field, default={}) or {}
    return dict((k, _as_int(v)) for k, v in sorted(values.items()) if str(k).startswith(GPU_RESOURCE_PREFIX)
                and _as_int(v) > 0)


def _check_capacity(ctx):
    if ctx.node is None:
        return check("capacity", SKIP, "not a Kubernetes node")
    allocatable = _nvidia_resources(ctx.node, "allocatable")
    capacity = _nvidia_resources(ctx.node, "capacity")
    advertised = "advertises %s" % _resources_text(allocatable)
    if ctx.plugin is None:
        return check("capacity", SKIP, "no device plugin; node %s" % advertised)
    if not ctx.nvidia or not ctx.nvidia.get("present"):
        return check("capacity", SKIP, "GPU facts unknown (see nvidia_smi); node %s" % advertised)
    if ctx.selected is None:
        return check("capacity", SKIP, "no usable device plugin config (see plugin_config); node %s" % advertised)
    key, config = ctx.selected
    mig = ctx.plugin.get("mig_strategy")
    try:
        planned = analyse(config=config, gpus=ctx.nvidia.get("gpus"), mig_strategy=mig, wsl=ctx.wsl)["capacity"]
        plain = analyse(config={}, gpus=ctx.nvidia.get("gpus"), mig_strategy=mig, wsl=ctx.wsl)["capacity"]
    except DevicePluginConfigError as exc:
        return check("capacity", SKIP, "cannot predict: %s" % _first_line(str(exc), 160))
    planned = dict((k, v) for k, v in planned.items() if v > 0)
    base = "planned %s (config %s)" % (_resources_text(planned), key or "empty")
    if allocatable == planned:
        return check("capacity", PASS, "%s, as planned" % advertised)
    ns = ctx.plugin["namespace"]
    pod = ctx.plugin_pod()
    restart = ("kubectl -n %s delete pod %s" % (ns, _meta(pod, "name")) if pod is not None
               else "restart the device plugin pod on %s" % ctx.name)
    if not allocatable:
        return check("capacity", FAIL, "node advertises no nvidia.com resource; %s" % base,
                     "the plugin has not registered on this node: see plugin_pod and plugin_runtime")
    unhealthy = dict((k, capacity[k] - allocatable.get(k, 0)) for k in capacity if capacity[k] > allocatable.get(k, 0))
    if unhealthy and capacity == planned:
        return check("capacity", FAIL, "capacity %s but allocatable %s: devices marked unhealthy"
                     % (_resources_text(capacity), _resources_text(allocatable)),
                     "look for Xid errors: dmesg | grep -i xid, and the plugin log (kubectl -n %s logs <plugin pod>)" % ns)
    if allocatable == plain and planned != plain:
        return check("capacity", FAIL, "node %s, i.e. no sharing: the plugin runs without its config; %s%s"
                     % (advertised, base, _stale_note(ctx)),
                     "%s (the plugin reads its config only when it starts; config-manager switches it only when the "
                     "node label changes: see plugin_restart)" % restart)
    return check("capacity", FAIL, "node %s; %s%s" % (advertised, base, _stale_note(ctx)),
                 "%s so it rereads its config; if it persists compare the GPU count (nvidia_smi) and MIG strategy" % restart)


def _check_gpu_pods_runtime(ctx):
    if ctx.node is None:
        return check("gpu_pods_runtime", SKIP, "not a Kubernetes node")
    default = ctx.node_info.get("default_runtime")
    handlers = set([RUNTIME_NAME])
    if ctx.runtime_class is not None and ctx.runtime_class.get("handler"):
        handlers.add(ctx.runtime_class["handler"])
    plugin_uid = _meta(ctx.plugin_pod() or {}, "uid") if ctx.plugin else None
    gpu_pods = [p for p in ctx.pods if gpu_requests(p) and _meta(p, "uid") != plugin_uid]
    if not gpu_pods:
        return check("gpu_pods_runtime", PASS, "no pod on this node requests a GPU")
    if default in handlers:
        return check("gpu_pods_runtime", PASS, "%s; default runtime %s" % (_plural(len(gpu_pods), "GPU pod"), default))
    bad = []
    for pod in gpu_pods:
        rc = _get(pod, "spec", "runtimeClassName", default="")
        if not rc:
            bad.append(_pod_name(pod))
        elif rc in ctx.runtime_classes and ctx.runtime_classes[rc].get("handler") not in handlers:
            bad.append("%s (RuntimeClass %s)" % (_pod_name(pod), rc))
    if default is None and bad:
        return check("gpu_pods_runtime", SKIP, "default runtime unknown; pods without runtimeClassName: %s" % ", ".join(bad))
    if bad:
        return check("gpu_pods_runtime", FAIL, "GPU allocated but started with %s, so no GPU inside: %s"
                     % (default, ", ".join(bad)),
                     "add runtimeClassName: %s to these pods' spec, or make %s the node's default runtime"
                     % (ctx.rc_name, RUNTIME_NAME))
    return check("gpu_pods_runtime", PASS, "%s, all with runtimeClassName" % _plural(len(gpu_pods), "GPU pod"))


def _node_cluster_checks(ctx):
    checks = [_check_k8s_node(ctx), _check_wsl_networking(ctx), _check_node_ip(ctx), _check_plugin_pod(ctx),
              _check_plugin_tolerations(ctx), _check_plugin_runtime(ctx), _check_runtime_handler(ctx),
              _check_gfd_dcgm_runtime(ctx), _check_plugin_config(ctx), _check_plugin_restart(ctx), _check_capacity(ctx),
              _check_gpu_pods_runtime(ctx)]
    return checks


# --------------------------------------------------------------------------- cluster wide


def _check_kube_api(objects):
    nodes = objects.get("nodes") or []
    versions = sorted(set(_get(n, "status", "nodeInfo", "kubeletVersion", default="?") for n in nodes))
    return check("kube_api", PASS, "read %s through %s (kubelet %s)"
                 % (_plural(len(nodes), "node"), objects.get("api_host") or "the kube API", ", ".join(versions) or "?"))


def _check_runtime_class(objects, options, plugins):
    name = ((plugins or [{}])[0].get("runtime_class") if plugins else "") or options.get("runtime_class") or RUNTIME_NAME
    for rc in objects.get("runtime_classes") or []:
        if _meta(rc, "name") == name:
            return check("runtime_class", PASS, "RuntimeClass %s -> handler %s" % (name, rc.get("handler")))
    others = ", ".join(sorted(_meta(rc, "name") for rc in objects.get("runtime_classes") or [])) or "none"
    return check("runtime_class", FAIL, "no RuntimeClass %s (existing: %s)" % (name, others),
                 "create RuntimeClass %s with handler %s (playbooks/gpu_cluster.yml does; k3s creates it when it finds "
                 "the runtime at start)" % (name, RUNTIME_NAME))


def _check_device_plugin(plugins):
    if not plugins:
        return check("device_plugin", FAIL, "no NVIDIA device plugin DaemonSet in any namespace",
                     "deploy it: playbooks/gpu_cluster.yml (or the NVIDIA device plugin Helm chart / GPU operator)")
    if len(plugins) > 1:
        return check("device_plugin", FAIL, "%d device plugin DaemonSets: %s; they register the same resources"
                     % (len(plugins), ", ".join("%s/%s" % (p["namespace"], p["name"]) for p in plugins)),
                     "keep one (the GPU operator's or the chart's, not both)")
    plugin = plugins[0]
    detail = "%s (%s), %d/%d pods ready" % (_plugin_ref(plugin), plugin["image"] or "?", plugin["ready"], plugin["desired"])
    if plugin["ready"] < plugin["desired"]:
        return check("device_plugin", FAIL, detail, "see the plugin_pod rows; kubectl -n %s get pods -o wide"
                     % plugin["namespace"])
    return check("device_plugin", PASS, detail)


def _check_pending(objects):
    pending = []
    for pod in objects.get("pods") or []:
        if _get(pod, "status", "phase") != "Pending":
            continue
        wanted = gpu_requests(pod)
        if wanted:
            pending.append((pod, wanted))
    if not pending:
        return check("pending_gpu_pods", PASS, "no Pending pod requests a GPU")
    totals = {}
    for node in objects.get("nodes") or []:
        for key, value in _nvidia_resources(node, "allocatable").items():
            totals[key] = totals.get(key, 0) + value
    parts, fix = [], ""
    for pod, wanted in pending:
        message = _scheduler_message(pod)
        if message is None:
            where = _get(pod, "spec", "nodeName")
            dummy, dummy2, text = _pod_problem(pod, objects.get("events") or [])
            message = "on %s: %s" % (where, text) if where else "not scheduled yet"
        parts.append("%s (%s): %s" % (_pod_name(pod), _resources_text(wanted), message))
        if not fix:
            fix = _pending_fix(message, "cluster allocatable %s" % _resources_text(totals) if totals else "")
    return check("pending_gpu_pods", FAIL, "%s Pending: %s" % (_plural(len(pending), "GPU pod"), "; ".join(parts)), fix)


def with_layers(checks):
    """Copies of the check rows, each with its ``layer`` (see :data:`LAYERS`)."""
    return [dict(item, layer=_LAYER_OF.get(item["id"], "other")) for item in checks]


def build_report(node_inputs, objects, options):
    """The whole doctor report.

    ``node_inputs``: list of ``{host, names, result, unreachable, failed, msg}`` (``result`` is
    the ``gpu_node_doctor`` result). ``objects``: ``{available, error, api_host, nodes,
    runtime_classes, daemonsets, pods, config_maps, events}`` as read with k8s_info
    (``available`` false: cluster checks are skipped, or failed when
    ``options['cluster'] == 'always'``). ``options``: ``runtime_class``, ``cluster``,
    ``parse_yaml`` (callable turning YAML text into data), ``toolkit_matrix`` (the version
    matrix's toolkit entry: adds ``toolkit_version``). A node input may also carry
    ``toolkit_accepted`` and ``windows`` (:func:`windows_input`'s result: adds the
    ``windows_host`` layer), see :func:`node_v2_checks`.
    """
    objects = dict(objects or {})
    options = dict(options or {})
    mode = str(options.get("cluster") or "auto")
    available = bool(objects.get("available")) and mode != "never"
    if available:
        plugins = objects.get("plugins")
        if plugins is None:
            plugins = find_device_plugins(objects.get("daemonsets"))
        objects["plugins"] = plugins
        cluster_checks = [_check_kube_api(objects), _check_runtime_class(objects, options, plugins),
                          _check_device_plugin(plugins), _check_pending(objects)]
    else:
        if mode == "never":
            reason = "cluster checks skipped: doctor_cluster=never"
        else:
            reason = "cluster checks skipped: %s" % (_first_line(objects.get("error") or "no kube API reachable", 240))
        status = FAIL if mode == "always" else SKIP
        cluster_checks = [check("kube_api", status, reason,
                                "give a kubeconfig (doctor_kubeconfig or K8S_AUTH_KUBECONFIG) on the kube_api host "
                                "(doctor_kube_api_host), with the kubernetes Python library installed there")]
    nodes = {}
    for item in node_inputs or []:
        host = str(item.get("host"))
        result = item.get("result") or {}
        if item.get("unreachable") or not result.get("checks"):
            word = "unreachable" if item.get("unreachable") else "failed"
            checks = [check("doctor_module", FAIL, "%s: %s" % (word, _first_line(item.get("msg") or result.get("msg") or "", 200)),
                            "check the connection: ansible -m ansible.builtin.ping %s" % host if item.get("unreachable")
                            else "read the error above; the node needs Python 3")]
            result = {}
        else:
            checks = list(result.get("checks") or [])
        extra = {}
        if result.get("checks") or isinstance(item.get("windows"), Mapping):
            checks, extra = node_v2_checks(item, result, checks, options if result.get("checks") else
                                           dict((k, v) for k, v in options.items() if k != "toolkit_matrix"))
        node_name = None
        if available:
            ctx = _NodeContext(host, dict(item, result=result), objects, options)
            checks.extend(_node_cluster_checks(ctx))
            node_name = ctx.name
        summary = summarise(checks)
        nodes[host] = {"host": host, "node": node_name, "wsl": bool((result.get("node") or {}).get("wsl")),
                       "engine": (result.get("node") or {}).get("engine"), "checks": checks, "summary": summary,
                       "ok": summary[FAIL] == 0}
        nodes[host].update(extra)
    cluster_summary = summarise(cluster_checks)
    total = dict(cluster_summary)
    for entry in nodes.values():
        for status in STATUSES:
            total[status] += entry["summary"][status]
    not_checked = []
    if not available and mode == "always":
        not_checked.append("cluster: %s" % cluster_checks[0]["detail"])
    for host in sorted(nodes):
        for item in nodes[host]["checks"]:
            if item["id"] == "doctor_module":
                not_checked.append("%s: %s" % (host, item["detail"]))
            if item["id"] == "windows_host" and item["status"] == FAIL:
                not_checked.append("%s: %s" % (host, item["detail"]))
    if not_checked:
        status, exit_code = "not_checked", EXIT_NOT_CHECKED
    elif total[FAIL]:
        status, exit_code = "problems", EXIT_PROBLEMS
    else:
        status, exit_code = "healthy", EXIT_HEALTHY
    cluster_checks = with_layers(cluster_checks)
    for entry in nodes.values():
        entry["checks"] = with_layers(entry["checks"])
    report = {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "status": status,
        "exit_code": exit_code,
        "ok": total[FAIL] == 0,
        "summary": total,
        "cluster": {"checked": available, "api_host": objects.get("api_host"), "checks": cluster_checks,
                    "summary": cluster_summary},
        "nodes": nodes,
        "not_checked": not_checked,
    }
    report["problems"] = problems(report)
    return report


# =========================================================================== table


def _clip(text, width):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:max(width - 3, 0)] + "..."


def _wrap(text, width, max_lines):
    lines = textwrap.wrap(" ".join(str(text).split()), width, break_long_words=False, break_on_hyphens=False) or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = _clip(lines[-1] + " ...", width)
    return lines


def format_table(title, checks, width=120, max_lines=4):
    """Lines of a fixed-width table: status, check id, detail; ``-> fix:`` lines under each failure.

    Details and fixes wrap in their column (details to at most ``max_lines`` lines; the
    report keeps the whole text). Double quotes become single quotes so that a JSON
    callback (AWX's default) prints every line without escapes.
    """
    id_width = max([len("CHECK")] + [len(c["id"]) for c in checks])
    indent = 4 + 2 + id_width + 2
    text_width = max(width - indent, 30)
    counts = summarise(checks)
    lines = ["%s: %d fail, %d pass, %d skip" % (title, counts[FAIL], counts[PASS], counts[SKIP]),
             "%-4s  %-*s  %s" % ("", id_width, "CHECK", "DETAIL")]
    for item in checks:
        status = item["status"].upper() if item["status"] == FAIL else item["status"]
        detail = _wrap(item["detail"], text_width, max_lines)
        lines.append("%-4s  %-*s  %s" % (status, id_width, item["id"], detail[0]))
        lines.extend(" " * indent + more for more in detail[1:])
        if item["fix"] and item["status"] == FAIL:
            fix = _wrap("-> fix: " + item["fix"], text_width, 10)
            lines.extend([" " * indent + fix[0]] + [" " * (indent + 8) + more for more in
                                                    _wrap(" ".join(fix[1:]), text_width - 8, 10) if fix[1:]])
    return [line.rstrip().replace('"', "'") for line in lines]


def format_tables(report, width=120):
    """``[{name, lines, text}]``: the cluster table, then one table per node (sorted by host).

    ``text`` is the same table as one string (a YAML callback prints it as a block).
    """
    tables = []
    cluster = report.get("cluster") or {}
    api = cluster.get("api_host")
    lines = format_table("cluster%s" % (" (kube API via %s)" % api if api else ""), cluster.get("checks") or [], width)
    tables.append({"name": "cluster", "lines": lines, "text": "\n".join(lines)})
    for host in sorted(report.get("nodes") or {}):
        entry = report["nodes"][host]
        facts = []
        if entry.get("node") and entry["node"] != host:
            facts.append("node %s" % entry["node"])
        if entry.get("engine"):
            facts.append(entry["engine"])
        facts.append("WSL2" if entry.get("wsl") else "bare metal")
        lines = format_table("%s (%s)" % (host, ", ".join(facts)), entry["checks"], width)
        tables.append({"name": host, "lines": lines, "text": "\n".join(lines)})
    return tables


def problems(report):
    """One line per failed check: ``host: id: detail``, for a final fail message."""
    out = []
    for item in (report.get("cluster") or {}).get("checks") or []:
        if item["status"] == FAIL:
            out.append("cluster: %s: %s" % (item["id"], item["detail"]))
    for host in sorted(report.get("nodes") or {}):
        for item in report["nodes"][host]["checks"]:
            if item["status"] == FAIL:
                out.append("%s: %s: %s" % (host, item["id"], item["detail"]))
    return out


# =========================================================================== gpu_cluster verify view


def _verify_pod_text(state):
    reason = state["reason"] or state["condition_reason"]
    message = state["message"] if state["reason"] else state["condition_message"]
    return state["phase"] + (" (%s%s)" % (reason, ": " + message if message else "") if reason else "")


def _runtime_errors(events, kind, name):
    return [e.get("message") or "" for e in events
            if (kind is None or _get(e, "involvedObject", "kind") == kind) and _get(e, "involvedObject", "name") == name
            and RUNTIME_ERROR_RE.search(e.get("message") or "")]


def verify_report(plan, nodes, plugin_pods=None, events=None, runtime_class=None, plugin=None):
    """Per planned node: what it advertises, and problems with their likely cause (gpu_cluster's verify step).

    A view over the doctor's rules for the one DaemonSet the role deployed: the same toleration
    matching (:func:`untolerated_taints`), pod states (:func:`pod_state`) and runtime errors
    (:data:`RUNTIME_ERROR_RE`) as the ``plugin_pod``/``plugin_tolerations``/``capacity`` checks,
    worded against the role's plan.

    ``plan``: list of ``{host, node, capacity: {resource: count}, labels: {k: v}}`` (labels the role
    set on the node). ``nodes``/``plugin_pods``/``events``: lists of Kubernetes objects.
    ``runtime_class``: ``{name, exists}`` or None when the plugin runs without one.
    ``plugin``: ``{namespace, name, tolerations}`` of the device plugin DaemonSet.
    Without ``plugin_pods`` (None) only capacity and labels are compared.
    Returns ``{ok, nodes: [{host, node, ok, planned, allocatable, problems}], problems: [str]}``.
    """
    if not isinstance(plan, (list, tuple)):
        raise TypeError("plan must be a list, got %s" % type(plan).__name__)
    plugin = plugin or {}
    by_name = dict((_meta(n, "name"), n) for n in nodes or [])
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
    ds_runtime_errors = _runtime_errors(events, "DaemonSet", plugin.get("name"))

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
                            "cluster_join_node_name for %s to its Kubernetes node name" % (name, host, host))
            entry["ok"] = False
            report.append(entry)
            continue
        allocatable = _get(node, "status", "allocatable", default={}) or {}
        entry["allocatable"] = dict((k, _as_int(v)) for k, v in allocatable.items() if k.startswith(GPU_RESOURCE_PREFIX))
        labels = _labels(node)
        for key, value in sorted((item.get("labels") or {}).items()):
            if labels.get(key) != str(value):
                if key == CONFIG_LABEL:
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
            taints = untolerated_taints(node, plugin.get("tolerations"))
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
            states = [(p, pod_state(p)) for p in pods]
            if not any(state["ready"] for dummy, state in states):
                pod, state = states[0]
                pod_name = _meta(pod, "name")
                reason = state["reason"] or state["condition_reason"]
                runtime_msgs = _runtime_errors(events, None, pod_name)
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
                                    "nvidia runtime, or the driver is broken)"
                                    % (pod_name, _verify_pod_text(state), state["restarts"]))
                else:
                    problems.append("device plugin not running on the node: pod %s is %s"
                                    % (pod_name, _verify_pod_text(state)))
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


# =========================================================================== doctor v2: node checks made on the controller
# toolkit_version (the version matrix is controller side) and the Windows host layer of a
# WSL 2 node (what the doctor read on the Windows host, read only). build_report adds them
# to each node's checks through :func:`node_v2_checks`.

TOOLKIT_COMPONENT = "nvidia_container_toolkit"
WINDOWS_CHECK_IDS = ("windows_host", "wsl_idle_timeout", "wsl_keepalive", "wslconfig_networking")
#: Node checks made on the controller (doctor v2): toolkit_version and the Windows host layer.
CONTROLLER_NODE_CHECK_IDS = ("toolkit_version",) + WINDOWS_CHECK_IDS
#: WSL's own default for [wsl2] vmIdleTimeout (milliseconds).
WSL_DEFAULT_IDLE_MS = 60000
#: Task Scheduler's default ExecutionTimeLimit; microsoft/WSL#10708.
TASK_DEFAULT_LIMIT = "PT72H"
_WSL_ISSUES = {
    "idle": "microsoft/WSL#11239",
    "limit": "microsoft/WSL#10708",
    "boot": "microsoft/WSL#9231",
    "mirrored_inbound": "microsoft/WSL#10597",
    "mirrored_vxlan": "microsoft/WSL#10842",
}


def check_toolkit_version(node_result, matrix_entry, accepted=()):
    """``toolkit_version``: the node's toolkit against the version matrix's known-bad list.

    ``node_result``: the gpu_node_doctor result (its ``node.toolkit``); ``matrix_entry``: the
    matrix's ``nvidia_container_toolkit`` entry (lookup version_matrix field=entry), the one
    source of the list; ``accepted``: the node's ``gpu_runtime_toolkit_accept_known_bad``.
    """
    from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _versions

    toolkit = (node_result.get("node") or {}).get("toolkit")
    if not matrix_entry:
        return check("toolkit_version", SKIP, "no version matrix given to the doctor (toolkit_matrix)")
    pinned = str(matrix_entry.get("version"))
    if not isinstance(toolkit, Mapping):
        return check("toolkit_version", SKIP, "the node's module did not report the toolkit version")
    version = toolkit.get("version")
    if not version:
        searched = ", ".join(toolkit.get("searched") or []) or "nothing to ask"
        return check("toolkit_version", SKIP, "no nvidia-container-toolkit package (%s) and no nvidia-ctk answering "
                     "--version: version unknown (see container_runtime)" % searched)
    where = "%s (%s)" % (version, toolkit.get("source") or "?")
    matrix = {"components": {TOOLKIT_COMPONENT: matrix_entry}}
    try:
        bad = _versions.known_bad(TOOLKIT_COMPONENT, version, matrix)
    except _versions.VersionMatrixError as exc:
        return check("toolkit_version", SKIP, "cannot compare %s: %s" % (where, exc))
    accepted = [str(a) for a in accepted or []]
    refused = [b for b in bad if str(b["id"]) not in accepted]
    if not refused:
        note = "" if not bad else "; on the known-bad list (%s) but accepted with gpu_runtime_toolkit_accept_known_bad" \
            % ", ".join(str(b["id"]) for b in bad)
        same = "the version matrix's pin" if _versions.version_key(version) == _versions.version_key(pinned) \
            else "not on the known-bad list; the version matrix pins %s" % pinned
        return check("toolkit_version", PASS, "nvidia-container-toolkit %s: %s%s" % (where, same, note))
    parts = []
    for item in refused:
        release = ("releases before %s" % item["below"]) if "below" in item else "release %s" % ", ".join(
            str(v) for v in item["versions"])
        parts.append("%s (%s): %s" % (item["id"], release, " ".join(str(item["why"]).split())))
    return check("toolkit_version", FAIL, "nvidia-container-toolkit %s is on the known-bad list: %s"
                 % (where, "; ".join(parts)),
                 "install the pinned %s: gpu_runtime_toolkit_version: %s (playbooks/gpu_node.yml), or by hand "
                 "'apt-get install nvidia-container-toolkit=%s-1 nvidia-container-toolkit-base=%s-1' (dnf: "
                 "nvidia-container-toolkit-%s), then restart the container engine; see %s"
                 % (pinned, pinned, pinned, pinned, pinned, ", ".join(str(b["url"]) for b in refused)))


def _duration_seconds(text):
    """Seconds of an ISO 8601 duration such as PT72H or P3D (Task Scheduler's format), or None."""
    match = re.match(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$", str(text or "").strip().upper())
    if not match or str(text).strip().upper() in ("P", "PT"):
        return None
    days, hours, minutes, seconds = (int(x or 0) for x in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _windows_skip(detail):
    return [check(check_id, SKIP, detail) for check_id in WINDOWS_CHECK_IDS[1:]]


def windows_host_checks(win):
    """The ``windows_host`` layer of a WSL 2 node from what the doctor read on its Windows host.

    ``win``: ``{host, unreachable, failed, msg, wslconfig: {path, exists, text, error},
    settings (effective .wslconfig values, see _wslconfig.effective_settings) or None,
    task_name, task (win_scheduled_task_stat result), distro, user, expected: {networking_mode,
    keepalive_at_boot}}``. Returns ``(checks, facts)``; facts go into the report's node entry.
    """
    host = win.get("host") or "?"
    if win.get("unreachable") or win.get("failed"):
        word = "unreachable" if win.get("unreachable") else "could not be read"
        return [check("windows_host", FAIL, "Windows host %s %s: %s" % (host, word, _first_line(win.get("msg") or "", 200)),
                      "check the WinRM connection: ansible -m ansible.windows.win_ping %s" % host)] \
            + _windows_skip("Windows host %s not read (see windows_host)" % host), {"host": host, "read": False}
    wslconfig = win.get("wslconfig") or {}
    path = wslconfig.get("path") or "%USERPROFILE%\\.wslconfig"
    task_name = win.get("task_name") or "?"
    checks = [check("windows_host", PASS, "read %s and scheduled task '%s' on %s (read only)" % (path, task_name, host))]
    settings = win.get("settings")
    facts = {"host": host, "read": True, "wslconfig": path, "networking_mode": None, "vm_idle_timeout": None,
             "keepalive_task": task_name}
    if wslconfig.get("error"):
        checks.append(check("wsl_idle_timeout", FAIL, "%s: %s" % (path, _first_line(wslconfig["error"], 200)),
                            "fix or recreate %s (playbooks/windows_host.yml merges its keys)" % path))
        checks.append(check("wslconfig_networking", SKIP, "%s unreadable (see wsl_idle_timeout)" % path))
        settings = None
    else:
        settings = settings or {}
        checks.append(_check_wsl_idle_timeout(path, bool(wslconfig.get("exists")), settings, facts))
    checks.append(_check_wsl_keepalive(win, host, task_name))
    if settings is not None:
        checks.append(_check_wslconfig_networking(win, path, settings, facts))
    order = dict((check_id, index) for index, check_id in enumerate(WINDOWS_CHECK_IDS))
    return sorted(checks, key=lambda item: order[item["id"]]), facts


def _check_wsl_idle_timeout(path, exists, settings, facts):
    raw = settings.get("vmIdleTimeout")
    facts["vm_idle_timeout"] = raw
    fix = ("set vmIdleTimeout=-1 under [wsl2] in %s (playbooks/windows_host.yml does: windows_host_wsl_vm_idle_timeout: "
           "-1), then run 'wsl --shutdown' so WSL reads it; see %s" % (path, _WSL_ISSUES["idle"]))
    if raw is None:
        why = "%s does not exist" % path if not exists else "%s sets no [wsl2] vmIdleTimeout" % path
        return check("wsl_idle_timeout", FAIL, "%s: WSL's default (%d ms) shuts the VM, and the k3s node in it, down "
                     "when no process runs in it" % (why, WSL_DEFAULT_IDLE_MS), fix)
    try:
        value = int(raw, 0)
    except ValueError:
        return check("wsl_idle_timeout", FAIL, "%s: vmIdleTimeout=%s is not a number: WSL ignores it and uses %d ms"
                     % (path, raw, WSL_DEFAULT_IDLE_MS), fix)
    if value < 0:
        return check("wsl_idle_timeout", PASS, "%s: vmIdleTimeout=%s, the VM is never stopped for being idle" % (path, raw))
    return check("wsl_idle_timeout", FAIL, "%s: vmIdleTimeout=%s: WSL shuts the VM, and the k3s node in it, down %s "
                 "after its last process ends" % (path, raw, "%d s" % (value // 1000) if value >= 1000 else "%d ms" % value),
                 fix)


def _check_wsl_keepalive(win, host, task_name):
    task = win.get("task") or {}
    expected = win.get("expected") or {}
    distro = win.get("distro") or "the node's distribution"
    playbook = "run playbooks/windows_host.yml"
    rerun = playbook + " (windows_host_keepalive: true), which registers it"
    if task.get("failed"):
        return check("wsl_keepalive", SKIP, "cannot read scheduled task '%s': %s" % (task_name, _first_line(task.get("msg") or "", 160)))
    if not task.get("task_exists"):
        return check("wsl_keepalive", FAIL, "no scheduled task '%s' on %s: nothing starts %s after a reboot or keeps it "
                     "running, so the node stays NotReady until someone opens WSL" % (task_name, host, distro), rerun)
    settings = task.get("settings") or {}
    principal = task.get("principal") or {}
    triggers = [str(t.get("type") or "") for t in task.get("triggers") or [] if isinstance(t, Mapping)
                and t.get("enabled", True) is not False]
    problems, fixes = [], []
    if settings.get("enabled") is False:
        problems.append("the task is disabled")
        fixes.append("enable it: Enable-ScheduledTask -TaskName '%s' (or %s)" % (task_name, playbook))
    limit = settings.get("execution_time_limit")
    seconds = _duration_seconds(limit)
    if limit and seconds != 0:
        problems.append("ExecutionTimeLimit %s: Task Scheduler ends the keep-alive after %s and the WSL VM shuts down "
                        "(%s)" % (limit, "%d h" % (seconds // 3600) if seconds else "that time", _WSL_ISSUES["limit"]))
        fixes.append("set the task's ExecutionTimeLimit to PT0S (no limit; playbooks/windows_host.yml does)")
    logon = str(principal.get("logon_type") or "")
    at_boot = "TASK_TRIGGER_BOOT" in triggers and logon not in ("TASK_LOGON_INTERACTIVE_TOKEN", "TASK_LOGON_GROUP")
    if expected.get("keepalive_at_boot") and not at_boot:
        problems.append("not started at boot without a logged-on user (triggers %s, logon %s; %s)"
                        % (", ".join(triggers) or "none", logon or "?", _WSL_ISSUES["boot"]))
        fixes.append("rerun playbooks/windows_host.yml with windows_host_keepalive_at_boot: true (boot trigger, S4U logon)")
    when = "from boot (%s)" % logon if at_boot else "at logon of %s" % (principal.get("user_id") or win.get("user") or "the user")
    if problems:
        return check("wsl_keepalive", FAIL, "scheduled task '%s': %s" % (task_name, "; ".join(problems)), "; ".join(fixes))
    state = (task.get("state") or {}).get("status")
    return check("wsl_keepalive", PASS, "scheduled task '%s' enabled, no time limit, starts %s%s%s"
                 % (task_name, when, ", %s" % state if state else "",
                    "" if at_boot else " (not at boot: windows_host_keepalive_at_boot)"))


def _check_wslconfig_networking(win, path, settings, facts):
    raw = settings.get("networkingMode")
    mode = (raw or "nat").lower()
    facts["networking_mode"] = mode
    expected = ((win.get("expected") or {}).get("networking_mode") or "").lower()
    switch = settings.get("vmSwitch")
    setting = "networkingMode=%s" % raw if raw else "no networkingMode (WSL's default, nat)"
    if expected and expected != mode:
        return check("wslconfig_networking", FAIL, "%s: %s, but windows_host_networking_mode is %s for this host"
                     % (path, setting, expected),
                     "run playbooks/windows_host.yml to write networkingMode=%s, then 'wsl --shutdown'" % expected)
    if mode in ("nat", "virtioproxy"):
        return check("wslconfig_networking", FAIL, "%s: %s: the node sits behind Windows' NAT on an address that changes at "
                     "every VM start; the server and the other nodes cannot reach its kubelet or pod network" % (path, setting),
                     "use bridged networking (networkingMode=bridged and vmSwitch=<external Hyper-V switch>; "
                     "windows_host_networking_mode: bridged) or mirrored (Hyper-V firewall rules, no flannel VXLAN), "
                     "then 'wsl --shutdown'")
    if mode == "none":
        return check("wslconfig_networking", FAIL, "%s: networkingMode=none: the VM has no network" % path,
                     "set networkingMode=bridged (or mirrored) under [wsl2], then 'wsl --shutdown'")
    if mode == "bridged":
        if not switch:
            return check("wslconfig_networking", FAIL, "%s: networkingMode=bridged without vmSwitch: WSL cannot start the VM's "
                         "network" % path, "add vmSwitch=<external Hyper-V switch> under [wsl2] (windows_host_vswitch_name)")
        return check("wslconfig_networking", PASS, "%s: bridged on Hyper-V switch %s: the node has its own LAN address"
                     % (path, switch))
    if mode == "mirrored":
        return check("wslconfig_networking", PASS, "%s: mirrored: the node shares the desktop's addresses; inbound traffic "
                     "needs Hyper-V firewall rules (%s) and kernel-created tunnels such as flannel VXLAN do not pass (%s)"
                     % (path, _WSL_ISSUES["mirrored_inbound"], _WSL_ISSUES["mirrored_vxlan"]))
    return check("wslconfig_networking", FAIL, "%s: networkingMode=%s is not a mode WSL knows" % (path, raw),
                 "set networkingMode=bridged (or mirrored) under [wsl2]")


def node_v2_checks(item, result, checks, options):
    """Add toolkit_version (after container_runtime) and, for a WSL node, the windows_host layer
    (first) to ``checks``; returns ``(checks, extra entry fields)``."""
    extra = {}
    out = list(checks)
    if "toolkit_matrix" in options:
        row = check_toolkit_version(result, options.get("toolkit_matrix"), item.get("toolkit_accepted") or ())
        ids = [c["id"] for c in out]
        at = ids.index("container_runtime") + 1 if "container_runtime" in ids else len(out)
        out.insert(at, row)
    wsl = bool((result.get("node") or {}).get("wsl"))
    win = item.get("windows")
    if isinstance(win, Mapping):
        rows, facts = windows_host_checks(win)
        out = rows + out
        extra["windows"] = facts
    elif wsl:
        out.insert(0, check("windows_host", SKIP, "the Windows host was not read: set wsl_windows_host for this node to "
                            "its Windows host's inventory name (and reach it over WinRM)"))
    return out, extra


def windows_input(raw):
    """What the doctor role read on a Windows host -> the ``win`` dict of :func:`windows_host_checks`.

    ``raw``: ``{host, unreachable, failed, msg, wslconfig_path, slurp (ansible.windows.slurp's
    result), task_name, task (community.windows.win_scheduled_task_stat's result), distro, user,
    expected}``.
    """
    import base64

    from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wslconfig import (
        WslConfigError,
        decode_wslconfig,
        effective_settings,
    )

    raw = dict(raw or {})
    keys = ("host", "unreachable", "failed", "msg", "task_name", "task", "distro", "user", "expected")
    win = dict((k, raw.get(k)) for k in keys)
    slurp = raw.get("slurp") or {}
    wslconfig = {"path": raw.get("wslconfig_path"), "exists": False, "error": None}
    if slurp.get("unreachable"):
        win.update(unreachable=True, msg=slurp.get("msg"))
    elif slurp.get("failed"):
        msg = str(slurp.get("msg") or "")
        if not re.search(r"not found|no such file|does not exist|cannot find", msg, re.IGNORECASE):
            wslconfig["error"] = "cannot read it: %s" % msg
    else:
        try:
            text, dummy = decode_wslconfig(base64.b64decode(slurp.get("content") or ""))
            wslconfig["exists"] = True
            win["settings"] = effective_settings(text)
        except (WslConfigError, ValueError, TypeError) as exc:
            wslconfig["error"] = str(exc)
    if (raw.get("task") or {}).get("unreachable"):
        win.update(unreachable=True, msg=raw["task"].get("msg"))
    win["wslconfig"] = wslconfig
    return win


# =========================================================================== doctor v2: cluster checks (issue 20)
# wsl_networking, node_ip, gfd_dcgm_runtime, plugin_restart, and plugin_config for a plugin that
# reads its config file straight from a ConfigMap (no config-manager).

#: Annotations flannel (k3s's built-in CNI) and k3s write on each Node.
FLANNEL_BACKEND_ANNOTATION = "flannel.alpha.coreos.com/backend-type"
FLANNEL_PUBLIC_IP_ANNOTATION = "flannel.alpha.coreos.com/public-ip"
K3S_INTERNAL_IP_ANNOTATION = "k3s.io/internal-ip"
#: flannel backends that send through a socket the kernel creates, which WSL's mirrored mode
#: does not carry (microsoft/WSL#10842): VXLAN, and WireGuard (k3s flannel-backend=wireguard-native).
KERNEL_SOCKET_BACKENDS = ("vxlan", "wireguard")
WSL_KERNEL_SOCKET_ISSUE = "microsoft/WSL#10842"
#: Binaries of the other NVML users that run as DaemonSets next to the device plugin.
_NVML_DAEMONS = (("gpu-feature-discovery", "GPU feature discovery"), ("dcgm-exporter", "DCGM exporter"))


def config_map_at(spec, container, path):
    """``(configmap name, key)`` of the ConfigMap volume that ``container`` sees at file ``path``, else ("", "")."""
    if not path:
        return "", ""
    volumes = dict((v.get("name"), v) for v in spec.get("volumes") or [] if isinstance(v, dict))
    for mount in (container or {}).get("volumeMounts") or []:
        if not isinstance(mount, dict):
            continue
        source = (volumes.get(mount.get("name")) or {}).get("configMap")
        if not isinstance(source, dict) or not source.get("name"):
            continue
        mount_path = str(mount.get("mountPath") or "").rstrip("/")
        if mount.get("subPath"):
            if path != mount_path:
                continue
            relative = str(mount["subPath"])
        elif path.startswith(mount_path + "/"):
            relative = path[len(mount_path) + 1:]
        else:
            continue
        key = relative
        items = source.get("items")
        if items:
            key = ""
            for item in items:
                if isinstance(item, dict) and item.get("path") == relative:
                    key = item.get("key") or ""
        return source["name"], key
    return "", ""


def find_gpu_daemonsets(daemonsets):
    """GPU feature discovery and DCGM exporter DaemonSets (Helm charts, GPU operator), as plain dicts.

    ``{namespace, name, uid, what, runtime_class}``; ``what`` names the daemon. Matched by the
    container's command or image (``gpu-feature-discovery``, ``dcgm-exporter``); the device
    plugin's own DaemonSet is not one of them.
    """
    found = []
    for ds in daemonsets or []:
        spec = _get(ds, "spec", "template", "spec", default={})
        if _plugin_container(spec) is not None:
            continue
        what = None
        for container in _containers(spec):
            text = " ".join(_argv(container) + [str(container.get("image") or "")])
            for binary, label in _NVML_DAEMONS:
                if binary in text:
                    what = what or label
        if what:
            found.append({"namespace": _meta(ds, "namespace"), "name": _meta(ds, "name"), "uid": _meta(ds, "uid"),
                          "what": what, "runtime_class": spec.get("runtimeClassName") or ""})
    return sorted(found, key=lambda d: (d["namespace"], d["name"]))


def _owned_by(pod, ds):
    if _meta(pod, "namespace") != ds["namespace"]:
        return False
    return any(o.get("kind") == "DaemonSet" and (o.get("uid") == ds["uid"] or o.get("name") == ds["name"])
               for o in _get(pod, "metadata", "ownerReferences", default=[]) or [])


def _check_gfd_dcgm_runtime(ctx):
    """GFD and the DCGM exporter load NVML like the device plugin: same rule as plugin_runtime."""
    if ctx.node is None:
        return check("gfd_dcgm_runtime", SKIP, "not a Kubernetes node")
    daemonsets = find_gpu_daemonsets(ctx.objects.get("daemonsets"))
    rows = []
    for ds in daemonsets:
        pods = [p for p in ctx.pods if _owned_by(p, ds)]
        if not pods:
            continue
        ref = "%s DaemonSet %s/%s" % (ds["what"], ds["namespace"], ds["name"])
        status, detail, fix = nvml_runtime_verdict(
            ctx, ref, ds["runtime_class"], pods="%s pods (%s)" % (ds["what"], _pod_name(pods[0])),
            consequence="pod %s cannot load NVML (%s)" % (
                _pod_name(pods[0]), "no GPU labels" if "discovery" in ds["what"] else "no GPU metrics"),
            helm="Helm: runtimeClassName=%s; GPU operator: it sets the RuntimeClass itself")
        rows.append((status, detail, fix))
    if not rows:
        return check("gfd_dcgm_runtime", PASS, "no GPU feature discovery or DCGM exporter pod on this node")
    failed = [r for r in rows if r[0] == FAIL]
    if failed:
        return check("gfd_dcgm_runtime", FAIL, "; ".join(r[1] for r in failed), failed[0][2])
    skipped = [r for r in rows if r[0] == SKIP]
    if skipped:
        return check("gfd_dcgm_runtime", SKIP, "; ".join(r[1] for r in skipped))
    return check("gfd_dcgm_runtime", PASS, "; ".join(r[1] for r in rows))


def _check_plugin_config_file(ctx, plugin, label_key, label):
    """plugin_config for a plugin without config-manager that reads --config-file / CONFIG_FILE from a ConfigMap."""
    ref = "ConfigMap %s/%s" % (plugin["namespace"], plugin["config_file_map"])
    key = plugin.get("config_file_key") or ""
    how = "config file %s" % plugin["config_file"]
    if label:
        ctx.selected = None
        return check("plugin_config", FAIL, "node label %s=%s is set but %s has no config-manager: the label is "
                     "ignored, every node gets %s key %s (%s)"
                     % (label_key, label, _plugin_ref(plugin), ref, key or "?", how),
                     "deploy the plugin with config-manager (gpu_cluster_device_plugin_configs; Helm config.map and "
                     "config.default) or put the config for this node in key %s" % (key or "?"))
    cm = ctx.config_maps.get((plugin["namespace"], plugin["config_file_map"]))
    if cm is None:
        return check("plugin_config", FAIL, "%s does not exist: the plugin pods cannot mount their %s" % (ref, how),
                     "create it (playbooks/gpu_cluster.yml) or fix the DaemonSet's configMap volume")
    data = cm.get("data") or {}
    if not key or key not in data:
        keys = ", ".join(sorted(data)) or "none"
        return check("plugin_config", FAIL, "the plugin reads %s from %s key %s, which does not exist (keys: %s): it "
                     "cannot load its config" % (plugin["config_file"], ref, key or "?", keys),
                     "name the key %s in the ConfigMap, or point --config-file/CONFIG_FILE at one of: %s"
                     % (key or posixpath.basename(plugin["config_file"]), keys))
    return _plugin_config_key(ctx, plugin, ref, key, how, data.get(key) or "")


def parse_time(text):
    """A Kubernetes timestamp (RFC 3339, ``...Z``) as an aware datetime, or None."""
    text = str(text or "").strip()
    if not text:
        return None
    text = text[:-1] + "+00:00" if text.endswith("Z") else text
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    try:
        return datetime.datetime.fromisoformat(text)
    except ValueError:
        return None


def _time_text(value):
    return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ")


def _fields_have(fields, *path):
    for key in path:
        if not isinstance(fields, Mapping) or key not in fields:
            return False
        fields = fields[key]
    return True


def config_map_changed(cm):
    """``(time, manager)`` of the last change of a ConfigMap's data (its managedFields), else its creation."""
    best = None
    for entry in _get(cm, "metadata", "managedFields", default=[]) or []:
        fields = entry.get("fieldsV1") or {}
        if not (_fields_have(fields, "f:data") or _fields_have(fields, "f:binaryData")):
            continue
        when = parse_time(entry.get("time"))
        if when is not None and (best is None or when > best[0]):
            best = (when, entry.get("manager") or "?")
    if best is None:
        created = parse_time(_meta(cm, "creationTimestamp"))
        return (created, "creation") if created else (None, None)
    return best


def _label_changed(node, label_key):
    best = None
    for entry in _get(node, "metadata", "managedFields", default=[]) or []:
        if _fields_have(entry.get("fieldsV1") or {}, "f:metadata", "f:labels", "f:%s" % label_key):
            when = parse_time(entry.get("time"))
            if when is not None and (best is None or when > best):
                best = when
    return best


def _container_started(pod, name):
    for status in _get(pod, "status", "containerStatuses", default=[]) or []:
        if status.get("name") == name:
            return parse_time(_get(status, "state", "running", "startedAt"))
    return None


def _check_plugin_restart(ctx):
    """The plugin reads its config file when it starts (config-manager signals it only when the
    node label switches it to another key): a ConfigMap edited after the plugin container
    started is not in effect."""
    plugin = ctx.plugin
    if plugin is None or ctx.node is None:
        return check("plugin_restart", SKIP, "no device plugin DaemonSet or no node")
    name = plugin.get("config_map") if plugin.get("config_manager") else plugin.get("config_file_map")
    if not name:
        return check("plugin_restart", SKIP, "%s reads no ConfigMap: nothing to reload" % _plugin_ref(plugin))
    ref = "ConfigMap %s/%s" % (plugin["namespace"], name)
    cm = ctx.config_maps.get((plugin["namespace"], name))
    if cm is None:
        return check("plugin_restart", SKIP, "%s not found (see plugin_config)" % ref)
    pod = ctx.plugin_pod()
    if pod is None:
        return check("plugin_restart", SKIP, "no plugin pod on %s (see plugin_pod)" % ctx.name)
    started = _container_started(pod, plugin["container"])
    if started is None:
        return check("plugin_restart", SKIP, "container %s of %s is not running (see plugin_pod)"
                     % (plugin["container"], _pod_name(pod)))
    changed, manager = config_map_changed(cm)
    if changed is None:
        return check("plugin_restart", SKIP, "%s has no change time (no managedFields, no creationTimestamp)" % ref)
    if changed <= started:
        return check("plugin_restart", PASS, "container %s of %s started %s, after the last change of %s (%s)"
                     % (plugin["container"], _pod_name(pod), _time_text(started), ref, _time_text(changed)))
    label_key = plugin.get("node_label") or CONFIG_LABEL
    relabelled = _label_changed(ctx.node, label_key) if plugin.get("config_manager") else None
    if relabelled is not None and relabelled >= changed:
        return check("plugin_restart", PASS, "%s changed %s, after the plugin started (%s), but node label %s was set "
                     "later (%s): config-manager switched the config and signalled the plugin"
                     % (ref, _time_text(changed), _time_text(started), label_key, _time_text(relabelled)))
    ctx.stale_config = _pod_name(pod)
    why = ("config-manager switches the config only when node label %s changes" % label_key
           if plugin.get("config_manager") else "%s has no config-manager" % _plugin_ref(plugin))
    return check("plugin_restart", FAIL, "%s changed %s (%s), after container %s of %s started %s: the plugin "
                 "still runs the config it read at start (%s)"
                 % (ref, _time_text(changed), "by %s" % manager if manager != "creation" else "created",
                    plugin["container"], _pod_name(pod), _time_text(started), why),
                 "restart it: kubectl -n %s delete pod %s (the DaemonSet starts a new one that reads the current "
                 "config; for every node: kubectl -n %s rollout restart daemonset %s)"
                 % (plugin["namespace"], _meta(pod, "name"), plugin["namespace"], plugin["name"]))


def _stale_note(ctx):
    if ctx.stale_config:
        return "; pod %s started before its ConfigMap changed (see plugin_restart)" % ctx.stale_config
    return ""


def _annotations(obj):
    return _get(obj, "metadata", "annotations", default={}) or {}


def _bridged_fix():
    return ("give the WSL VM its own LAN address with bridged networking: windows_host_networking_mode: bridged and an "
            "external Hyper-V switch (playbooks/windows_host.yml), or by hand .wslconfig [wsl2] "
            "networkingMode=bridged and vmSwitch=<switch>, then 'wsl --shutdown'")


def _check_wsl_networking(ctx):
    """WSL's networking mode (node probe) against the cluster's pod network (flannel's annotation)."""
    if ctx.node is None:
        return check("wsl_networking", SKIP, "not a Kubernetes node")
    if not ctx.wsl:
        return check("wsl_networking", SKIP, "not a WSL 2 node")
    network = ctx.node_info.get("network") or {}
    mode = network.get("wsl_mode")
    if not mode:
        return check("wsl_networking", SKIP, "WSL networking mode unknown (no 'wslinfo --networking-mode': WSL older "
                     "than 2.0, or the module predates this check)")
    annotations = _annotations(ctx.node)
    backend = annotations.get(FLANNEL_BACKEND_ANNOTATION)
    public_ip = annotations.get(FLANNEL_PUBLIC_IP_ANNOTATION)
    others = [_meta(n, "name") for n in ctx.objects.get("nodes") or [] if _meta(n, "name") != ctx.name]
    seen = "WSL networking %s (%s)" % (mode, network.get("wsl_mode_source") or "?")
    if not backend:
        return check("wsl_networking", SKIP, "%s; node %s has no %s annotation: not a flannel cluster, the pod "
                     "network's backend is not checked" % (seen, ctx.name, FLANNEL_BACKEND_ANNOTATION))
    flannel = "flannel backend %s%s" % (backend, " (public-ip %s)" % public_ip if public_ip else "")
    if not others:
        return check("wsl_networking", PASS, "%s, %s; the only node: no pod traffic between nodes" % (seen, flannel))
    if mode == "mirrored" and backend in KERNEL_SOCKET_BACKENDS:
        return check("wsl_networking", FAIL, "%s with %s: mirrored mode does not carry sockets the kernel creates "
                     "(%s), so pods on %s cannot reach pods on the %s"
                     % (seen, flannel, WSL_KERNEL_SOCKET_ISSUE, ctx.name, _plural(len(others), "other node")),
                     "%s; switching flannel to wireguard-native does not help (WireGuard is a kernel socket too)"
                     % _bridged_fix())
    if mode in ("nat", "virtioproxy", "none"):
        return check("wsl_networking", FAIL, "%s, %s: the node's address%s is private to the Windows host, the %s "
                     "cannot reach the node or its pods" % (seen, flannel, " %s" % public_ip if public_ip else "",
                                                            _plural(len(others), "other node")),
                     _bridged_fix())
    return check("wsl_networking", PASS, "%s, %s" % (seen, flannel))


def _check_node_ip(ctx):
    """k3s's registered node IP vs its configured node-ip vs the node's current addresses (node probe)."""
    if ctx.node is None:
        return check("node_ip", SKIP, "not a Kubernetes node")
    registered_text = _annotations(ctx.node).get(K3S_INTERNAL_IP_ANNOTATION)
    if not registered_text:
        return check("node_ip", SKIP, "node %s has no %s annotation: not a k3s node"
                     % (ctx.name, K3S_INTERNAL_IP_ANNOTATION))
    network = ctx.node_info.get("network")
    if not network:
        return check("node_ip", SKIP, "the node's addresses are unknown (the module predates this check)")
    registered = [ip.strip() for ip in registered_text.split(",") if ip.strip()]
    internal = [a.get("address") for a in _get(ctx.node, "status", "addresses", default=[]) or []
                if a.get("type") == "InternalIP"]
    current = network.get("addresses") or []
    configured = network.get("node_ip") or []
    source = network.get("node_ip_source")
    have = ", ".join(current) or "none"
    stable = ("pin an address that stays: on WSL bridged networking with a DHCP reservation or "
              "windows_host_wsl_address_mode: static (NAT gives the VM a new address at every start)")
    lost = [ip for ip in configured if ip not in current]
    if lost:
        return check("node_ip", FAIL, "node-ip %s in %s is not an address of the node any more (it has %s); node "
                     "registered as %s" % (", ".join(lost), source, have, registered_text),
                     "%s; set cluster_join_node_ip to it and rerun playbooks/cluster_join.yml (or edit node-ip in "
                     "%s), then systemctl restart k3s-agent" % (stable, source))
    moved = [ip for ip in registered if ip not in current]
    if moved:
        return check("node_ip", FAIL, "node %s registered as %s (%s, InternalIP %s) but has %s now: the API server "
                     "and the other nodes still use %s" % (ctx.name, registered_text, K3S_INTERNAL_IP_ANNOTATION,
                                                           ", ".join(internal) or "none", have, ", ".join(moved)),
                     "systemctl restart k3s-agent (it registers its current address); then %s and set "
                     "cluster_join_node_ip to it" % stable)
    if configured and sorted(configured) != sorted(registered):
        return check("node_ip", FAIL, "node-ip %s in %s, but node %s registered as %s: k3s was not restarted after "
                     "node-ip changed" % (", ".join(configured), source, ctx.name, registered_text),
                     "restart k3s so it registers node-ip %s: systemctl restart k3s-agent (k3s on a server)"
                     % ", ".join(configured))
    pinned = "node-ip pinned in %s" % source if configured else \
        "node-ip not pinned: k3s picked it (a WSL NAT address changes at every start)"
    return check("node_ip", PASS, "node %s registered as %s, an address of the node; %s" % (ctx.name, registered_text,
                                                                                            pinned))


def _unlabelled_note(ctx, plugin, how, config, ref):
    """For a node that got its config without a label: the keys that would share the GPU (the usual
    "time-slicing does not raise capacity": the label was forgotten)."""
    if how.startswith("label") or (config or {}).get("sharing") or not plugin.get("config_manager"):
        return ""
    cm = ctx.config_maps.get((plugin["namespace"], plugin["config_map"])) or {}
    sharing_keys = []
    for key, text in sorted((cm.get("data") or {}).items()):
        try:
            parsed = ctx.parse_yaml(text) if str(text).strip() else {}
        except Exception:  # plugin_config reports the key this node uses; others are only hints
            continue
        if isinstance(parsed, Mapping) and parsed.get("sharing"):
            sharing_keys.append(key)
    if not sharing_keys:
        return ""
    return ("; node %s has no label %s, so keys that share the GPU (%s) are not used: label it to use one"
            % (ctx.name, plugin.get("node_label") or CONFIG_LABEL, ", ".join(sharing_keys)))
