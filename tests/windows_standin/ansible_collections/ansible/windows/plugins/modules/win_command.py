# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_command (tests/windows_standin; docs/windows-standin.md).

Runs the command for real on the Linux node that plays the Windows host, with the
real module's options (unknown ones fail). Windows paths in argv[0], chdir, creates
and removes are mapped into the stand-in's C: directory. stdin is written as given
(no newline added, as Ansible.Process does); without stdin the child reads an empty
stdin. Like the real module it does not support check mode.
"""

from __future__ import annotations

import datetime
import os
import shlex
import shutil
import subprocess

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, win_path

DOCUMENTATION = r"""
module: win_command
short_description: TEST-ONLY stand-in for ansible.windows.win_command
description: [Runs the command on the Linux node that plays the Windows host.]
author: homelab.gpu_node contributors
options: {}
"""


def resolve(executable, state, module):
    if "\\" in executable or (len(executable) > 1 and executable[1] == ":"):
        path = win_path(executable, state)
        if not os.path.exists(path):
            module.fail_json(msg="The system cannot find the file specified: %s" % executable, rc=2)
        return path
    found = shutil.which(executable)
    if not found:
        module.fail_json(msg="The system cannot find the file specified: %s" % executable, rc=2)
    return found


def run(module, argv, state):
    chdir = win_path(module.params["chdir"], state) if module.params.get("chdir") else None
    for key, present in (("creates", True), ("removes", False)):
        value = module.params.get(key)
        if value and os.path.exists(win_path(value, state)) == present:
            module.exit_json(changed=False, cmd=" ".join(argv), rc=0, stdout="", stderr="",
                             msg="skipped, since %s %s" % (value, "exists" if present else "does not exist"))
    stdin = module.params.get("stdin")
    start = datetime.datetime.now()
    proc = subprocess.run(
        [resolve(argv[0], state, module)] + argv[1:],
        input=stdin.encode("utf-8") if stdin is not None else b"",
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=chdir, check=False,
    )
    end = datetime.datetime.now()
    encoding = module.params.get("output_encoding_override") or "utf-8"
    result = dict(
        changed=True, cmd=" ".join(argv), rc=proc.returncode,
        stdout=proc.stdout.decode(encoding, errors="replace"), stderr=proc.stderr.decode(encoding, errors="replace"),
        start=str(start), end=str(end), delta=str(end - start),
    )
    if proc.returncode != 0:
        module.fail_json(msg="non-zero return code", **result)
    module.exit_json(**result)


def main():
    module = new_module("ansible.windows.win_command", supports_check_mode=False,
                        mutually_exclusive=[["argv", "cmd", "_raw_params"]],
                        required_one_of=[["argv", "cmd", "_raw_params"]])
    state = load_state()
    argv = module.params["argv"] or shlex.split(module.params["cmd"] or module.params["_raw_params"], posix=False)
    run(module, argv, state)


if __name__ == "__main__":
    main()
