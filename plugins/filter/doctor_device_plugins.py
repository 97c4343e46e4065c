# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter doctor_device_plugins: find the NVIDIA device plugin among DaemonSets (GPU doctor)."""

from __future__ import annotations

from collections.abc import Sequence

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import find_device_plugins, to_plain


def doctor_device_plugins(daemonsets):
    """DaemonSet objects (k8s_info resources) -> list of device plugin descriptions."""
    if daemonsets is None:
        return []
    if not isinstance(daemonsets, Sequence) or isinstance(daemonsets, (str, bytes)):
        raise AnsibleFilterError("doctor_device_plugins: expects a list of DaemonSet objects, got %s"
                                 % type(daemonsets).__name__)
    return find_device_plugins([d for d in to_plain(daemonsets) if isinstance(d, dict)])


class FilterModule:
    """homelab.gpu_node doctor filters."""

    def filters(self):
        return {"doctor_device_plugins": doctor_device_plugins}
