# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
from __future__ import annotations

DOCUMENTATION = r"""
name: version_matrix
author:
  - homelab.gpu_node contributors (@homelab)
version_added: 0.1.0
short_description: Read the collection's version matrix (pinned versions, known-bad releases)
description:
  - Returns values from the collection's one version matrix, C(meta/version_matrix.yml), which the roles'
    defaults read their pins from (C(gpu_runtime_toolkit_version), C(cluster_join_k3s_version),
    C(gpu_cluster_device_plugin_version), ...).
  - Each term is a component name (C(k3s), C(nvidia_container_toolkit), C(nvidia_device_plugin),
    C(gpu_feature_discovery), C(dcgm_exporter), C(gpu_operator)); the result is its O(field).
options:
  _terms:
    description: Component names.
    required: true
    type: list
    elements: str
  field:
    description:
      - What to return for each component. C(version) is the pinned version (a string); C(known_bad) the list of
        known-bad entries (id, versions or below, url, why); C(entry) the whole entry.
    type: str
    default: version
    choices: [version, known_bad, entry]
"""

EXAMPLES = r"""
- name: Show the pinned NVIDIA container toolkit
  ansible.builtin.debug:
    msg: "{{ lookup('homelab.gpu_node.version_matrix', 'nvidia_container_toolkit') }}"

- name: List the known-bad toolkit releases
  ansible.builtin.debug:
    msg: "{{ query('homelab.gpu_node.version_matrix', 'nvidia_container_toolkit', field='known_bad') | first }}"
"""

RETURN = r"""
_raw:
  description: One value per term (a version string, a list of known-bad entries, or the whole entry).
  type: list
  elements: raw
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _versions


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        field = self.get_option("field")
        try:
            matrix = _versions.load()
            entries = [_versions.component(str(term), matrix) for term in terms]
        except _versions.VersionMatrixError as exc:
            raise AnsibleLookupError(str(exc))
        if field == "version":
            return [str(entry["version"]) for entry in entries]
        if field == "known_bad":
            return [list(entry.get("known_bad") or []) for entry in entries]
        return [dict(entry) for entry in entries]
