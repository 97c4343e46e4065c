# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter doctor_tables: the GPU doctor report -> fixed-width tables, one per node plus the cluster."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import format_tables, to_plain


def doctor_tables(report, width=120):
    """``[{name, lines}]`` for ansible.builtin.debug."""
    if not isinstance(report, Mapping):
        raise AnsibleFilterError("doctor_tables: expects the doctor_report dict, got %s" % type(report).__name__)
    try:
        width = int(width)
    except (TypeError, ValueError):
        raise AnsibleFilterError("doctor_tables: width must be an integer, got %r" % (width,))
    try:
        return format_tables(to_plain(report), width)
    except (KeyError, TypeError) as exc:
        raise AnsibleFilterError("doctor_tables: not a doctor_report (%s)" % exc)


class FilterModule:
    """homelab.gpu_node doctor filters."""

    def filters(self):
        return {"doctor_tables": doctor_tables}
