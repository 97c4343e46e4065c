# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for community.windows.win_firewall_rule: objects by name in the stand-in's JSON state.

Options are checked against the real module's (unknown ones fail); the object's options are
stored as given, so a second identical run reports no change and check mode writes nothing.
"""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state

DOCUMENTATION = r"""
module: win_firewall_rule
short_description: TEST-ONLY stand-in for community.windows.win_firewall_rule
description: [Keeps objects in a JSON file on the Linux node that plays Windows.]
author: homelab.gpu_node contributors
options: {}
"""

FQCN = "community.windows.win_firewall_rule"
KEY = "firewall_rules"
SECRET = ("password",)


def main():
    module = new_module(FQCN)
    params = dict((k, v) for k, v in module.params.items() if v is not None and k not in SECRET)
    state = load_state()
    record(state, FQCN, params, module.check_mode)
    objects = state[KEY]
    name = params["name"]
    before = objects.get(name)
    if params.get("state", "present") == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            del objects[name]
    else:
        wanted = dict((k, v) for k, v in params.items() if k != "state")
        current = dict((k, v) for k, v in (before or {}).items() if not k.startswith("_"))
        changed = current != wanted
        if changed and not module.check_mode:
            wanted.update((k, v) for k, v in (before or {}).items() if k.startswith("_"))
            objects[name] = wanted
    save_state(state)
    module.exit_json(changed=changed)


if __name__ == "__main__":
    main()
