# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_cluster_gitops: node plan + rendered objects -> Argo CD, node label and kind files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gitops import GitOpsError, render


def gpu_cluster_gitops(plan, resources, options):
    """See plugins/plugin_utils/_gitops.py render()."""
    try:
        return render(plan, resources, options)
    except (GitOpsError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("gpu_cluster_gitops: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node GitOps filters."""

    def filters(self):
        return {"gpu_cluster_gitops": gpu_cluster_gitops}
