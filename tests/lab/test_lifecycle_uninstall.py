# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/uninstall.yml on a lab node: remove what the roles added, and nothing else.

One lab node (podman, systemd, Debian's real containerd, the FAKE nvidia-smi replaying a
Tesla P100 capture, the stand-in k3s of the airgap scenario, the stand-in nvidia runtime; no
GPU, no k3s server). The user's own containerd config (hand written, no imports) and files of
their own are put on the node first; site.yml converges it; then:

A REAL control plane (scripts/controlplane.sh) has a kwok node named like the lab node, with a
GPU pod of a Deployment on it (kwok stands in for its kubelet).

1. uninstall in check mode shows the plan (the diff of the user's config, the drop-in going, the
   drain) and changes nothing, in the cluster neither;
2. uninstall drains the node through the eviction API, removes the drop-in, the import line, the
   k3s agent the role installed, the stand-in runtime and the records, and deletes the Node
   object; the user's config and files are byte for byte as before (sha256), containerd runs;
3. a second uninstall changes nothing;
4. an engine that dies right after the uninstall's restart makes the uninstall fail and say so
   (it is not claimed up); the rerun finishes.
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
from labkit import recap as labkit_recap

NODE = "lc-uninstall-1"
MAIN = "/etc/containerd/config.toml"
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
USER_CONFIG = """\
# containerd, as the user wrote it by hand (no imports)
version = 2

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.9"   # pinned on purpose
"""
USER_FILES = [MAIN, "/etc/rancher/k3s/registries.yaml", "/usr/local/bin/my-gpu-tool", "/etc/containerd/my-notes.txt"]
ROLE_FILES = [DROPIN, "/var/lib/homelab-gpu-node/gpu_runtime.json", "/var/lib/homelab-gpu-node/cluster_join.json",
              "/etc/systemd/system/k3s-agent.service", "/etc/rancher/k3s/config.yaml", "/usr/local/bin/k3s",
              "/usr/bin/nvidia-container-runtime"]

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman (scripts/lab.sh deps)")


def node(cmd, check=True):
    return on_node(NODE, cmd, check)


def sha256(paths):
    return dict(line.split()[::-1] for line in node("sha256sum %s" % " ".join(paths)).splitlines())


def existing(paths):
    return [p for p in paths if node("test -e %s && echo y || echo n" % p).strip() == "y"]


