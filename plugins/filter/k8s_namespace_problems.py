# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter k8s_namespace_problems: namespaces Kubernetes would refuse, one sentence each."""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._join_input import namespace_problem


def k8s_namespace_problems(names):
    """``names``: {variable: namespace}; the problems of those that are not namespace names."""
    return [problem for problem in (namespace_problem(k, v) for k, v in dict(names).items()) if problem]


class FilterModule:
    """homelab.gpu_node namespace check."""

    def filters(self):
        return {"k8s_namespace_problems": k8s_namespace_problems}
