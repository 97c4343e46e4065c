# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""_join_input: cluster_join's input refused with a clear sentence, and never the token in it (issue 14, defect 6)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _join_input as ji
from ansible_collections.homelab.gpu_node.plugins.filter.k8s_namespace_problems import FilterModule

TOKEN = "K10abcdef::server:s3cr3t"
GOOD = {"server_url": "https://k3s-server.lan:6443", "token": TOKEN, "node_ip": "", "taints": [], "labels": {},
        "distribution": "k3s"}


def problems(**changes):
    return ji.join_input_problems(dict(GOOD, **changes))


def test_good_input_has_no_problem():
    assert problems() == []
    assert problems(node_ip="192.168.1.20") == [] and problems(node_ip="192.168.1.20,fd00::20") == []
    assert problems(server_url="https://192.168.1.10:6443") == [] and problems(server_url="https://[fd00::1]:6443/") == []


@pytest.mark.parametrize("node_ip", ["192.168.1.300", "gpu-box", "10.0.0.1,10.0.0.2", "::1,fd00::2", "1.2.3.4,", 7])
def test_a_node_ip_that_is_not_one_is_refused(node_ip):
    (msg,) = problems(node_ip=node_ip)
    assert msg.startswith("cluster_join_node_ip must be")


@pytest.mark.parametrize("url", ["http://k3s:6443", "https://", "https://k3s server:6443", "https://k3s:99999",
                                 "https://k3s:6443/api", "https://user:pw@k3s:6443", "k3s:6443", "https://999.1.1.1",
                                 "https://-bad-.lan", ["https://k3s:6443"]])
def test_a_server_url_that_is_not_one_is_refused(url):
    (msg,) = problems(server_url=url)
    assert msg.startswith("cluster_join_server_url must be")


@pytest.mark.parametrize("token,kind", [(12345, "number"), ([TOKEN], "list"), ({"a": TOKEN}, "mapping"), (True, "boolean")])
def test_a_token_that_is_not_a_string_is_refused_without_showing_it(token, kind):
    (msg,) = problems(token=token)
    assert "must be a string" in msg and "not a %s" % kind in msg
    for form in (TOKEN, "12345", hashlib.sha256(TOKEN.encode()).hexdigest(), base64.b64encode(TOKEN.encode()).decode()):
        assert form not in msg


def test_a_token_with_spaces_is_refused_without_showing_it():
    (msg,) = problems(token=TOKEN + " x")
    assert TOKEN not in msg and "one line" in msg
    assert problems(token="")[0].startswith("cluster_join_token must be set")
    assert "letters, digits" in ji.join_input_problems(dict(GOOD, distribution="microk8s", token="a:b"))[0]


def test_taints_as_a_string_and_labels_as_a_list_are_refused():
    (msg,) = problems(taints="gpu=true:NoSchedule")
    assert "must be a list" in msg and "not a string" in msg
    assert "mapping" in problems(labels=["gpu=nvidia"])[0]


def test_namespaces_kubernetes_would_refuse():
    check = FilterModule().filters()["k8s_namespace_problems"]
    assert check({"gpu_cluster_namespace": "nvidia-device-plugin"}) == []
    for bad in ("NVIDIA", "nvidia_plugin", "-x", "a" * 64, "kube.system", "", 5):
        (msg,) = check({"gpu_cluster_namespace": bad})
        assert msg.startswith("gpu_cluster_namespace must be a Kubernetes namespace name")
