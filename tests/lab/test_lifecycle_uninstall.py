# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/uninstall.yml on a lab node: remove what the roles added, and nothing else.

One lab node (podman, systemd, Debian's real containerd, the FAKE nvidia-smi replaying a
Tesla P100 capture, the stand-in k3s of the airgap scenario, the stand-in nvidia runtime; no
GPU, no k3s server). The user's own containerd config (hand written, no imports) and files of
their own are put on the node first; site.yml converges it; then:

1. uninstall in check mode shows the plan (the diff of the user's config, the drop-in going)
   and changes nothing;
2. uninstall removes the drop-in, the import line, the k3s agent the role installed, the
   stand-in runtime and the records; the user's config and files are byte for byte as before
   (sha256), containerd runs;
3. a second uninstall changes nothing.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from labkit import ROOT, on_node, write_inventory

NODE = "lc-uninstall-1"
IMAGE = "localhost/gpu-node-lab:latest"
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
    found = re.findall(r"^%s\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)" % NODE, out, re.M)
    assert found, out[-3000:]
    return [int(x) for x in found[-1]]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("uninstall")
    inventory = write_inventory(work, "playbooks/uninstall.yml on a lab node", [NODE])
    subprocess.run(["podman", "rm", "-f", NODE], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(["podman", "run", "-d", "--name", NODE, "--hostname", NODE, "--systemd=always", IMAGE,
                    "/sbin/init"], check=True, stdout=subprocess.DEVNULL)
    node("for i in $(seq 60); do s=$(systemctl is-system-running); "
         "[ \"$s\" = running ] || [ \"$s\" = degraded ] && exit 0; sleep 1; done; exit 1")
    node("cat > %s <<'EOF'\n%sEOF\nsystemctl restart containerd" % (MAIN, USER_CONFIG))
    node("mkdir -p /etc/rancher/k3s && printf 'mirrors:\\n  docker.io:\\n    endpoint: [\"http://10.0.0.5:5000\"]\\n'"
         " > /etc/rancher/k3s/registries.yaml && printf '#!/bin/sh\\necho mine\\n' > /usr/local/bin/my-gpu-tool"
         " && chmod 755 /usr/local/bin/my-gpu-tool && echo 'my notes' > /etc/containerd/my-notes.txt")
    subprocess.run(["ansible-playbook", "-i", inventory, "-l", NODE, "lab/prepare.yml"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    before = sha256(USER_FILES)
    yield {"inventory": inventory, "before": before, "work": work}
    subprocess.run(["podman", "rm", "-f", NODE], check=False, stdout=subprocess.DEVNULL)


def play(lab, playbook, *extra, expect_rc=0):
    proc = subprocess.run(["ansible-playbook", "-i", lab["inventory"], "-l", NODE, playbook,
                           "-e", "gpu_cluster_render_dir=%s/rendered" % lab["work"]] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == expect_rc, proc.stdout[-6000:]
    return proc.stdout


def test_1_converged_then_check_mode_shows_the_plan_and_changes_nothing(lab):
    play(lab, "playbooks/site.yml")
    assert existing(ROLE_FILES) == ROLE_FILES
    converged = sha256([MAIN, DROPIN])
    assert converged[MAIN] != lab["before"][MAIN]          # the role added its import line
    assert "imports" in node("cat %s" % MAIN)

    out = play(lab, "playbooks/uninstall.yml", "--check", "--diff")
    assert recap(out)[1] == 0
    assert "%s (absent)" % DROPIN in out                  # the plan: the drop-in goes ...
    assert re.search(r"^-imports = \[.*99-nvidia\.toml.*\]", out, re.M), out[-4000:]  # ... and the import line
    assert sha256([MAIN, DROPIN]) == converged
    assert existing(ROLE_FILES) == ROLE_FILES
    assert node("systemctl show -P ActiveState k3s-agent").strip() == "active"


def test_2_uninstall_removes_what_the_roles_added_and_keeps_the_users_bytes(lab):
    out = play(lab, "playbooks/uninstall.yml")
    assert recap(out)[0] > 0
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
    assert "containerd did not come back cleanly after the nvidia runtime was removed" in out, out[-4000:]
    assert "The engine is DOWN" in out
    assert node("cat %s" % MAIN) == USER_CONFIG                  # the removal stays, nothing put back
    node("rm -f %s && systemctl daemon-reload && systemctl reset-failed containerd; systemctl restart containerd" % TRAP)
    out = play(lab, "playbooks/uninstall.yml")                  # the rerun finishes the job
    assert existing(ROLE_FILES) == []
    assert sha256(USER_FILES) == lab["before"]
    assert node("systemctl show -P ActiveState containerd").strip() == "active"
