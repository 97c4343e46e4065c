# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""playbooks/uninstall.yml removes the container toolkit packages gpu_runtime installed, and no other.

One lab node (podman, systemd, Debian's real containerd and apt, the FAKE nvidia-smi). NVIDIA's
repository is the LOCAL SIGNED stand-in repository (tests/fake/local_apt_repo.py) through file:
URLs in the role's own repository variables; the role's repository, pin and apt tasks run for
real. The user installed libnvidia-container1 (one of the toolkit's four packages) before the role
ran, and wrote their own containerd config.

1. gpu_node.yml installs the other three and records them (not the user's one);
2. uninstall in check mode removes nothing;
3. uninstall removes the three, the user's package stays installed at its version, the user's
   config is byte for byte as before, containerd runs; a rerun changes nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from labkit import ROOT, on_node, start_node, wait_for_systemd, write_inventory
from labkit import recap as labkit_recap

NODE = "lc2-toolkit-1"
MAIN = "/etc/containerd/config.toml"
RECORD = "/var/lib/homelab-gpu-node/gpu_runtime_packages.json"
USER_CONFIG = """\
# containerd, as the user wrote it by hand (no imports)
version = 2
"""
ROLES = ["libnvidia-container-tools", "nvidia-container-toolkit", "nvidia-container-toolkit-base"]
USERS = "libnvidia-container1"
REPO = "file:///srv/local-nvidia-repo/libnvidia-container"

pytestmark = pytest.mark.skipif(shutil.which("podman") is None or shutil.which("dpkg-deb") is None,
                                reason="needs podman and dpkg-deb (scripts/lab.sh deps)")


def node(cmd, check=True):
    return on_node(NODE, cmd, check)


def installed():
    """package -> version of the toolkit's four packages that dpkg says are installed."""
    out = node("dpkg-query -W -f='${Package} ${Version} ${db:Status-Status}\\n' %s %s 2>/dev/null; true"
               % (" ".join(ROLES), USERS))
    return {p: v for p, v, s in (line.split() for line in out.splitlines() if line.strip()) if s == "installed"}


def recap(out):
    return labkit_recap(out, NODE)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    work = tmp_path_factory.mktemp("uninstall-toolkit")
    inventory = write_inventory(work, "uninstall of the toolkit packages on a lab node", [NODE])
    subprocess.run(["python3", os.path.join(ROOT, "tests", "fake", "local_apt_repo.py"),
                    str(work / "local-nvidia-repo"), "--kernel", os.uname().release], check=True,
                   stdout=subprocess.DEVNULL)
    start_node(NODE)
    try:
        wait_for_systemd(NODE)
        subprocess.run(["podman", "cp", str(work / "local-nvidia-repo"), "%s:/srv/" % NODE], check=True)
        # the user's own: one toolkit package (the pinned version) and their containerd config
        deb = node("ls /srv/local-nvidia-repo/libnvidia-container/stable/deb/amd64/%s_*.deb" % USERS).split()
        node("dpkg -i %s >/dev/null" % sorted(deb)[0])
        node("cat > %s <<'EOF'\n%sEOF\nsystemctl restart containerd" % (MAIN, USER_CONFIG))
        subprocess.run(["ansible-playbook", "-i", inventory, "-l", NODE, "lab/prepare.yml"], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        yield {"inventory": inventory, "work": work, "users": installed(),
               "config": node("sha256sum %s" % MAIN)}
    finally:
        subprocess.run(["podman", "rm", "-f", NODE], check=False, stdout=subprocess.DEVNULL)


def play(lab, playbook, *extra, expect_rc=0):
    proc = subprocess.run(["ansible-playbook", "-i", lab["inventory"], "-l", NODE, playbook,
                           "-e", "gpu_runtime_test_standins=false", "-e", "gpu_runtime_toolkit_repo_url=%s" % REPO,
                           "-e", "gpu_runtime_toolkit_gpgkey_url=%s/gpgkey" % REPO] + list(extra),
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    assert proc.returncode == expect_rc, proc.stdout[-6000:]
    return proc.stdout


def test_1_the_role_records_only_the_packages_it_installed(lab):
    assert list(lab["users"]) == [USERS]
    play(lab, "playbooks/gpu_node.yml")
    assert sorted(installed()) == sorted(ROLES + [USERS])
    assert json.loads(node("cat %s" % RECORD)) == {"packages": ROLES}
    out = play(lab, "playbooks/gpu_node.yml")                # a second run keeps the record as it is
    assert recap(out) == [0, 0]


def test_2_check_mode_removes_nothing(lab):
    out = play(lab, "playbooks/uninstall.yml", "--check", "--diff")
    assert recap(out)[1] == 0
    assert sorted(installed()) == sorted(ROLES + [USERS])
    assert node("test -e %s && echo y" % RECORD).strip() == "y"


def test_3_uninstall_removes_the_roles_packages_and_keeps_the_users(lab):
    out = play(lab, "playbooks/uninstall.yml")
    assert recap(out)[0] > 0
    assert installed() == lab["users"]                       # the user's package, same version; the role's gone
    assert node("test -e %s || echo gone" % RECORD).strip() == "gone"
    assert node("sha256sum %s" % MAIN) == lab["config"]
    assert node("systemctl show -P ActiveState containerd").strip() == "active"
    out = play(lab, "playbooks/uninstall.yml")
    assert recap(out) == [0, 0]
