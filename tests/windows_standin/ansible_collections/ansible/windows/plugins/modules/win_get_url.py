# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_get_url: file:// URLs only (the lab has no internet).

dest is a Windows path mapped into the stand-in's C: directory; the checksum is verified
as the real module does, and with force=false an existing dest is left alone.
"""

from __future__ import annotations

import hashlib
import os
import shutil

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state, win_path

DOCUMENTATION = r"""
module: win_get_url
short_description: TEST-ONLY stand-in for ansible.windows.win_get_url
description: [Copies file:// URLs on the Linux node that plays Windows.]
author: homelab.gpu_node contributors
options: {}
"""


def digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def main():
    module = new_module("ansible.windows.win_get_url")
    params = module.params
    state = load_state()
    record(state, "ansible.windows.win_get_url", dict((k, v) for k, v in params.items() if v is not None),
           module.check_mode)
    save_state(state)
    dest = win_path(params["dest"], state)
    if os.path.exists(dest) and not params["force"]:
        module.exit_json(changed=False, dest=params["dest"], url=params["url"], msg="file already exists")
    if not params["url"].startswith("file://"):
        module.fail_json(msg="the Windows stand-in only fetches file:// URLs (the lab has no internet): %s" % params["url"])
    source = win_path(params["url"][len("file://"):], state)
    if params.get("checksum"):
        actual = digest(source, params["checksum_algorithm"])
        if actual != params["checksum"].lower():
            module.fail_json(msg="The checksum for %s did not match %s, it was %s" % (params["url"], params["checksum"], actual))
    if not module.check_mode:
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copyfile(source, dest)
    module.exit_json(changed=True, dest=params["dest"], url=params["url"], status_code=200)


if __name__ == "__main__":
    main()
