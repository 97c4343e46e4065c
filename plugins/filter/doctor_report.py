# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter doctor_report: node results + cluster objects -> the GPU doctor report (runs on the controller)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import (
    build_report,
    to_plain,
    windows_input,
)

_MODES = ("auto", "always", "never")


def doctor_report(node_inputs, cluster=None, runtime_class="nvidia", mode="auto", toolkit_matrix=None):
    """Build the report; see the documentation sidecar for the input shapes."""
    if not isinstance(node_inputs, Sequence) or isinstance(node_inputs, (str, bytes)):
        raise AnsibleFilterError("doctor_report: expects a list of node inputs, got %s" % type(node_inputs).__name__)
    if cluster is not None and not isinstance(cluster, Mapping):
        raise AnsibleFilterError("doctor_report: cluster must be a dict, got %s" % type(cluster).__name__)
    mode = str(mode)
    if mode not in _MODES:
        raise AnsibleFilterError("doctor_report: mode must be one of %s, got %s" % (", ".join(_MODES), mode))
    inputs = [item for item in to_plain(node_inputs) if isinstance(item, dict)]
    options = {"runtime_class": str(runtime_class or "nvidia"), "cluster": mode, "parse_yaml": yaml.safe_load}
    if toolkit_matrix is not None:
        if not isinstance(toolkit_matrix, Mapping):
            raise AnsibleFilterError("doctor_report: toolkit_matrix must be the version matrix's toolkit entry (a dict)")
        options["toolkit_matrix"] = to_plain(toolkit_matrix)
    for item in inputs:
        if isinstance(item.get("windows"), dict):
            item["windows"] = windows_input(item["windows"])
    return build_report(inputs, to_plain(cluster or {}), options)


class FilterModule:
    """homelab.gpu_node doctor filters."""

    def filters(self):
        return {"doctor_report": doctor_report}
