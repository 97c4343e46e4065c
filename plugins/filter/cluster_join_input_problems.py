# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters cluster_join_input_problems and k8s_namespace_problems: input checks, one sentence per problem."""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._join_input import (
    join_input_problems,
    namespace_problem,
)


def cluster_join_input_problems(inputs):
    return join_input_problems(dict(inputs))


def k8s_namespace_problems(names):
    """``names``: {variable: namespace}; the problems of those that are not namespace names."""
    return [problem for problem in (namespace_problem(k, v) for k, v in dict(names).items()) if problem]


class FilterModule:
    """homelab.gpu_node input checks."""

    def filters(self):
        return {"cluster_join_input_problems": cluster_join_input_problems,
                "k8s_namespace_problems": k8s_namespace_problems}
