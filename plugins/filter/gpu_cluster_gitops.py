# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_cluster_gitops: node plan + render mode's files -> the same plus Argo CD, node label and kind files."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gitops import GitOpsError, add_to_render
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster import HEADER
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster_yaml import ManifestYamlError, manifest_yaml


def gpu_cluster_gitops(plan, rendered, options):
    """See plugins/plugin_utils/_gitops.py add_to_render(): ``rendered`` is gpu_cluster_render_files' result."""
    try:
        return add_to_render(plan, rendered, options, manifest_yaml, HEADER)
    except (GitOpsError, ManifestYamlError, KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError("gpu_cluster_gitops: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node GitOps filters."""

    def filters(self):
        return {"gpu_cluster_gitops": gpu_cluster_gitops}
