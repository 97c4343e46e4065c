# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter wsl_list: ``wsl.exe --list --verbose`` output to a list of distributions."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wsl_list import (
    WslOutputError,
    parse_wsl_list_verbose,
)


def wsl_list(value):
    """Parse ``wsl --list --verbose`` output (UTF-16LE bytes, NUL-riddled text or UTF-8)."""
    try:
        return parse_wsl_list_verbose(value)
    except WslOutputError as exc:
        raise AnsibleFilterError("wsl_list: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node WSL filters."""

    def filters(self):
        return {"wsl_list": wsl_list}
