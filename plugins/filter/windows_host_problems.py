# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters windows_host_problems (every problem with roles/windows_host's settings, at once) and
windows_host_wsl_version (the WSL version the desktop runs and whether it will do)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._windows_host_input import (
    windows_host_problems as _problems,
    wsl_version_check as _wsl_version_check,
)


def windows_host_problems(settings):
    """Every problem with the windows_host settings dict."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("windows_host_problems expects a dict of windows_host_* settings")
    return _problems(settings)


def windows_host_wsl_version(result, settings, host):
    """The WSL version of a registered ``wsl.exe --version`` run and the problems with it."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("windows_host_wsl_version expects a dict of windows_host_* settings")
    return _wsl_version_check(dict(result) if isinstance(result, Mapping) else {}, settings, str(host))


class FilterModule:
    """homelab.gpu_node windows_host filters."""

    def filters(self):
        return {"windows_host_problems": windows_host_problems, "windows_host_wsl_version": windows_host_wsl_version}
