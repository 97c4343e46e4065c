# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/upgrade.yml: one node at a time, the doctor as the gate, on two lab nodes and a REAL
control plane (scripts/controlplane.sh; kwok nodes named like the lab nodes stand in for their
kubelets, so the drain, the eviction and the scheduler are real, the containers are not).

Lab nodes: podman, systemd, Debian's real containerd, the FAKE nvidia-smi (Tesla P100 capture),
mknod'ed /dev/nvidia* (no driver), the stand-in runtime and the stand-in k3s of the lab. The
"new pinned version" is a changed gpu_runtime setting (enable_cdi), because the lab cannot
install another toolkit or k3s release: what is proven is the orchestration, not a real upgrade.
The doctor's NODE checks are the gate here (upgrade_doctor_cluster=never): the lab plane runs no
device plugin, so its per-node cluster checks would fail for a reason of the lab.

1. site.yml converges both nodes; upgrade.yml moves both: the API server's audit log shows the
   node patches in rollout order (lc-up-1 cordon, uncordon, then lc-up-2), each node's GPU pod
   was evicted and scheduled back on it, both nodes have the new setting and are schedulable;
2. lc-up-1 loses its /dev/nvidia* (the doctor fails it): the rollout stops after lc-up-1; lc-up-2
   is neither cordoned nor changed; the message names the doctor's finding.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from labkit import ROOT, on_node, start_node, wait_for_systemd, write_inventory

NODES = ["lc-up-1", "lc-up-2"]
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
DEVICES = "mknod -m 0666 /dev/nvidiactl c 195 255; mknod -m 0666 /dev/nvidia0 c 195 0; mknod -m 0666 /dev/nvidia-uvm c 508 0"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman (scripts/lab.sh deps)")


