# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interrupted site.yml runs converge on the next run, with nothing lost (issue 9).

Runs on one lab node (podman, systemd, Debian's real containerd, the FAKE nvidia-smi
replaying a Tesla P100 capture, the stand-in k3s of the airgap scenario; no GPU and no
k3s server are involved). Each interruption SIGKILLs the whole ansible-playbook process
group at an exact task (callback plugin tests/lab/callback_plugins/kill_switch.py), as
a lost controller or a killed AWX job does; modules already running on the node carry
on, as they would.

1. killed after the runtime config was written, before the restart handler: containerd
   runs the OLD config while the files are already right. The next run must restart it.
2. killed after the k3s agent's config was changed, before its restart: same for k3s-agent.
3. killed during the containerd restart itself (slowed by an ExecStartPre sleep).
After each: rerun, check the live state; at the end a run with changed=0, the original
containerd config kept line for line, the token file 0600, the role's record intact.

Run by `make lab-tests` (part of `make test`); needs podman and the lab image.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess

import pytest
from labkit import ROOT, on_node, write_inventory

NODE = "intr-baremetal-1"
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
MAIN = "/etc/containerd/config.toml"
K3S_CONFIG = "/etc/rancher/k3s/config.yaml"
TOKEN = "/etc/rancher/k3s/agent-token"
RECORD = "/var/lib/homelab-gpu-node/cluster_join.json"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman (scripts/lab.sh deps)")


def node(cmd, check=True):
    return on_node(NODE, cmd, check)


def started(unit):
    """Epoch seconds of the unit's last start, from systemd itself (not from this collection's code)."""
    out = node('t=$(systemctl show -P ExecMainStartTimestamp --timestamp=us+utc %s); '
               '[ -n "$t" ] && date -d "$t" +%%s.%%N || echo 0' % unit).strip()
    return float(out)


def mtime(path):
    return float(node("stat -c %%.Y %s" % path).strip())


def active(unit):
    return node("systemctl is-active %s" % unit, check=False).strip()


def wait_active(unit, seconds=60):
    node("for i in $(seq %d); do systemctl is-active -q %s && exit 0; sleep 1; done; exit 1" % (seconds, unit))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("interrupted")
    inventory = write_inventory(work, "tests/lab/test_interrupted_run.py: one lab node; FAKE nvidia-smi replays a "
                                "real capture.", [NODE])
    subprocess.run([os.path.join(ROOT, "scripts", "lab.sh"), "down", NODE], cwd=ROOT, check=False)
    subprocess.run([os.path.join(ROOT, "scripts", "lab.sh"), "up", NODE], cwd=ROOT, check=True)
    subprocess.run(["ansible-playbook", "-i", str(inventory), "lab/prepare.yml"], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    original = node("cat %s" % MAIN)
    yield {"inventory": str(inventory), "work": work, "original_main": original, "runs": 0}
    subprocess.run([os.path.join(ROOT, "scripts", "lab.sh"), "down", NODE], cwd=ROOT, check=False)


def site(lab, *extra, kill=None, delay=0.0, nth=1):
    """Run site.yml (Windows stage skipped, cluster stage rendered into a temp dir); with ``kill``, SIGKILL the
    run when a task or handler whose name contains ``kill`` starts (after ``delay`` seconds)."""
    env = dict(os.environ)
    mark = os.path.join(str(lab["work"]), "killed")
    if os.path.exists(mark):
        os.remove(mark)
    if kill:
        env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "tests", "lab", "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="kill_switch", KILL_SWITCH_TASK=kill, KILL_SWITCH_DELAY=str(delay),
                   KILL_SWITCH_NTH=str(nth), KILL_SWITCH_MARK=mark)
    argv = ["ansible-playbook", "-i", lab["inventory"], "playbooks/site.yml", "--skip-tags", "windows_host",
            "-e", "gpu_cluster_render_dir=%s" % os.path.join(str(lab["work"]), "rendered")] + list(extra)
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True, check=False)
    out = proc.stdout
    lab["runs"] += 1
    with open(os.path.join(str(lab["work"]), "run-%02d.log" % lab["runs"]), "w") as log:
        log.write(out)
    if kill:
        assert proc.returncode == -signal.SIGKILL and os.path.exists(mark), (
            "the run was meant to be killed at %r but ended with rc=%s:\n%s" % (kill, proc.returncode, out[-4000:]))
        return out
    assert proc.returncode == 0, out[-6000:]
    recap = out.split("PLAY RECAP")[-1]
    assert re.search(r"%s\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0" % re.escape(NODE), recap), recap
    return out


def changed(out):
    return int(re.search(r"%s\s+: ok=\d+\s+changed=(\d+)" % re.escape(NODE), out.split("PLAY RECAP")[-1]).group(1))


