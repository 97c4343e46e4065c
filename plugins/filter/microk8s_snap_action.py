# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter microk8s_snap_action: `snap list microk8s` -> install, refresh or nothing."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._microk8s import MicroK8sOutputError, snap_action


def microk8s_snap_action(list_stdout, list_rc, channel, name="microk8s"):
    """See plugins/plugin_utils/_microk8s.py snap_action()."""
    try:
        return snap_action(list_stdout, int(list_rc), channel, name=name)
    except MicroK8sOutputError as exc:
        raise AnsibleFilterError("microk8s_snap_action: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node MicroK8s snap filter."""

    def filters(self):
        return {"microk8s_snap_action": microk8s_snap_action}
