# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for community.windows.win_firewall_rule: objects by name in the stand-in's JSON state.

Options are checked against the real module's (unknown ones fail); the object's options are
stored as given, so a second identical run reports no change and check mode writes nothing.
"""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.module_utils._standin import run_named_object_module

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
    run_named_object_module(FQCN, KEY, SECRET)


if __name__ == "__main__":
    main()
