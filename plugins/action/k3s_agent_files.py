# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Action plugin homelab.gpu_node.k3s_agent_files: the agent's files and, with binary_source, its binary.

Without ``binary_source`` the module runs as is. With it (a k3s binary on the controller, for
example an airgap artifact), the controller's file is checked against ``binary_sha256`` (the digest
is cached by the file's identity: plugin_utils/_file_digest.py) and the module compares the node's
binary with it. Only when the module answers ``binary_needed`` is the file sent to the node's
temporary directory and the module called again with it: a no-change run is one module call and
reads nothing on the controller. Documentation: plugins/modules/k3s_agent_files.py.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._file_digest import cached_sha256

MODULE = "homelab.gpu_node.k3s_agent_files"


def source_problem(source, expected, digest=cached_sha256):
    """Why ``source`` (a controller path) cannot be sent as the binary with sha256 ``expected``, or None."""
    if not expected:
        return "binary_source needs binary_sha256"
    try:
        actual = digest(source)
    except OSError as exc:
        return "cannot read binary_source %s on the controller: %s" % (source, to_text(exc))
    if actual != expected.lower():
        return ("binary_source %s has sha256 %s, binary_sha256 is %s: the file changed or is not the verified "
                "artifact; nothing was changed" % (source, actual, expected.lower()))
    return None


class ActionModule(ActionBase):
    # no temporary directory up front: it costs a round trip, and a no-change run sends nothing
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        if task_vars is None:
            task_vars = {}
        result = super(ActionModule, self).run(tmp, task_vars)
        del tmp  # no effect since Ansible 2.5
        args = dict(self._task.args)
        source = args.get("binary_source")
        try:
            if source:
                problem = source_problem(source, args.get("binary_sha256"))
                if problem:
                    result.update(failed=True, msg=problem)
                    return result
            reply = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
            if source and reply.get("binary_needed") and not reply.get("failed"):
                tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
                remote = self._connection._shell.join_path(tmpdir, "k3s-binary")
                self._transfer_file(source, remote)
                self._fixup_perms2((tmpdir, remote))
                args["binary_sent"] = remote
                reply = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        finally:
            if self._connection._shell.tmpdir:
                self._remove_tmp_path(self._connection._shell.tmpdir)
        result.update(reply)
        return result