def kubectl_like(kc, *args):
    """k8s_info through ansible (no kubectl here): the resources as a list."""
    proc = subprocess.run([shutil.which("ansible"), "-i", "localhost,", "-c", "local", "localhost",
                           "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-m", "kubernetes.core.k8s_info", "-a", "kubeconfig=%s %s" % (kc, " ".join(args))],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True,
                          env=dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"))
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["resources"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("upgrade")
    inventory = write_inventory(work, "playbooks/upgrade.yml on lab nodes and a real control plane", NODES)
    for name in NODES:
        start_node(name)
    for name in NODES:
        wait_for_systemd(name)
        on_node(name, DEVICES)
    subprocess.run(["ansible-playbook", "-i", inventory, "lab/prepare.yml"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    nodes = work / "nodes.yml"
    nodes.write_text(yaml.safe_dump([{"name": n, "gpu_shares": 2} for n in NODES]))
    state = work / "cp"
    env = dict(os.environ, CP_STATE=str(state), CP_NODES=str(nodes))
    kc = str(state / "admin.kubeconfig")
    try:
        subprocess.run([os.path.join(ROOT, "scripts", "controlplane.sh"), "up"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        workloads = work / "workloads.yml"
        workloads.write_text(yaml.safe_dump_all([
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "job-%s" % n, "namespace": "default"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": n}},
                      "template": {"metadata": {"labels": {"app": n}},
                                   "spec": {"nodeSelector": {"kubernetes.io/hostname": n},
                                            "containers": [{"name": "c", "image": "registry.example/gpu-job:1",
                                                            "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}
            for n in NODES]))
        subprocess.run(["ansible", "-i", "localhost,", "-c", "local", "localhost", "-e",
                        "ansible_python_interpreter=%s" % sys.executable,
                        "-m", "kubernetes.core.k8s", "-a", "kubeconfig=%s src=%s" % (kc, workloads)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        yield {"inventory": inventory, "work": work, "kc": kc, "audit": str(state / "log" / "audit.log")}
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "controlplane.sh"), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        for name in NODES:
            subprocess.run(["podman", "rm", "-f", name], check=False, stdout=subprocess.DEVNULL)


def play(lab, playbook, *extra, expect_rc=0):
    proc = subprocess.run(["ansible-playbook", "-i", lab["inventory"], playbook,
                           "-e", "gpu_cluster_render_dir=%s/rendered" % lab["work"],
                           "-e", "lifecycle_kubeconfig=%s" % lab["kc"], "-e", "upgrade_doctor_cluster=never",
                           # the lab engine is Debian's containerd (the k3s there is a stand-in without one)
                           "-e", "doctor_engine=containerd",
                           "-e", "lifecycle_drain_timeout=60"] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == expect_rc, proc.stdout[-6000:]
    return proc.stdout


def node_patches(lab, since):
    with open(lab["audit"]) as handle:
        lines = handle.read().splitlines()[since:]
    events = [json.loads(line) for line in lines]
    return [e["objectRef"]["name"] for e in events if e["verb"] == "patch" and e["user"]["username"] == "lab-admin"
            and e["objectRef"].get("resource") == "nodes" and not e["objectRef"].get("subresource")]


def audit_mark(lab):
    with open(lab["audit"]) as handle:
        return len(handle.read().splitlines())


def gpu_pods(lab):
    pods = kubectl_like(lab["kc"], "kind=Pod", "namespace=default")
    return {p["spec"].get("nodeName"): p["metadata"]["uid"] for p in pods
            if p["status"].get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")}


def unschedulable(lab):
    return {n["metadata"]["name"]: bool(n["spec"].get("unschedulable")) for n in kubectl_like(lab["kc"], "kind=Node")}


def wait_pods_on_both(lab):
    for attempt in range(60):
        pods = gpu_pods(lab)
        if set(pods) >= set(NODES):
            return pods
        subprocess.run(["sleep", "1"], check=True)
    raise AssertionError("GPU pods not back on both nodes after %d s: %s" % (attempt + 1, gpu_pods(lab)))


def test_1_rollout_one_node_at_a_time(lab):
    play(lab, "playbooks/site.yml", "-e", "cluster_join_wait_for_ready=false")
    before = wait_pods_on_both(lab)
    mark = audit_mark(lab)
    out = play(lab, "playbooks/upgrade.yml", "-e", "gpu_runtime_cdi=true")
    assert node_patches(lab, mark) == ["lc-up-1", "lc-up-1", "lc-up-2", "lc-up-2"], out[-3000:]
    for name in NODES:
        assert "enable_cdi = true" in on_node(name, "cat %s" % DROPIN)
    assert unschedulable(lab) == {n: False for n in NODES}
    after = wait_pods_on_both(lab)
    for name in NODES:
        assert after[name] != before[name]       # evicted by the drain, scheduled back after the uncordon
    # the gate is the doctor role, once per node, after that node's uncordon
    doctor = [m.start() for m in re.finditer(r"TASK \[homelab\.gpu_node\.doctor : Run the node checks", out)]
    uncordon = [m.start() for m in re.finditer(r"TASK \[Uncordon ", out)]
    assert len(doctor) == 2 and len(uncordon) == 2 and uncordon[0] < doctor[0] < uncordon[1] < doctor[1], out[-3000:]


def test_2_a_failed_doctor_stops_the_rollout(lab):
    on_node("lc-up-1", "rm -f /dev/nvidia0 /dev/nvidiactl /dev/nvidia-uvm")
    mark = audit_mark(lab)
    out = play(lab, "playbooks/upgrade.yml", "-e", "gpu_runtime_cdi=false", expect_rc=2)
    assert "The doctor found problems on lc-up-1" in out
    assert node_patches(lab, mark) == ["lc-up-1", "lc-up-1"], out[-3000:]
    assert "enable_cdi" not in on_node("lc-up-1", "cat %s" % DROPIN)
    assert "enable_cdi = true" in on_node("lc-up-2", "cat %s" % DROPIN)   # not touched
    assert unschedulable(lab)["lc-up-2"] is False
    assert "lc-up-2" not in re.findall(r"^(?:ok|changed): \[(\S+?)\]", out, re.M)
