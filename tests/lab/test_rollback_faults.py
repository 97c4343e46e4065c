# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fault scenarios through the roles' own files (issue 14, defects 2, 3, 5 and 6).

One lab node (podman, systemd, Debian's real containerd, the FAKE nvidia-smi replaying a
Tesla P100 capture, the stand-in k3s of the airgap scenario; no GPU, no k3s server) plus
one node that is in the inventory but stopped (a desktop that is asleep).

FAULT INJECTION: containerd is made to refuse to start by a systemd drop-in whose
ExecStartPre fails - either while the role's drop-in exists (it stands for a containerd
that cannot load the new config) or always (/bin/false: nothing can bring it back).
The main config that cannot be written is a read-only bind mount made when the
container is created (/srv/ro/config.toml; chattr +i does not work on overlayfs).

Every playbook runs at -vvv and every log is scanned for the k3s token and its
sha256/sha1/md5/base64 forms.

1. interrupted run + refusing restart: the rerun rolls back from the role's record on
   the node, containerd comes back, and the message says exactly that (and is true);
2. backup off + restart refused for good: the rollback removes the import and the
   drop-in (the main config is the original, byte for byte) and says containerd is down;
3. containerd_nvidia_runtime state=absent with a main config that cannot be written:
   the drop-in is left alone (the import still finds it) and the failure says so;
4. site.yml with one GPU node asleep: the other node finishes every stage, the asleep
   one is named in a warning and in the summary;
5. a cluster_join rerun (the token file exists now) prints no derived form of the token.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess

import pytest
from labkit import IMAGE, ROOT, on_node, wait_for_systemd, write_inventory

NODE = "rb-faults-1"
ASLEEP = "rb-asleep-1"
DROPIN = "/etc/containerd/conf.d/99-nvidia.toml"
MAIN = "/etc/containerd/config.toml"
RECORD = "/var/lib/homelab-gpu-node/gpu_runtime.json"
FAULT = "/etc/systemd/system/containerd.service.d/zz-fault-injection.conf"
RO_MAIN = "/srv/ro/config.toml"
RO_DROPIN = "/srv/ro/conf.d/99-nvidia.toml"
TOKEN = "K10lab0only0not0a0secret::server:lab"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None, reason="needs podman (scripts/lab.sh deps)")


def node(cmd, check=True):
    return on_node(NODE, cmd, check)


def active(unit):
    return node("systemctl show -P ActiveState %s" % unit, check=False).strip()


def exists(path):
    return node("test -e %s && echo yes || echo no" % path).strip() == "yes"


def secret_forms(secret):
    data = secret.encode()
    forms = {"token": secret, "base64": base64.b64encode(data).decode(),
             "base64 (urlsafe)": base64.urlsafe_b64encode(data).decode()}
    for name in ("sha256", "sha1", "md5", "sha512"):
        forms[name] = hashlib.new(name, data).hexdigest()
        forms[name + " (base64)"] = base64.b64encode(hashlib.new(name, data).digest()).decode()
    return forms


