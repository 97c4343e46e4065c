# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Check cluster_join's input on the controller, before anything changes on a node.

Plain Python (standard library). :func:`join_input_problems` returns one sentence per
problem; a sentence names the variable and what is accepted and never contains the
token or anything derived from it.
"""

from __future__ import annotations

import ipaddress
import os
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    urlsplit = None

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _node_labels as nl
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._file_digest import cached_sha256

_DNS_LABEL = r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(r"^%s(\.%s)*$" % (_DNS_LABEL, _DNS_LABEL), re.IGNORECASE)
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _kind(value):
    """A plain name for a value's type (Ansible 2.19 wraps template results in tagged subclasses)."""
    for kind, name in ((bool, "boolean"), (int, "number"), (float, "number"), (str, "string"), (dict, "mapping"),
                       ((list, tuple), "list")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _is_ip(text):
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def node_ip_problem(value):
    """'' (no node IP), one address, or an IPv4,IPv6 pair (dual stack)."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return "cluster_join_node_ip must be a string (one IP address or an IPv4,IPv6 pair), not a %s" % (
            _kind(value))
    parts = value.split(",")
    good = len(parts) in (1, 2) and all(_is_ip(part) for part in parts)
    if good and len(parts) == 2:
        good = sorted(ipaddress.ip_address(part).version for part in parts) == [4, 6]
    if not good:
        return ("cluster_join_node_ip must be one IP address or an IPv4,IPv6 pair (got %r, which is not)"
                % value)
    return None


def server_url_problem(value):
    """https://HOST[:PORT][/] where HOST is a DNS name or an IP address (IPv6 in brackets)."""
    if not isinstance(value, str):
        return "cluster_join_server_url must be a string such as https://k3s-server.lan:6443, not a %s" % (
            _kind(value))
    why = None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        parts, port, why = None, None, str(exc)
    if parts is not None and why is None:
        host = parts.hostname or ""
        if parts.scheme != "https":
            why = "k3s accepts only https"
        elif _CONTROL.search(value) or " " in value:
            why = "it contains spaces or control characters"
        elif parts.username or parts.password:
            why = "it must not carry a user or password"
        elif not host or not (_is_ip(host) or (_DNS_NAME.match(host) and not host.replace(".", "").isdigit())):
            why = "%r is not a host name or an IP address" % host
        elif parts.path not in ("", "/") or parts.query or parts.fragment:
            why = "it must not have a path, query or fragment"
        elif port is not None and not 0 < port < 65536:
            why = "the port must be 1-65535"
    if why:
        return ("cluster_join_server_url must be the k3s server's URL, https://HOST[:PORT] (got %r: %s)"
                % (value, why))
    return None


def token_problem(value, distribution):
    """The token: a non-empty string, one line without spaces (never echoed)."""
    if not isinstance(value, str):
        return ("cluster_join_token must be a string (the server's node token, quoted in YAML), not a %s; "
                "its value is not shown" % _kind(value))
    if not value:
        return "cluster_join_token must be set (the server's node token)"
    if re.search(r"\s", value) or _CONTROL.search(value):
        return "cluster_join_token must be one line without spaces or control characters; its value is not shown"
    if distribution == "microk8s" and not re.match(r"^[A-Za-z0-9/]+$", value):
        return ("cluster_join_token must be the token part of the `microk8s add-node` output, letters, digits "
                "and '/'; its value is not shown")
    return None


def taints_problem(value):
    if isinstance(value, str):
        return ("cluster_join_node_taints must be a list such as ['gpu=true:NoSchedule'], not a string (got %r)"
                % value)
    if not isinstance(value, (list, tuple)):
        return "cluster_join_node_taints must be a list, not a %s" % _kind(value)
    return None


def labels_problem(value):
    if not isinstance(value, dict):
        return "cluster_join_node_labels must be a mapping of label name to value, not a %s" % _kind(value)
    return None


def namespace_problem(variable, value):
    """A Kubernetes namespace name: a DNS-1123 label (a-z, 0-9, '-', at most 63)."""
    if not isinstance(value, str) or not _NAMESPACE.match(value):
        return ("%s must be a Kubernetes namespace name: lower-case letters, digits and '-', starting and ending "
                "with a letter or digit, at most 63 characters (got %r)" % (variable, value))
    return None


def join_input_problems(inputs):
    """``inputs``: dict with server_url, token, node_ip, taints, labels, distribution. One sentence per problem."""
    distribution = inputs.get("distribution", "k3s")
    problems = []
    if distribution == "k3s":
        problems.append(server_url_problem(inputs.get("server_url")))
    problems.append(token_problem(inputs.get("token"), distribution))
    problems.append(node_ip_problem(inputs.get("node_ip")))
    problems.append(taints_problem(inputs.get("taints", [])))
    problems.append(labels_problem(inputs.get("labels", {})))
    return [problem for problem in problems if problem]


# --- the whole join plan: every problem at once, and what the node gets ---------------------------------------

# k3s release asset suffix and checksum file architecture per `uname -m` (install.sh setup_verify_arch).
K3S_ARCH = {
    "x86_64": ("amd64", ""),
    "amd64": ("amd64", ""),
    "aarch64": ("arm64", "-arm64"),
    "arm64": ("arm64", "-arm64"),
    "armv7l": ("arm", "-armhf"),
    "s390x": ("s390x", "-s390x"),
}
# Keys of config.yaml the role sets itself (the user's extra keys must not).
K3S_RESERVED_KEYS = ("server", "token", "token-file", "agent-token", "agent-token-file", "node-ip", "node-name",
                     "node-label", "node-taint")
_K3S_VERSION = re.compile(r"^v[0-9]+\.[0-9]+\.[0-9]+\+k3s[0-9]+$")
_SHA256 = re.compile(r"^[0-9a-fA-F]{64}$")
_MICROK8S_CHANNEL = re.compile(r"^[0-9]+\.[0-9]+(-[a-z0-9]+)?/(stable|candidate|beta|edge)$")
_HOST_PORT = re.compile(r"^[^/\s:]+:[0-9]+$|^\[[0-9a-fA-F:]+\]:[0-9]+$")
_SUM_LINE = re.compile(r"^([0-9a-fA-F]{64})\s+\*?(\./)?(.*?)\s*$")


def checksum_for(text, names):
    """The sha256 (lower case) that a ``sha256sum`` file gives for the first of ``names`` it lists, else ''."""
    found = {}
    for line in (text or "").splitlines():
        match = _SUM_LINE.match(line)
        if match:
            found.setdefault(match.group(3), match.group(1).lower())
    for name in names:
        if name in found:
            return found[name]
    return ""


def _positive(value):
    try:
        return int(value) > 0
    except (TypeError, ValueError):
        return False


class ControllerFiles(object):
    """The airgap artifact and its checksum file, read on the controller (the filter passes this; tests a fake)."""

    def is_file(self, path):
        return os.path.isfile(path)

    def read(self, path):
        with open(path) as handle:
            return handle.read()

    def sha256(self, path):
        # cached by the file's identity: the ~60 MB artifact is not read again on every run and node
        return cached_sha256(path)


def join_plan(i, files=None):
    """cluster_join's plan from its variables (dict ``i``, keys below), with one sentence per problem.

    Returns ``{problems, node_name, labels, api_only_labels, taints, k3s_config, k3s_asset, k3s_sumfile,
    airgap_expected_sha256}``. ``files`` (:class:`ControllerFiles`) reads and hashes the airgap artifact on the
    controller; a mismatch is a problem like the others, found before anything changes on the node.
    No sentence contains the token or anything derived from it.
    """
    get = i.get
    distribution = get("distribution", "k3s")
    present = get("state", "present") == "present"
    problems = []
    node_name = nl.node_name(get("node_name"), get("nodename"), get("inventory_hostname"))
    plan = {"node_name": node_name, "labels": {}, "api_only_labels": [], "taints": [], "k3s_config": {},
            "k3s_asset": "", "k3s_sumfile": "", "airgap_expected_sha256": "", "problems": problems}
    if not present:
        return plan

    problems.extend(join_input_problems({
        "server_url": get("server_url"), "token": get("token"), "node_ip": get("node_ip"),
        "taints": get("taints", []), "labels": get("labels", {}), "distribution": distribution}))

    if len(node_name) > 253 or not re.match(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
                                            node_name):
        problems.append("cluster_join_node_name must be a lower-case DNS name (a-z, 0-9, '-', '.'; got %r)"
                        % node_name)
    if not _positive(get("service_timeout")):
        problems.append("cluster_join_service_timeout must be a positive number of seconds (got %r)"
                        % (get("service_timeout"),))

    if get("gpu_facts_error") and (get("gpu_labels", True) or get("gfd_labels", True)):
        problems.append("GPU facts are needed for the node labels, but nvidia-smi failed: %s. Fix the driver first "
                        "(the gpu_runtime role says how), or set cluster_join_gpu_labels=false and "
                        "cluster_join_gfd_labels=false to join without GPU labels"
                        % str(get("gpu_facts_error")).strip().rstrip("."))

    # labels and taints: the kubelet sets them when the node registers; what it may not set is refused here
    user_labels = get("labels") if isinstance(get("labels"), dict) else {}
    user_taints = get("taints") if isinstance(get("taints"), (list, tuple)) else []
    if user_labels:
        problems.extend(nl.label_problems(user_labels))
    if user_taints:
        problems.extend(nl.taint_problems(user_taints))
    derived = nl.gpu_node_labels(get("gpu_facts"), get("kernel") or "", bool(get("gpu_labels", True)),
                                 bool(get("gfd_labels", True)), get("gpu_type") or "")
    problems.extend(nl.label_problems(dict((k, v) for k, v in derived.items() if k not in user_labels),
                                      "the labels derived from the GPU facts (cluster_join_gpu_type)"))
    labels = nl.merge_labels(derived, user_labels)
    taints = ([nl.GPU_TAINT] if get("gpu_taint") else []) + [str(t) for t in user_taints]
    kubelet_labels, api_only = nl.split_registration_labels(labels)
    plan["api_only_labels"] = api_only
    if distribution == "microk8s":
        if user_labels or user_taints or get("gpu_taint"):
            problems.append("MicroK8s has no join-time label or taint setting, so cluster_join_node_labels, "
                            "cluster_join_node_taints and cluster_join_gpu_taint do not apply: set node labels and "
                            "taints with gpu_cluster (gpu_cluster_node_extra_labels, gpu_cluster_node_extra_taints), "
                            "which applies them through the API")
    elif api_only:
        problems.append("the kubelet may not set %s on its own node (kubernetes.io/k8s.io namespaces; "
                        "node-restriction.kubernetes.io never): set them with gpu_cluster "
                        "(gpu_cluster_node_extra_labels), which applies labels through the API"
                        % ", ".join(api_only))
    try:
        normalised = nl.normalise_taints(taints)
    except nl.NodeLabelError:
        normalised = []
    plan["labels"] = kubelet_labels
    plan["taints"] = [nl.taint_string(t) for t in normalised]

    if distribution == "microk8s":
        if not isinstance(get("microk8s_channel"), str) or not _MICROK8S_CHANNEL.match(get("microk8s_channel")):
            problems.append("cluster_join_microk8s_channel must pin a version track such as 1.31/stable (got %r; "
                            "latest/* would upgrade Kubernetes behind your back)" % get("microk8s_channel"))
        if not isinstance(get("microk8s_join_address"), str) or not _HOST_PORT.match(get("microk8s_join_address")):
            problems.append("cluster_join_microk8s_join_address must be host:port of a cluster node, port 25000 by "
                            "default (got %r)" % get("microk8s_join_address"))
        return plan

    # k3s
    version = get("k3s_version")
    if not isinstance(version, str) or not _K3S_VERSION.match(version):
        problems.append("cluster_join_k3s_version must be a k3s release tag such as v1.35.6+k3s1 (got %r)" % version)
    if (get("service_mgr") or "systemd") != "systemd":
        problems.append("the k3s-agent unit needs systemd as PID 1, found %s (WSL: set [boot] systemd=true in "
                        "/etc/wsl.conf and run wsl --shutdown)" % get("service_mgr"))
    extra = get("config_extra") or {}
    if not isinstance(extra, dict):
        problems.append("cluster_join_k3s_config_extra must be a mapping of config.yaml keys, not a %s"
                        % type(extra).__name__)
        extra = {}
    reserved = [key for key in extra if key in K3S_RESERVED_KEYS]
    if reserved:
        problems.append("cluster_join_k3s_config_extra must not set %s: the role writes %s itself (use "
                        "cluster_join_server_url, cluster_join_token, cluster_join_node_ip, cluster_join_node_name, "
                        "cluster_join_node_labels, cluster_join_node_taints)"
                        % (", ".join(reserved), ", ".join(K3S_RESERVED_KEYS)))
    arch = get("architecture")
    if arch not in K3S_ARCH:
        problems.append("%s is %s; k3s publishes binaries for %s"
                        % (get("inventory_hostname"), arch or "of an unknown architecture (no facts)",
                           ", ".join(K3S_ARCH)))
    else:
        plan["k3s_asset"] = "k3s" + K3S_ARCH[arch][1]
        plan["k3s_sumfile"] = "sha256sum-%s.txt" % K3S_ARCH[arch][0]

    config = {"server": get("server_url"), "token-file": get("token_path"), "node-name": node_name}
    if get("node_ip"):
        config["node-ip"] = get("node_ip")
    config.update(nl.registration_settings(plan["labels"], plan["taints"]))
    config.update((key, value) for key, value in extra.items() if key not in K3S_RESERVED_KEYS)
    plan["k3s_config"] = config

    problems.extend(_airgap_problems(i, plan, files or ControllerFiles()))
    return plan


def _airgap_problems(i, plan, files):
    get = i.get
    binary = get("airgap_binary") or ""
    if not binary:
        return []
    sha, sumfile = get("airgap_sha256") or "", get("airgap_checksum_file") or ""
    if bool(sha) == bool(sumfile) or (sha and not _SHA256.match(sha)):
        return ["cluster_join_k3s_airgap_binary is set, so exactly one of cluster_join_k3s_airgap_sha256 (64 hex "
                "digits) or cluster_join_k3s_airgap_checksum_file (the release's sha256sum-<arch>.txt on the "
                "controller) is needed to verify it (sha256: %s, checksum file: %r)"
                % (repr(sha) if sha else "empty", sumfile)]
    problems = []
    if not files.is_file(binary):
        problems.append("cluster_join_k3s_airgap_binary %s is not a file on the controller; nothing was installed"
                        % binary)
    if sumfile and not files.is_file(sumfile):
        problems.append("cluster_join_k3s_airgap_checksum_file %s does not exist on the controller; nothing was "
                        "installed" % sumfile)
    if problems or not plan["k3s_asset"]:
        return problems
    if sha:
        expected, source = sha.lower(), "cluster_join_k3s_airgap_sha256"
    else:
        expected = checksum_for(files.read(sumfile), [plan["k3s_asset"], binary.rsplit("/", 1)[-1]])
        source = "%s (line for %s)" % (sumfile, plan["k3s_asset"])
        if not expected:
            return ["no sha256 for %s or %s in %s; nothing was installed on %s"
                    % (plan["k3s_asset"], binary.rsplit("/", 1)[-1], sumfile, get("inventory_hostname"))]
    plan["airgap_expected_sha256"] = expected
    actual = files.sha256(binary)
    if actual != expected:
        return ["sha256 mismatch for %s: it is %s, %s expects %s. Wrong or corrupted artifact, or the checksum of "
                "another release/architecture; nothing was installed on %s"
                % (binary, actual, source, expected, get("inventory_hostname"))]
    return []
