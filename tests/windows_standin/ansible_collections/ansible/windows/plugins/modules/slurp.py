# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.slurp: a file of the stand-in's C: drive, base64.

Windows paths map into the stand-in's directory tree (``%USERPROFILE%`` from its state), and
the answers use the real module's words: "Path X is not found" / "Path X is a directory".
"""

from __future__ import annotations

import base64
import os

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state, \
    win_path

DOCUMENTATION = r"""
module: slurp
short_description: TEST-ONLY stand-in for ansible.windows.slurp
description: [Reads a file of the Linux node that plays Windows, under its C: directory.]
author: homelab.gpu_node contributors
options: {}
"""


def main():
    module = new_module("ansible.windows.slurp")
    state = load_state()
    record(state, "ansible.windows.slurp", module.params, module.check_mode)
    save_state(state)
    src = module.params["src"]
    path = win_path(src, state)
    if os.path.isdir(path):
        module.fail_json(msg="Path %s is a directory" % src, changed=False)
    if not os.path.isfile(path):
        module.fail_json(msg="Path %s is not found" % src, changed=False)
    with open(path, "rb") as handle:
        content = base64.b64encode(handle.read()).decode("ascii")
    module.exit_json(changed=False, content=content, encoding="base64")


if __name__ == "__main__":
    main()
