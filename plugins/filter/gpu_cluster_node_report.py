# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""Compare what each GPU node advertises with the plan, and name the likely cause when it differs.

Used by the gpu_cluster role after it applied the device plugin. Input is plain data read with
kubernetes.core.k8s_info; nothing here talks to the cluster. The rules (toleration matching, pod
states, runtime errors) are the GPU doctor's: plugin_utils/_doctor_cluster.verify_report.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import to_plain, verify_report


def node_report(plan, nodes, plugin_pods=None, events=None, runtime_class=None, plugin=None):
    """See :func:`verify_report` and the documentation sidecar."""
    if not isinstance(plan, (list, tuple)):
        raise AnsibleFilterError("gpu_cluster_node_report: plan must be a list, got %s" % type(plan).__name__)
    plain = [to_plain(x) if x is not None else None for x in (nodes, plugin_pods, events, runtime_class, plugin)]
    return verify_report(to_plain(list(plan)), *plain)


class FilterModule(object):
    """Node capacity report filter."""

    def filters(self):
        return {"gpu_cluster_node_report": node_report}
