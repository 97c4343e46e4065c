# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_runtime_plan: what gpu_runtime does on a node, and every problem at once (plugin_utils)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_runtime_input import gpu_runtime_plan as _plan


def gpu_runtime_plan(inputs):
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("gpu_runtime_plan expects a mapping, got %s" % type(inputs).__name__)
    return _plan(dict(inputs))


class FilterModule:
    """homelab.gpu_node gpu_runtime plan."""

    def filters(self):
        return {"gpu_runtime_plan": gpu_runtime_plan}
