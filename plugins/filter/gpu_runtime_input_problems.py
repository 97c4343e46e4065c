# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_runtime_input_problems: every problem with gpu_runtime's input at once, one sentence each."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_runtime_input import gpu_runtime_problems


def gpu_runtime_input_problems(inputs):
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("gpu_runtime_input_problems expects a mapping, got %s" % type(inputs).__name__)
    return gpu_runtime_problems(dict(inputs))


class FilterModule:
    """homelab.gpu_node gpu_runtime input checks."""

    def filters(self):
        return {"gpu_runtime_input_problems": gpu_runtime_input_problems}