def live_config():
    return node("containerd config dump")


def test_1_killed_between_config_write_and_engine_restart(lab):
    site(lab, kill="Restart the engine - ")
    # the kill came in time: files are new, containerd still runs what it read before
    assert "nvidia-container-runtime" in node("cat %s" % DROPIN)
    assert active("containerd") == "active"
    assert started("containerd") < mtime(DROPIN), "containerd restarted although the run was killed before"

    out = site(lab, kill="Restart k3s-agent without waiting")
    assert "changed after containerd last started" in out
    assert started("containerd") > mtime(DROPIN) and started("containerd") > mtime(MAIN)
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in live_config()


def test_2_killed_between_k3s_config_change_and_agent_restart(lab):
    # the agent was never started (the previous run died before its first start): the rerun starts it
    assert active("k3s-agent") != "active"
    site(lab)
    assert active("k3s-agent") == "active"
    agent_started = started("k3s-agent")

    # a new label changes config.yaml; kill before the agent restarts
    site(lab, "-e", '{"cluster_join_node_labels": {"homelab.example/interrupted": "yes"}}',
         kill="Restart k3s-agent without waiting")
    assert "homelab.example/interrupted=yes" in node("cat %s" % K3S_CONFIG)
    assert started("k3s-agent") == agent_started < mtime(K3S_CONFIG)

    out = site(lab, "-e", '{"cluster_join_node_labels": {"homelab.example/interrupted": "yes"}}')
    assert "changed after k3s-agent last started" in out
    wait_active("k3s-agent")
    assert started("k3s-agent") > mtime(K3S_CONFIG)


def test_3_killed_during_the_engine_restart(lab):
    # make the restart take 8 s, and kill the run 3 s into the restart task
    node("mkdir -p /etc/systemd/system/containerd.service.d && printf '[Service]\\nExecStartPre=/bin/sleep 8\\n' "
         "> /etc/systemd/system/containerd.service.d/zz-slow-restart.conf && systemctl daemon-reload")
    labels = '{"cluster_join_node_labels": {"homelab.example/interrupted": "yes"}}'
    try:
        out = site(lab, "-e", labels, "-e", "gpu_runtime_cdi=true", kill="Restart the engine - ", delay=3.0)
        # killed inside the restart task: its banner is the last thing printed, with no result after it
        last = out.rstrip().splitlines()[-1]
        assert "Restart the engine - " in last and ("HANDLER" in last or "TASK" in last), out[-2000:]
        # systemd finishes the restart job on its own; the engine comes back with the new config
        assert active("containerd") in ("activating", "active")
        wait_active("containerd")
    finally:
        node("rm -f /etc/systemd/system/containerd.service.d/zz-slow-restart.conf && systemctl daemon-reload")
    site(lab, "-e", labels, "-e", "gpu_runtime_cdi=true")
    # (Debian's containerd 1.6 does not know enable_cdi, so `config dump` leaves it out: read the drop-in)
    assert "enable_cdi = true" in node("cat %s" % DROPIN)
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in live_config()
    assert started("containerd") > mtime(DROPIN)


def test_4_converged_and_nothing_lost(lab):
    labels = '{"cluster_join_node_labels": {"homelab.example/interrupted": "yes"}}'
    out = site(lab, "-e", labels, "-e", "gpu_runtime_cdi=true")
    assert changed(out) == 0, out[-6000:]
    # both services run the files on disk
    assert active("containerd") == "active" and active("k3s-agent") == "active"
    assert started("containerd") > max(mtime(DROPIN), mtime(MAIN))
    assert started("k3s-agent") > max(mtime(K3S_CONFIG), mtime(TOKEN), mtime("/etc/systemd/system/k3s-agent.service"))
    # the user's containerd config: every original line kept, only the import added
    now = node("cat %s" % MAIN).splitlines()
    added = [line for line in now if line not in lab["original_main"].splitlines()]
    assert all(line.startswith("imports") for line in added), added
    assert len(now) == len(lab["original_main"].splitlines()) + len(added)
    # the first backup holds the untouched original
    backups = node("ls %s.*~" % MAIN).split()
    assert backups and lab["original_main"] in [node("cat %s" % b) for b in backups]
    # secrets stay 0600 root; the role's record is whole and right
    assert node("stat -c '%%a %%U' %s %s" % (TOKEN, K3S_CONFIG)).split() == ["600", "root", "600", "root"]
    record = json.loads(node("cat %s" % RECORD))
    assert record["distribution"] == "k3s" and record["binary_installed"] is True
    assert record["created_dirs"] == ["/etc/rancher", "/etc/rancher/k3s"]
    # no half-written files next to the managed ones
    assert node("ls -a /etc/containerd/conf.d /etc/rancher/k3s | grep -E '[.]tmp|^[.]ansible' || true").strip() == ""
