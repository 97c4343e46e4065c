# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter doctor_plugin_reads: the objects to read for each device plugin (GPU doctor)."""

from __future__ import annotations

from collections.abc import Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import plugin_reads, to_plain


def doctor_plugin_reads(plugins):
    """doctor_device_plugins output -> list of k8s_info parameters (kind, namespace, name / field_selectors)."""
    if plugins is None:
        return []
    if not isinstance(plugins, Sequence) or isinstance(plugins, (str, bytes)):
        raise AnsibleFilterError("doctor_plugin_reads: expects the list doctor_device_plugins returns, got %s"
                                 % type(plugins).__name__)
    return plugin_reads([p for p in to_plain(plugins) if isinstance(p, dict) and p.get("namespace")])


class FilterModule:
    """homelab.gpu_node doctor filters."""

    def filters(self):
        return {"doctor_plugin_reads": doctor_plugin_reads}
