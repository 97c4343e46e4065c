# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_optional_feature: feature states in the stand-in's JSON state."""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state

DOCUMENTATION = r"""
module: win_optional_feature
short_description: TEST-ONLY stand-in for ansible.windows.win_optional_feature
description: [Keeps optional feature states in a JSON file on the Linux node that plays Windows.]
author: homelab.gpu_node contributors
options: {}
"""


def main():
    module = new_module("ansible.windows.win_optional_feature")
    state = load_state()
    record(state, "ansible.windows.win_optional_feature", module.params, module.check_mode)
    wanted = "Enabled" if module.params["state"] == "present" else "Disabled"
    changed = False
    reboot = False
    for name in module.params["name"]:
        if name not in state["features"]:
            save_state(state)
            module.fail_json(msg="Failed to find feature '%s'" % name, reboot_required=False)
        if state["features"][name] != wanted:
            changed = True
            reboot = reboot or name in state["features_needing_reboot"]
            if not module.check_mode:
                state["features"][name] = wanted
    if reboot and not module.check_mode:
        state["pending_reboot"] = True
    save_state(state)
    module.exit_json(changed=changed, reboot_required=reboot)


if __name__ == "__main__":
    main()
