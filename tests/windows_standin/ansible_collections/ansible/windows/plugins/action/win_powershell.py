# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_powershell's action plugin.

As the real one (ansible.windows >= 3.1.0): `path` (remote_src false) is looked up in the
role's files/ and sent as `script`. The stand-in also sends the script's file name, so the
node side can pick the model of that script (PowerShell cannot run on the Linux node).
"""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.validation import check_type_bool
from ansible.plugins.action import ActionBase


class ActionModule(ActionBase):

    def run(self, tmp=None, task_vars=None):
        self._supports_check_mode = True
        result = super(ActionModule, self).run(tmp, task_vars or {})
        module_args = dict(self._task.args)
        path = module_args.get("path")
        remote_src = check_type_bool(module_args.get("remote_src", False))
        script_name = None
        if path and not remote_src:
            if module_args.get("script"):
                raise AnsibleActionFail("parameters are mutually exclusive: path, script")
            full_path = self._find_needle("files", path)
            module_args["script"] = self._loader.get_text_file_contents(full_path)
            del module_args["path"]
            script_name = os.path.basename(path)
        elif path:
            script_name = os.path.basename(path.replace("\\", "/"))
        module_args["_standin_script_name"] = script_name
        module_result = self._execute_module(
            module_name="ansible.windows.win_powershell", module_args=module_args, task_vars=task_vars or {}
        )
        if "invocation" in module_result and "module_args" in module_result["invocation"]:
            module_result["invocation"]["module_args"].pop("_standin_script_name", None)
            if path and not remote_src:
                module_result["invocation"]["module_args"]["script"] = None
                module_result["invocation"]["module_args"]["path"] = path
        result.update(module_result)
        return result
