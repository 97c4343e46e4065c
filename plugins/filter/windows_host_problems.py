# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter windows_host_problems: every problem with roles/windows_host's settings, at once."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._windows_host_input import windows_host_problems as _problems


def windows_host_problems(settings):
    """Every problem with the windows_host settings dict."""
    if not isinstance(settings, dict):
        raise AnsibleFilterError("windows_host_problems expects a dict of windows_host_* settings")
    return _problems(settings)


class FilterModule:
    """homelab.gpu_node windows_host filters."""

    def filters(self):
        return {"windows_host_problems": windows_host_problems}
