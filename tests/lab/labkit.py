# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What the lab tests share: a shell on a lab node and the inventory they run the playbooks with."""

from __future__ import annotations

import os
import subprocess
import textwrap

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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
