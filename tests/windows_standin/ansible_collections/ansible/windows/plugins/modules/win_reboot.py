# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_reboot (an action plugin on real Windows).

Clears the stand-in's pending reboot and counts reboots; the node itself is not restarted.
"""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state

DOCUMENTATION = r"""
module: win_reboot
short_description: TEST-ONLY stand-in for ansible.windows.win_reboot
description: [Counts reboots in a JSON file on the Linux node that plays Windows.]
author: homelab.gpu_node contributors
options: {}
"""


def main():
    module = new_module("ansible.windows.win_reboot")
    state = load_state()
    record(state, "ansible.windows.win_reboot", module.params, module.check_mode)
    if not module.check_mode:
        state["pending_reboot"] = False
        state["reboots"] += 1
        # a reboot stops the WSL VM and every task that was running
        state["wsl_vm_running"] = False
        for dist in state["distributions"].values():
            dist["state"] = "Stopped"
        for task in state["scheduled_tasks"].values():
            task["_state"] = "Ready"
    save_state(state)
    module.exit_json(changed=True, rebooted=not module.check_mode, elapsed=0, unreachable=False)


if __name__ == "__main__":
    main()