def scan_for_secret(text, where):
    for name, form in secret_forms(TOKEN).items():
        assert form not in text, "the k3s token's %s form appears in %s" % (name, where)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("rollback")
    ro = work / "ro-config.toml"
    ro.write_text('version = 2\nimports = ["%s"]\n' % RO_DROPIN)
    inventory = write_inventory(work, "tests/lab/test_rollback_faults.py: one lab node and one asleep (stopped) node; "
                                "FAKE nvidia-smi replays a real capture.", [NODE, ASLEEP])
    for name in (NODE, ASLEEP):
        subprocess.run(["podman", "rm", "-f", name], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(["podman", "run", "-d", "--name", NODE, "--hostname", NODE, "--systemd=always",
                    "--mount", "type=bind,src=%s,dst=%s,ro" % (ro, RO_MAIN), IMAGE, "/sbin/init"],
                   check=True, stdout=subprocess.DEVNULL)
    # in the inventory, never started: a desktop that is asleep
    subprocess.run(["podman", "create", "--name", ASLEEP, IMAGE, "/sbin/init"], check=True,
                   stdout=subprocess.DEVNULL)
    wait_for_systemd(NODE)
    subprocess.run(["ansible-playbook", "-i", str(inventory), "-l", NODE, "lab/prepare.yml"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)
    state = {"inventory": str(inventory), "work": work, "original_main": node("cat %s" % MAIN), "runs": 0,
             "ro_host_file": ro}
    yield state
    for name in (NODE, ASLEEP):
        subprocess.run(["podman", "rm", "-f", name], check=False, stdout=subprocess.DEVNULL)


def play(lab, playbook, *extra, kill=None, limit=NODE, expect_rc=0):
    """Run a playbook at -vvv (the log is kept and scanned for the token); with ``kill``, SIGKILL the run
    when a task whose name contains ``kill`` starts."""
    env = dict(os.environ, ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    mark = os.path.join(str(lab["work"]), "killed")
    if os.path.exists(mark):
        os.remove(mark)
    if kill:
        env.update(ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "tests", "lab", "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="kill_switch", KILL_SWITCH_TASK=kill, KILL_SWITCH_DELAY="0",
                   KILL_SWITCH_NTH="1", KILL_SWITCH_MARK=mark)
    argv = ["ansible-playbook", "-vvv", "-i", lab["inventory"], playbook,
            "-e", "gpu_cluster_render_dir=%s" % os.path.join(str(lab["work"]), "rendered")] + list(extra)
    if limit:
        argv += ["-l", limit]
    proc = subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          start_new_session=True, check=False)
    out = proc.stdout
    lab["runs"] += 1
    log = os.path.join(str(lab["work"]), "run-%02d.log" % lab["runs"])
    with open(log, "w") as handle:
        handle.write(out)
    scan_for_secret(out, log)
    if kill:
        assert proc.returncode == -signal.SIGKILL and os.path.exists(mark), (
            "the run was meant to be killed at %r but ended with rc=%s:\n%s" % (kill, proc.returncode, out[-4000:]))
    else:
        assert proc.returncode == expect_rc, "rc=%s, expected %s:\n%s" % (proc.returncode, expect_rc, out[-6000:])
    return out


def role_failure(out):
    """The gpu_runtime role's failure message (the msg of the failed task), from the -vvv output."""
    found = re.findall(r'^fatal: \[%s\]: FAILED! => (\{.*?\n\})$' % re.escape(NODE), out, re.S | re.M)
    assert found, out[-6000:]
    return json.loads(found[-1])["msg"]


def set_fault(kind):
    if kind is None:
        node("rm -f %s && systemctl daemon-reload" % FAULT)
        return
    check = {"while-dropin": "/bin/sh -c 'test ! -e %s || { echo fault injection: containerd refuses %s >&2; "
                             "exit 1; }'" % (DROPIN, DROPIN),
             "always": "/bin/false"}[kind]
    node("mkdir -p %s && printf '[Service]\\nExecStartPre=%s\\n' > %s && systemctl daemon-reload"
         % (os.path.dirname(FAULT), check.replace("'", "'\\''").replace("%", "%%"), FAULT))


def claimed_state(msg):
    match = re.search(r"containerd is (up|down) \(ActiveState=(\w+)", msg)
    assert match, "the message does not say whether containerd is up: %s" % msg
    return match.group(1), match.group(2)


def test_1_interrupted_run_then_refused_restart_rolls_back_from_the_record(lab):
    play(lab, "playbooks/gpu_node.yml", kill="Restart the engine - ")
    assert exists(DROPIN) and active("containerd") == "active"
    assert "imports" in node("cat %s" % MAIN)

    set_fault("while-dropin")
    try:
        out = play(lab, "playbooks/gpu_node.yml", expect_rc=2)
        msg = role_failure(out)
        # bytes: the original main config, no drop-in; the engine runs
        assert node("cat %s" % MAIN) == lab["original_main"], msg
        assert not exists(DROPIN), msg
        assert active("containerd") == "active", msg
        # the message says what was restored and that containerd is up, and both are true
        assert "%s restored from " % MAIN in msg and "%s removed" % DROPIN in msg, msg
        assert claimed_state(msg) == ("up", "active"), msg
        assert "fault injection: containerd refuses" in msg, msg
        assert "nvidia runtime is not in the live config" in msg, msg
        assert "nvidia-container-runtime" not in node("containerd config dump")
    finally:
        set_fault(None)

    # fault gone: the next run converges, and the one after changes nothing
    play(lab, "playbooks/gpu_node.yml")
    assert 'BinaryName = "/usr/bin/nvidia-container-runtime"' in node("containerd config dump")
    out = play(lab, "playbooks/gpu_node.yml")
    assert re.search(r"%s\s+: ok=\d+\s+changed=0" % NODE, out.split("PLAY RECAP")[-1]), out[-3000:]


def test_2_backup_off_and_a_restart_that_never_succeeds(lab):
    # back to the distribution's config, containerd running it
    node("rm -f %s" % DROPIN)
    node("cat > %s <<'EOF'\n%sEOF\nsystemctl restart containerd" % (MAIN, lab["original_main"]))
    assert node("cat %s" % MAIN) == lab["original_main"]

    set_fault("always")
    try:
        out = play(lab, "playbooks/gpu_node.yml", "-e", "gpu_runtime_backup=false", expect_rc=2)
        msg = role_failure(out)
        # the import went with the drop-in: the main config is the original again, byte for byte
        assert node("cat %s" % MAIN) == lab["original_main"], msg
        assert not exists(DROPIN), msg
        # containerd cannot start (ExecStartPre=/bin/false): the message must say it is down
        state = active("containerd")
        assert state != "active"
        assert claimed_state(msg)[0] == "down", msg
        assert "restarted successfully" not in msg and "is up" not in msg, msg
        assert "import of %s removed" % DROPIN in msg or "%s: import" % MAIN in msg, msg
    finally:
        set_fault(None)
    # the restored config is one containerd accepts
    node("systemctl reset-failed containerd; systemctl restart containerd")
    assert active("containerd") == "active"


def test_3_state_absent_with_a_main_config_that_cannot_be_written(lab):
    dropin = "version = 2\n# stands for the drop-in an earlier state=present wrote\n"
    node("mkdir -p /srv/ro/conf.d && printf '%s' > %s" % (dropin.replace("\n", "\\n"), RO_DROPIN))
    before_main = node("cat %s" % RO_MAIN)
    proc = subprocess.run(
        ["env", "ANSIBLE_CALLBACK_RESULT_FORMAT=json", "ansible", NODE, "-vvv", "-i", lab["inventory"], "-m", "homelab.gpu_node.containerd_nvidia_runtime",
         "-a", "engine=containerd config_path=%s state=absent backup=true" % RO_MAIN],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    out = proc.stdout
    scan_for_secret(out, "the state=absent run")
    assert proc.returncode != 0, out
    result = json.loads(re.search(r"FAILED! => (\{.*\n\})", out, re.S).group(1))
    # the import is what failed to go; the drop-in it points at is still there, untouched
    assert node("cat %s" % RO_DROPIN) == dropin
    assert node("cat %s" % RO_MAIN) == before_main
    assert RO_MAIN in result["msg"]
    assert result["changed"] is False
    assert "nothing was changed" in result["msg"]


def test_4_an_asleep_node_does_not_stop_the_others(lab):
    # every node stage skips the asleep node with a warning, so the whole run succeeds
    out = play(lab, "playbooks/site.yml", "--skip-tags", "windows_host", limit=None)
    assert re.search(r"WARNING: %s is unreachable \(asleep or off\?\).*Its GPU stages are skipped" % ASLEEP,
                     out.split("PLAY [GPU nodes join the cluster]")[0]), out[-4000:]
    recap = out.split("PLAY RECAP")[-1]
    assert re.search(r"%s\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0" % ASLEEP, recap), recap
    assert re.search(r"%s\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0" % NODE, recap), recap
    assert re.search(r"localhost\s+: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0", recap), recap
    # the cluster stage finished for the node that is awake, and named the asleep one
    rendered = os.path.join(str(lab["work"]), "rendered")
    texts = "".join(open(os.path.join(base, name)).read()
                    for base, _d, names in os.walk(rendered) for name in names)
    assert NODE in texts and ASLEEP not in texts
    assert re.search(r"%s.*(unreachable|asleep)" % ASLEEP, out.split("PLAY [Cluster-side GPU setup]")[-1]), out[-4000:]
    # the token reached the node (the scan above is not vacuous)
    assert node("cat /etc/rancher/k3s/agent-token") == TOKEN


def test_5_no_derived_form_of_the_token_in_a_rerun(lab):
    """The node has joined (test 4): now the token file exists and k3s_agent_files compares it with the token.
    The probe that did this before returned the file's sha256, printed at -v; play() scans the -vvv log for
    every form."""
    assert node("cat /etc/rancher/k3s/agent-token") == TOKEN
    # the cluster stage alone, with the asleep node in it: skipped with a warning, the run succeeds
    out = play(lab, "playbooks/cluster_join.yml", limit=None)
    # the module got the token (masked in its logged arguments) and found the file right
    assert "/etc/rancher/k3s/agent-token" in out and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in out
    assert re.search(r'"restart_pending": false', out), out[-4000:]
    assert re.search(r"WARNING: %s is unreachable \(asleep or off\?\)" % ASLEEP, out), out[-4000:]
    recap = out.split("PLAY RECAP")[-1]
    assert re.search(r"%s\s+: ok=\d+\s+changed=0\s+unreachable=0\s+failed=0" % NODE, recap), recap
