# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter cluster_join_plan: cluster_join's input checked (every problem at once) and what the node gets."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._join_input import join_plan


def cluster_join_plan(inputs):
    if not isinstance(inputs, dict):
        raise AnsibleFilterError("cluster_join_plan expects a mapping of cluster_join's settings")
    try:
        return join_plan(dict(inputs))
    except OSError as exc:
        raise AnsibleFilterError("cluster_join_plan: cannot read the airgap artifact: %s" % exc)


class FilterModule:
    """homelab.gpu_node cluster_join plan."""

    def filters(self):
        return {"cluster_join_plan": cluster_join_plan}
