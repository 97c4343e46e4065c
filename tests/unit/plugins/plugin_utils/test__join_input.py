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


# --- join_plan: every problem at once (issue 18 item 6), and what the node gets (item 2) ---------------------

RTX_WSL = {"present": True, "wsl": True, "gpus": [{"name": "NVIDIA GeForce RTX 4090"}],
           "labels": {"nvidia.com/gpu.present": "true"}}
PLAN_INPUT = dict(GOOD, state="present", token_path="/etc/rancher/k3s/agent-token", node_name="", nodename="WSL-Box",
                  inventory_hostname="desk", gpu_facts=RTX_WSL, k3s_version="v1.31.7+k3s1", architecture="x86_64",
                  service_timeout=120, gpu_taint=True)


class FakeFiles(object):
    def __init__(self, files):
        self.files = files
        self.hashed = []

    def is_file(self, path):
        return path in self.files

    def read(self, path):
        return self.files[path]

    def sha256(self, path):
        self.hashed.append(path)
        return hashlib.sha256(self.files[path].encode()).hexdigest()


def plan(files=None, **changes):
    return ji.join_plan(dict(PLAN_INPUT, **changes), files or FakeFiles({}))


def test_plan_for_the_wsl_desktop_node():
    out = plan(labels={"node-role": "gpu-worker"}, node_ip="192.168.10.35", config_extra={"kubelet-arg": ["max-pods=50"]})
    assert out["problems"] == []
    assert out["node_name"] == "wsl-box"
    assert out["k3s_config"] == {
        "server": "https://k3s-server.lan:6443", "token-file": "/etc/rancher/k3s/agent-token", "node-name": "wsl-box",
        "node-ip": "192.168.10.35",
        "node-label": ["gpu-type=rtx4090", "gpu=nvidia", "node-role=gpu-worker", "node-type=wsl",
                       "nvidia.com/gpu.present=true"],
        "node-taint": ["nvidia.com/gpu=present:NoSchedule"], "kubelet-arg": ["max-pods=50"]}
    assert (out["k3s_asset"], out["k3s_sumfile"]) == ("k3s", "sha256sum-amd64.txt")
    assert plan(architecture="aarch64")["k3s_asset"] == "k3s-arm64"
    assert TOKEN not in repr(out)


def test_every_problem_is_reported_at_once_without_the_token():
    out = plan(server_url="http://k3s:6443", token=TOKEN + " x", node_ip="10.0.0.300", node_name="Bad_Name",
               k3s_version="1.31", architecture="mips", service_timeout=0, service_mgr="sysvinit",
               config_extra={"token": TOKEN, "node-name": "x"}, labels={"node-role.kubernetes.io/gpu": "", "ok": "a b"},
               taints=["gpu=true:Sometimes"], airgap_binary="/nope/k3s", airgap_sha256="", airgap_checksum_file="")
    problems = out["problems"]
    starts = ["cluster_join_server_url", "cluster_join_token", "cluster_join_node_ip", "cluster_join_node_name",
              "cluster_join_service_timeout", "cluster_join_node_labels: label ok='a b'",
              "cluster_join_node_taints: taint", "the kubelet may not set node-role.kubernetes.io/gpu",
              "cluster_join_k3s_version", "the k3s-agent unit needs systemd", "cluster_join_k3s_config_extra must not set",
              "desk is mips", "cluster_join_k3s_airgap_binary is set, so exactly one"]
    for start in starts:
        assert [p for p in problems if p.startswith(start)], (start, problems)
    assert len(problems) == len(starts), problems
    text = repr(out)
    for form in (TOKEN, hashlib.sha256(TOKEN.encode()).hexdigest(), base64.b64encode(TOKEN.encode()).decode()):
        assert form not in repr(problems)
    assert "token" not in out["k3s_config"]
    assert text


def test_nvidia_smi_failure_is_a_problem_only_when_gpu_labels_are_wanted():
    (msg,) = plan(gpu_facts_error="Driver/library version mismatch.")["problems"]
    assert "nvidia-smi failed: Driver/library version mismatch. Fix the driver first" in msg
    assert plan(gpu_facts_error="x", gpu_labels=False, gfd_labels=False)["problems"] == []


def test_a_gpu_type_that_is_no_label_value_is_refused():
    (msg,) = plan(gpu_type="RTX 4090!")["problems"]
    assert msg.startswith("the labels derived from the GPU facts (cluster_join_gpu_type): label gpu-type=")


def test_microk8s_takes_no_join_time_labels_and_pins_a_channel():
    good = dict(distribution="microk8s", token="abc/DEF123", microk8s_channel="1.31/stable",
                microk8s_join_address="10.0.0.5:25000", gpu_taint=False)
    assert plan(**good)["problems"] == []
    bad = dict(good)
    bad.update(labels={"a": "b"}, microk8s_channel="latest/edge", microk8s_join_address="x")
    problems = plan(**bad)["problems"]
    assert len(problems) == 3 and problems[0].startswith("MicroK8s has no join-time label")


SUMS = "%s  k3s-images.txt\n%s  k3s\n%s  k3s-arm64\n"


def test_airgap_artifact_is_checked_on_the_controller():
    artifact = "not really k3s"
    digest = hashlib.sha256(artifact.encode()).hexdigest()
    files = FakeFiles({"/art/k3s": artifact, "/art/sums.txt": SUMS % ("0" * 64, digest, "f" * 64)})
    out = plan(files, airgap_binary="/art/k3s", airgap_checksum_file="/art/sums.txt")
    assert out["problems"] == [] and out["airgap_expected_sha256"] == digest and files.hashed == ["/art/k3s"]
    assert plan(files, airgap_binary="/art/k3s", airgap_sha256=digest.upper())["problems"] == []
    (msg,) = plan(files, airgap_binary="/art/k3s", airgap_sha256="ab" * 32)["problems"]
    assert msg.startswith("sha256 mismatch for /art/k3s: it is %s, cluster_join_k3s_airgap_sha256 expects %s" % (
        digest, "ab" * 32)) and "nothing was installed on desk" in msg
    files.files["/art/wrong.txt"] = "%s  k3s\n" % ("ab" * 32)
    (msg,) = plan(files, airgap_binary="/art/k3s", airgap_checksum_file="/art/wrong.txt")["problems"]
    assert "/art/wrong.txt (line for k3s) expects " + "ab" * 32 in msg
    files.files["/art/images.txt"] = "%s  k3s-images.txt\n" % ("0" * 64)
    (msg,) = plan(files, airgap_binary="/art/k3s", airgap_checksum_file="/art/images.txt", architecture="armv7l")[
        "problems"]
    assert msg.startswith("no sha256 for k3s-armhf or k3s in /art/images.txt")
    problems = plan(files, airgap_binary="/art/nope", airgap_checksum_file="/art/none.txt")["problems"]
    assert len(problems) == 2 and "is not a file on the controller" in problems[0]
    assert "does not exist on the controller" in problems[1]


@pytest.mark.parametrize("text, names, expected", [
    ("%s  k3s\n" % ("a" * 64), ["k3s"], "a" * 64),
    ("%s *./k3s-arm64\n" % ("B" * 64), ["k3s-arm64"], "b" * 64),
    ("%s  k3s\n" % ("a" * 63), ["k3s"], ""),
    ("", ["k3s"], ""),
    ("%s  other\n%s  mine\n" % ("a" * 64, "c" * 64), ["k3s", "mine"], "c" * 64),
])
def test_checksum_for(text, names, expected):
    assert ji.checksum_for(text, names) == expected


def test_absent_has_no_problems():
    assert plan(state="absent", token="", server_url="")["problems"] == []
