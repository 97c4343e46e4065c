# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter microk8s_gpu_addon: `microk8s status --format yaml` -> the GPU addon to enable and how."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._microk8s import MicroK8sOutputError, gpu_addon


def microk8s_gpu_addon(status_text, channel, driver="host", extra_args=None):
    """See plugins/plugin_utils/_microk8s.py gpu_addon()."""
    try:
        return gpu_addon(status_text, channel, driver=driver, extra_args=extra_args)
    except MicroK8sOutputError as exc:
        raise AnsibleFilterError("microk8s_gpu_addon: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node MicroK8s GPU addon filter."""

    def filters(self):
        return {"microk8s_gpu_addon": microk8s_gpu_addon}
