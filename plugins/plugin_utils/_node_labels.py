# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Node labels and taints, worked out once on the controller.

Plain Python (standard library), used by ``cluster_join`` (what the kubelet sets when the
node registers) and ``gpu_cluster`` (what the cluster side applies through the API):

- :func:`gpu_type` spells a GPU model the way the homelab labels it
  ("NVIDIA GeForce RTX 4090" -> ``rtx4090``, "Tesla T4" -> ``tesla-t4``);
- :func:`gpu_node_labels` derives ``gpu``/``gpu-type``/``node-type`` and the GPU feature
  discovery labels from ``ansible_facts.nvidia``; :func:`merge_labels` layers label dicts
  (later wins) with Kubernetes' string values;
- :func:`parse_taint` / :func:`taint_string` / :func:`normalise_taints` turn
  ``key=value:Effect`` into the API's ``{key, value, effect}`` and back;
- :func:`merge_taints` keeps every taint of a node that is not ours and replaces ours by
  key + effect, as ``kubectl taint`` identifies them; :func:`node_update` says what a
  Node object lacks;
- :func:`kubelet_may_set` / :func:`split_registration_labels` follow the kubelet's
  ``--node-labels`` check and the NodeRestriction admission plugin (Kubernetes 1.36:
  ``k8s.io/kubelet/pkg/apis/well_known_labels.go`` ``IsKubeletLabel`` and
  ``plugin/pkg/admission/noderestriction/admission.go`` ``getForbiddenLabels``);
- :func:`label_problems` / :func:`taint_problems` return one sentence per invalid entry.
"""

from __future__ import annotations

import re

TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")

# The taint of GPU nodes that only GPU pods tolerate (the GPU-only node of the homelab).
GPU_TAINT = "nvidia.com/gpu=present:NoSchedule"

# Label names in the kubernetes.io / k8s.io namespaces a kubelet may set on its own node
# (k8s.io/kubelet/pkg/apis: kubeletLabels), and the namespaces it may use freely, with
# any sub-domain in front (kubeletLabelNamespaces).
KUBELET_LABELS = frozenset((
    "kubernetes.io/hostname",
    "topology.kubernetes.io/zone",
    "topology.kubernetes.io/region",
    "failure-domain.beta.kubernetes.io/zone",
    "failure-domain.beta.kubernetes.io/region",
    "beta.kubernetes.io/instance-type",
    "node.kubernetes.io/instance-type",
    "kubernetes.io/os",
    "kubernetes.io/arch",
    "beta.kubernetes.io/os",
    "beta.kubernetes.io/arch",
))
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")
# NodeRestriction refuses these to every kubelet, so that they can steer workloads safely.
NODE_RESTRICTION_NAMESPACE = "node-restriction.kubernetes.io"

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_PREFIX = re.compile(r"^%s(\.%s)*$" % (_DNS_LABEL, _DNS_LABEL))
_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_TAINT = re.compile(r"^(?P<key>[^=:]+)(=(?P<value>[^:]*))?:(?P<effect>[^:]+)$")


class NodeLabelError(ValueError):
    """A label or taint that Kubernetes would refuse; the message names it and says what is accepted."""


def label_value(value):
    """A label value as Kubernetes stores it: a string; booleans as true/false, None as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def merge_labels(*layers):
    """Label dicts merged left to right (later wins), names and values as strings."""
    merged = {}
    for layer in layers:
        for name, value in (layer or {}).items():
            merged[str(name)] = label_value(value)
    return merged


def gpu_type(model):
    """A GPU model as the ``gpu-type`` label value: "NVIDIA GeForce RTX 4090" -> rtx4090, "Tesla T4" -> tesla-t4.

    Lower case, without the words NVIDIA and GeForce, a letter run joined to the number that
    follows it ("rtx 4090" -> rtx4090), every other run of characters a label value cannot
    hold as one '-', at most 63 characters, starting and ending with a letter or digit.
    """
    text = str(model or "").lower()
    text = re.sub(r"\b(nvidia|geforce)\b", "", text)
    text = re.sub(r"([a-z]) +([0-9])", r"\1\2", text)
    text = re.sub(r"[^a-z0-9.]+", "-", text)
    text = re.sub(r"^[^a-z0-9]+", "", text)[:63]
    return re.sub(r"[^a-z0-9]+$", "", text)


def is_wsl(gpu_facts, kernel=""):
    """A WSL2 node: the GPU facts say so, or the kernel release is Microsoft's."""
    return bool((gpu_facts or {}).get("wsl")) or bool(re.search(r"microsoft|WSL", kernel or ""))


