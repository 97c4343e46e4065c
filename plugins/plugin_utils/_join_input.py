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
import re

try:
    from urllib.parse import urlsplit
except ImportError:  # pragma: no cover - Python 2 is not supported
    urlsplit = None

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