def recap(out):
    return labkit_recap(out, NODE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("uninstall")
    inventory = write_inventory(work, "playbooks/uninstall.yml on a lab node", [NODE])
    start_node(NODE)
    wait_for_systemd(NODE)
    node("cat > %s <<'EOF'\n%sEOF\nsystemctl restart containerd" % (MAIN, USER_CONFIG))
    node("mkdir -p /etc/rancher/k3s && printf 'mirrors:\\n  docker.io:\\n    endpoint: [\"http://10.0.0.5:5000\"]\\n'"
         " > /etc/rancher/k3s/registries.yaml && printf '#!/bin/sh\\necho mine\\n' > /usr/local/bin/my-gpu-tool"
         " && chmod 755 /usr/local/bin/my-gpu-tool && echo 'my notes' > /etc/containerd/my-notes.txt")
    subprocess.run(["ansible-playbook", "-i", inventory, "-l", NODE, "lab/prepare.yml"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    before = sha256(USER_FILES)
    nodes = work / "nodes.yml"
    nodes.write_text(yaml.safe_dump([{"name": NODE, "gpu_shares": 1}]))
    env = dict(os.environ, CP_STATE=str(work / "cp"), CP_NODES=str(nodes))
    kc = str(work / "cp" / "admin.kubeconfig")
    try:
        subprocess.run([os.path.join(ROOT, "scripts", "controlplane.sh"), "up"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        workload = work / "workload.yml"
        workload.write_text(yaml.safe_dump(
            {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "gpu-job", "namespace": "default"},
             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "gpu-job"}},
                      "template": {"metadata": {"labels": {"app": "gpu-job"}},
                                   "spec": {"nodeSelector": {"kubernetes.io/hostname": NODE},
                                            "containers": [{"name": "c", "image": "registry.example/gpu-job:1",
                                                            "resources": {"limits": {"nvidia.com/gpu": 1}}}]}}}}))
        k8s(kc, "kubernetes.core.k8s", "src=%s" % workload)
        yield {"inventory": inventory, "before": before, "work": work, "kc": kc,
               "audit": str(work / "cp" / "log" / "audit.log")}
    finally:
        subprocess.run([os.path.join(ROOT, "scripts", "controlplane.sh"), "down"], env=env, check=False,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["podman", "rm", "-f", NODE], check=False, stdout=subprocess.DEVNULL)


def k8s(kc, module, args):
    """A kubernetes.core module through ansible (no kubectl here): its result."""
    proc = subprocess.run([shutil.which("ansible"), "-i", "localhost,", "-c", "local", "localhost",
                           "-e", "ansible_python_interpreter=%s" % sys.executable,
                           "-m", module, "-a", "kubeconfig=%s %s" % (kc, args)],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True,
                          env=dict(os.environ, ANSIBLE_LOAD_CALLBACK_PLUGINS="1",
                                   ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json"))
    return json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]


def gpu_pods(lab):
    """name -> nodeName of the Deployment's pods that are not terminating."""
    pods = k8s(lab["kc"], "kubernetes.core.k8s_info", "kind=Pod namespace=default")["resources"]
    return {p["metadata"]["name"]: p["spec"].get("nodeName") for p in pods if not p["metadata"].get("deletionTimestamp")}


def the_node(lab):
    return k8s(lab["kc"], "kubernetes.core.k8s_info", "kind=Node name=%s" % NODE)["resources"]


def evictions(lab):
    with open(lab["audit"]) as handle:
        events = [json.loads(line) for line in handle.read().splitlines()]
    return [e["objectRef"]["name"] for e in events if e["verb"] == "create" and e["user"]["username"] == "lab-admin"
            and e["objectRef"].get("subresource") == "eviction" and e["stage"] == "ResponseComplete"
            and e["responseStatus"]["code"] == 201]


def wait_pod_on_node(lab):
    for attempt in range(60):
        pods = {name: n for name, n in gpu_pods(lab).items() if n == NODE}
        if pods:
            return pods
        subprocess.run(["sleep", "1"], check=True)
    raise AssertionError("no GPU pod on %s after %d s: %s" % (NODE, attempt + 1, gpu_pods(lab)))


def play(lab, playbook, *extra, expect_rc=0):
    proc = subprocess.run(["ansible-playbook", "-i", lab["inventory"], "-l", "%s,localhost" % NODE, playbook,
                           "-e", "gpu_cluster_render_dir=%s/rendered" % lab["work"],
                           "-e", "lifecycle_kubeconfig=%s" % lab["kc"], "-e", "lifecycle_drain_timeout=60"]
                          + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == expect_rc, proc.stdout[-6000:]
    return proc.stdout


def test_1_converged_then_check_mode_shows_the_plan_and_changes_nothing(lab):
    play(lab, "playbooks/site.yml")
    assert existing(ROLE_FILES) == ROLE_FILES
    converged = sha256([MAIN, DROPIN])
    assert converged[MAIN] != lab["before"][MAIN]          # the role added its import line
    assert "imports" in node("cat %s" % MAIN)

    pods = wait_pod_on_node(lab)
    out = play(lab, "playbooks/uninstall.yml", "--check", "--diff")
    assert recap(out)[1] == 0
    assert "check mode: would cordon %s" % NODE in out
    assert the_node(lab)[0]["spec"].get("unschedulable") is None and wait_pod_on_node(lab) == pods
    assert evictions(lab) == []
    assert "%s (absent)" % DROPIN in out                  # the plan: the drop-in goes ...
    assert re.search(r"^-imports = \[.*99-nvidia\.toml.*\]", out, re.M), out[-4000:]  # ... and the import line
    assert sha256([MAIN, DROPIN]) == converged
    assert existing(ROLE_FILES) == ROLE_FILES
    assert node("systemctl show -P ActiveState k3s-agent").strip() == "active"


def test_2_uninstall_removes_what_the_roles_added_and_keeps_the_users_bytes(lab):
    pods = wait_pod_on_node(lab)
    out = play(lab, "playbooks/uninstall.yml")
    assert recap(out)[0] > 0
    assert evictions(lab) == list(pods), out[-4000:]    # drained through the eviction API ...
    assert re.search(r"TASK \[Cordon and drain %s\].*TASK \[homelab\.gpu_node\.gpu_runtime : Restart the engine.*"
                     r"TASK \[homelab\.gpu_node\.cluster_join : Stop and disable k3s-agent\]" % NODE, out, re.S)
    assert the_node(lab) == []                            # ... before the agent went; its Node object is deleted
    assert not [n for n in gpu_pods(lab).values() if n == NODE]
    assert existing(ROLE_FILES) == []
    assert sha256(USER_FILES) == lab["before"]
    assert node("cat %s" % MAIN) == USER_CONFIG
    assert node("systemctl show -P ActiveState containerd").strip() == "active"
    assert "nvidia" not in node("containerd config dump")
    assert node("systemctl show -P LoadState k3s-agent").strip() == "not-found"


def test_3_uninstall_again_changes_nothing(lab):
    out = play(lab, "playbooks/uninstall.yml")
    assert recap(out) == [0, 0]
    assert "no record of gpu_runtime" in out
    assert sha256(USER_FILES) == lab["before"]


TRAP = "/etc/systemd/system/containerd.service.d/lc2-dies-after-start.conf"


def test_4_an_engine_that_dies_after_the_restart_is_reported_not_claimed_up(lab):
    """containerd starts (systemctl restart returns 0) and dies a second later: the uninstall must fail and say the
    engine is down (a plain systemd restart reported "changed" and the play succeeded)."""
    play(lab, "playbooks/site.yml")
    node("mkdir -p %s && printf '[Service]\\nExecStartPost=/bin/sh -c \"(sleep 1; kill -9 $$MAINPID) >/dev/null 2>&1 &\"\\n'"
         " > %s && systemctl daemon-reload" % (TRAP.rsplit("/", 1)[0], TRAP))
    out = play(lab, "playbooks/uninstall.yml", expect_rc=2)
    assert "node %s is not in the cluster: nothing to drain" % NODE in out
    assert "containerd did not come back cleanly after the nvidia runtime was removed" in out, out[-4000:]
    assert "The engine is DOWN" in out
    assert node("cat %s" % MAIN) == USER_CONFIG                  # the removal stays, nothing put back
    node("rm -f %s && systemctl daemon-reload && systemctl reset-failed containerd; systemctl restart containerd" % TRAP)
    out = play(lab, "playbooks/uninstall.yml")                  # the rerun finishes the job
    assert existing(ROLE_FILES) == []
    assert sha256(USER_FILES) == lab["before"]
    assert node("systemctl show -P ActiveState containerd").strip() == "active"