def has_gpu(gpu_facts):
    """An NVIDIA GPU the facts list (present on the PCI bus or in WSL, with at least one GPU entry)."""
    facts = gpu_facts or {}
    return bool(facts.get("present")) and len(facts.get("gpus") or []) > 0


def gpu_node_labels(gpu_facts, kernel="", gpu_labels=True, gfd_labels=True, gpu_type_override=""):
    """The labels a GPU node gets from its facts: gpu=nvidia, gpu-type, node-type=wsl < GPU feature discovery.

    ``gpu_facts`` is ``ansible_facts.nvidia``; nothing is derived for a host without a GPU.
    """
    if not has_gpu(gpu_facts):
        return {}
    derived = {}
    if gpu_labels:
        derived = {"gpu": "nvidia", "gpu-type": gpu_type_override or gpu_type(gpu_facts["gpus"][0].get("name"))}
        if is_wsl(gpu_facts, kernel):
            derived["node-type"] = "wsl"
    gfd = (gpu_facts.get("labels") or {}) if gfd_labels else {}
    return merge_labels(derived, gfd)


def label_namespace(name):
    """The prefix of a label name ("nvidia.com/gpu.present" -> nvidia.com), '' for none."""
    return name.split("/", 1)[0] if "/" in name else ""


def _in_namespace(namespace, domain):
    return namespace == domain or namespace.endswith("." + domain)


def is_kubernetes_label(name):
    """A label in the kubernetes.io or k8s.io namespaces (or a sub-domain of them)."""
    namespace = label_namespace(name)
    return _in_namespace(namespace, "kubernetes.io") or _in_namespace(namespace, "k8s.io")


def kubelet_may_set(name):
    """Whether a kubelet may set this label on its own node (k3s ``node-label``, kubelet ``--node-labels``).

    Outside kubernetes.io / k8s.io every label is allowed; inside, only the well-known ones and
    [*.]kubelet.kubernetes.io/*, [*.]node.kubernetes.io/*; never [*.]node-restriction.kubernetes.io/*.
    A kubelet asked to set another one refuses to start ("unknown 'kubernetes.io' or 'k8s.io'
    labels specified with --node-labels").
    """
    namespace = label_namespace(name)
    if _in_namespace(namespace, NODE_RESTRICTION_NAMESPACE):
        return False
    if not is_kubernetes_label(name):
        return True
    if name in KUBELET_LABELS:
        return True
    return any(_in_namespace(namespace, allowed) for allowed in KUBELET_LABEL_NAMESPACES)


def split_registration_labels(labels):
    """(labels the kubelet may set at registration, sorted names of those only the API may set)."""
    kubelet = {}
    api_only = []
    for name, value in labels.items():
        if kubelet_may_set(name):
            kubelet[name] = value
        else:
            api_only.append(name)
    return kubelet, sorted(api_only)


def label_name_problem(name):
    """Why a label name is not valid ([prefix/]name, name 1-63, prefix a DNS subdomain up to 253), or None."""
    if not isinstance(name, str) or not name:
        return "%r is not a label name" % (name,)
    prefix, _sep, short = name.rpartition("/")
    if _sep and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        return "%r: the prefix before '/' must be a lower-case DNS name" % name
    if not 0 < len(short) <= 63 or not _NAME.match(short):
        return ("%r: the name must be 1-63 of A-Z a-z 0-9 - _ . starting and ending with a letter or digit"
                % name)
    return None


def label_value_problem(name, value):
    text = label_value(value)
    if len(text) > 63 or not _VALUE.match(text):
        return ("%s=%r: a label value is empty or 1-63 of A-Z a-z 0-9 - _ . starting and ending with a letter "
                "or digit" % (name, text))
    return None


def label_problems(labels, variable="cluster_join_node_labels"):
    """One sentence per invalid label name or value."""
    if not isinstance(labels, dict):
        return ["%s must be a mapping of label name to value, not a %s" % (variable, type(labels).__name__)]
    problems = []
    for name, value in labels.items():
        why = label_name_problem(name) or label_value_problem(name, value)
        if why:
            problems.append("%s: label %s" % (variable, why))
    return problems


