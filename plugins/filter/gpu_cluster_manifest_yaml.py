# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Filter gpu_cluster_manifest_yaml: byte-stable YAML for Kubernetes manifests (see plugin_utils/_gpu_cluster_yaml.py)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster_yaml import ManifestYamlError
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster_yaml import manifest_yaml as _manifest_yaml


def manifest_yaml(data, header=None):
    """Dump one manifest (dict) or several (list of dicts) as YAML documents, ``header`` as comment lines first."""
    try:
        return _manifest_yaml(data, header)
    except ManifestYamlError as exc:
        raise AnsibleFilterError(str(exc)) from exc


class FilterModule(object):
    """Manifest YAML filter."""

    def filters(self):
        return {"gpu_cluster_manifest_yaml": manifest_yaml}
