# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter wsl_version: ``wsl.exe --version`` output to a dict of component versions."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._wsl_list import (
    WslOutputError,
    parse_wsl_version,
)


def wsl_version(value):
    """Parse ``wsl --version`` output; every field is None when no version is printed."""
    try:
        return parse_wsl_version(value)
    except WslOutputError as exc:
        raise AnsibleFilterError("wsl_version: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node WSL filters."""

    def filters(self):
        return {"wsl_version": wsl_version}
