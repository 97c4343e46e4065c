# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lab tests share: starting a lab node, a shell on it, the inventory they run the playbooks with and
the play recap's counts."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAGE = "localhost/gpu-node-lab:latest"


def on_node(name, cmd, check=True):
    """Run ``cmd`` with sh on the lab container ``name``; stdout and stderr together."""
    proc = subprocess.run(["podman", "exec", name, "sh", "-c", cmd], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError("on %s: %s -> rc=%d\n%s" % (name, cmd, proc.returncode, proc.stdout))
    return proc.stdout


def write_inventory(work, comment, nodes, capture="netdata/tesla-p100.xml"):
    """Write ``work``/hosts.yml: ``nodes`` as bare-metal GPU nodes reached through podman, each replaying
    ``capture`` through the FAKE nvidia-smi, localhost as the kube API host, and the lab's group_vars."""
    hosts = "".join("                %s:\n                  fake_nvidia_smi_capture: %s\n" % (n, capture)
                    for n in nodes)
    inventory = os.path.join(str(work), "hosts.yml")
    with open(inventory, "w") as handle:
        handle.write(textwrap.dedent("""\
            ---
            # %s
            all:
              children:
                gpu_nodes:
                  vars:
                    ansible_connection: containers.podman.podman
                    ansible_python_interpreter: /usr/bin/python3
                  children:
                    baremetal_gpu_nodes:
                      hosts:
            """) % comment + hosts + textwrap.dedent("""\
                kube_api:
                  hosts:
                    localhost:
                      ansible_connection: local
                      ansible_python_interpreter: "{{ ansible_playbook_python }}"
            """))
    os.symlink(os.path.join(ROOT, "inventory", "lab", "group_vars"), os.path.join(str(work), "group_vars"))
    return inventory


def wait_for_systemd(name):
    """Wait (60 s at most) until systemd on the lab container ``name`` is running (or degraded)."""
    on_node(name, "for i in $(seq 60); do s=$(systemctl is-system-running); "
            "[ \"$s\" = running ] || [ \"$s\" = degraded ] && exit 0; sleep 1; done; exit 1")


def start_node(name, *run_args):
    """(Re)create the lab container ``name`` from the lab image with systemd (``run_args``: more podman run options);
    only this name is removed first, never another container."""
    subprocess.run(["podman", "rm", "-f", name], check=False, stdout=subprocess.DEVNULL)
    subprocess.run(["podman", "run", "-d", "--name", name, "--hostname", name, "--systemd=always"] + list(run_args)
                   + [IMAGE, "/sbin/init"], check=True, stdout=subprocess.DEVNULL)


def recap(out, name):
    """``[changed, failed]`` of host ``name`` in the last PLAY RECAP of ``out`` (unreachable must be 0)."""
    found = re.findall(r"^%s\s+:\s+ok=\d+\s+changed=(\d+)\s+unreachable=0\s+failed=(\d+)" % re.escape(name), out, re.M)
    assert found, out[-3000:]
    return [int(x) for x in found[-1]]