def parse_taint(taint):
    """``key=value:Effect`` or ``key:Effect`` (or an API taint dict) -> ``{key, value, effect}``.

    Raises NodeLabelError naming the taint and what is accepted.
    """
    if isinstance(taint, dict):
        key, value, effect = taint.get("key"), taint.get("value") or "", taint.get("effect")
        text = "%s=%s:%s" % (key, value, effect)
    else:
        text = str(taint)
        match = _TAINT.match(text)
        if not match:
            raise NodeLabelError("taint %r is not key=value:Effect or key:Effect" % text)
        key, value, effect = match.group("key"), match.group("value") or "", match.group("effect")
    if effect not in TAINT_EFFECTS:
        raise NodeLabelError("taint %r: the effect must be one of %s" % (text, ", ".join(TAINT_EFFECTS)))
    why = label_name_problem(key) or label_value_problem(key, value)
    if why:
        raise NodeLabelError("taint %r: key %s" % (text, why))
    return {"key": key, "value": value, "effect": effect}


def taint_string(taint):
    """``{key, value, effect}`` -> ``key=value:Effect`` (``key:Effect`` without a value)."""
    value = taint.get("value") or ""
    return "%s%s:%s" % (taint["key"], "=" + value if value else "", taint["effect"])


def normalise_taints(taints):
    """Taints (strings or dicts) as API dicts; a later taint with the same key + effect replaces the value of an
    earlier one in its place."""
    by_id = {}
    for taint in taints or []:
        parsed = parse_taint(taint)
        by_id[(parsed["key"], parsed["effect"])] = parsed
    return list(by_id.values())


def taint_problems(taints, variable="cluster_join_node_taints"):
    """One sentence per invalid taint."""
    if isinstance(taints, str) or not isinstance(taints, (list, tuple)):
        return ["%s must be a list such as ['gpu=true:NoSchedule'], not a %s" % (variable, type(taints).__name__)]
    problems = []
    for taint in taints:
        try:
            parse_taint(taint)
        except NodeLabelError as exc:
            problems.append("%s: %s" % (variable, exc))
    return problems


def _same_taint(one, other):
    return (one.get("key"), one.get("value") or "", one.get("effect")) == \
        (other.get("key"), other.get("value") or "", other.get("effect"))


def merge_taints(current, desired):
    """A node's taints with ours: every current taint whose key + effect is not ours is kept, in order, then ours.

    ``current`` is ``spec.taints`` of the Node (API dicts, may carry ``timeAdded``); ``desired``
    strings or dicts. A current taint equal to one of ours keeps its place and fields.
    """
    wanted = normalise_taints(desired)
    ids = set((t["key"], t["effect"]) for t in wanted)
    kept = [t for t in current or [] if (t.get("key"), t.get("effect")) not in ids]
    ours = []
    for taint in wanted:
        same = [t for t in current or [] if _same_taint(t, taint)]
        ours.append(same[0] if same else taint)
    return kept + ours


def missing_labels(current, desired):
    """The desired labels whose value the node does not have (names -> wanted values)."""
    current = current or {}
    return dict((name, value) for name, value in merge_labels(desired).items() if current.get(name) != value)


def missing_taints(current, desired):
    """The desired taints (API dicts) the node does not carry with that key, value and effect."""
    return [t for t in normalise_taints(desired) if not any(_same_taint(c, t) for c in current or [])]


def node_update(node, labels, taints):
    """What a Node object (as the API returns it) lacks of ``labels`` and ``taints``.

    Returns ``{"labels": {...} or None, "taints": [...] or None}``: all desired labels when any
    is missing or different (for a server-side apply of metadata.labels), and the merged taint
    list (:func:`merge_taints`) when any desired taint is missing.
    """
    node = node or {}
    current_labels = (node.get("metadata") or {}).get("labels") or {}
    current_taints = (node.get("spec") or {}).get("taints") or []
    wanted_labels = merge_labels(labels)
    return {
        "labels": wanted_labels if missing_labels(current_labels, wanted_labels) else None,
        "taints": merge_taints(current_taints, taints) if missing_taints(current_taints, taints) else None,
    }


def registration_settings(labels, taints):
    """k3s config.yaml ``node-label`` / ``node-taint`` lists: sorted ``name=value``, taints as given (deduplicated).

    Only labels the kubelet may set belong here; pass the first half of :func:`split_registration_labels`.
    """
    out = {}
    node_label = sorted("%s=%s" % (name, value) for name, value in merge_labels(labels).items())
    if node_label:
        out["node-label"] = node_label
    node_taint = [taint_string(t) for t in normalise_taints(taints)]
    if node_taint:
        out["node-taint"] = node_taint
    return out


def node_name(explicit="", nodename="", inventory_hostname=""):
    """The Kubernetes node name of a host: ``cluster_join_node_name`` when set, else what k3s and the kubelet
    take by default, the host's name in lower case."""
    if explicit:
        return str(explicit)
    return str(nodename or inventory_hostname or "").lower()
