# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter cluster_join_input_problems: cluster_join's input checked, one sentence per problem."""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._join_input import join_input_problems


def cluster_join_input_problems(inputs):
    return join_input_problems(dict(inputs))


class FilterModule:
    """homelab.gpu_node cluster_join input checks."""

    def filters(self):
        return {"cluster_join_input_problems": cluster_join_input_problems}
