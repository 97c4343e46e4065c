# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin homelab.gpu_node.wslconfig: merge owned keys into a user's .wslconfig.

Reads the file with the slurp module of the target's shell family, merges on the
controller (plugin_utils/_wslconfig.py, configupdater) and, only when something
changed and not in check mode, hands the new bytes to the copy action
(ansible.windows.win_copy on Windows, ansible.legacy.copy on a POSIX shell such
as a WSL distro reaching the file through /mnt/c). Documentation:
plugins/modules/wslconfig.py.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wslconfig import (
    HAS_CONFIGUPDATER,
    MISSING_CONFIGUPDATER_MSG,
    NETWORKING_MODES,
    WslConfigError,
    decode_wslconfig,
    encode_wslconfig,
    merge_wslconfig,
)

WINDOWS_DEFAULT_PATH = "%USERPROFILE%\\.wslconfig"

ARGUMENT_SPEC = dict(
    path=dict(type="str", default=WINDOWS_DEFAULT_PATH),
    wsl2=dict(
        type="dict",
        default={},
        options=dict(
            memory=dict(type="str"),
            processors=dict(type="int"),
            networkingMode=dict(type="str", choices=list(NETWORKING_MODES)),
            vmSwitch=dict(type="str"),
            macAddress=dict(type="str"),
            vmIdleTimeout=dict(type="int"),
            dhcp=dict(type="bool"),
        ),
    ),
    experimental=dict(type="dict", default={}),
    remove=dict(type="list", elements="str", default=[]),
    backup=dict(type="bool", default=False),
)


class ActionModule(ActionBase):
    TRANSFERS_FILES = True

    def _is_windows(self):
        return getattr(self._connection._shell, "SHELL_FAMILY", "") == "powershell"

    def _read_remote(self, path, task_vars):
        """Return the file's bytes, or None when it does not exist."""
        module = "ansible.windows.slurp" if self._is_windows() else "ansible.legacy.slurp"
        reply = self._execute_module(module_name=module, module_args=dict(src=path), task_vars=task_vars)
        if reply.get("failed"):
            msg = to_text(reply.get("msg", ""))
            if "not found" in msg.lower() or "no such file" in msg.lower():
                return None
            raise WslConfigError("cannot read %s: %s" % (path, msg or reply))
        if reply.get("encoding", "base64") != "base64":
            raise WslConfigError("unexpected encoding %r from %s" % (reply.get("encoding"), module))
        return base64.b64decode(reply.get("content", ""))

    def _write_remote(self, path, data, backup, task_vars):
        """Copy ``data`` to ``path`` through the shell family's copy action; return its result."""
        action_name = "ansible.windows.win_copy" if self._is_windows() else "ansible.legacy.copy"
        local_dir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            local_file = os.path.join(local_dir, "wslconfig")
            with open(to_bytes(local_file, errors="surrogate_or_strict"), "wb") as handle:
                handle.write(data)
            new_task = self._task.copy()
            new_task.args = dict(src=local_file, dest=path, backup=backup, force=True)
            copy_action = self._shared_loader_obj.action_loader.get(
                action_name,
                task=new_task,
                connection=self._connection,
                play_context=self._play_context,
                loader=self._loader,
                templar=self._templar,
                shared_loader_obj=self._shared_loader_obj,
            )
            return copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(to_bytes(local_dir, errors="surrogate_or_strict"), ignore_errors=True)

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no effect since Ansible 2.5

        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        path = args["path"]
        try:
            if not HAS_CONFIGUPDATER:
                raise WslConfigError(MISSING_CONFIGUPDATER_MSG)
            if not self._is_windows() and path == WINDOWS_DEFAULT_PATH:
                raise WslConfigError(
                    "path must be set when the target is not Windows, e.g. /mnt/c/Users/<user>/.wslconfig "
                    "from inside a WSL distribution"
                )
            current = self._read_remote(path, task_vars)
            text, encoding = decode_wslconfig(current)
            merged = merge_wslconfig(text, wsl2=args["wsl2"], experimental=args["experimental"], remove=args["remove"])
        except WslConfigError as exc:
            result.update(failed=True, msg=to_text(exc), path=path)
            self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        created = current is None
        changed = created or merged["changed"]
        new_bytes = encode_wslconfig(merged["text"], encoding)
        result.update(
            changed=changed,
            path=path,
            created=created,
            encoding=encoding,
            changes=merged["changes"],
            settings=merged["settings"],
        )
        if merged["warnings"]:
            result["warnings"] = list(result.get("warnings", [])) + merged["warnings"]
        if self._task.diff and changed:
            result["diff"] = dict(
                before="" if created else text,
                after=merged["text"],
                before_header="%s (absent)" % path if created else path,
                after_header=path,
            )

        try:
            if changed and not self._task.check_mode:
                copy_result = self._write_remote(path, new_bytes, args["backup"], task_vars)
                if copy_result.get("failed"):
                    result.update(failed=True, msg="writing %s failed: %s" % (path, copy_result.get("msg", copy_result)))
                    return result
                if copy_result.get("backup_file"):
                    result["backup_file"] = copy_result["backup_file"]
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
