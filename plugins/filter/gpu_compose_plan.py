# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_compose_plan: GPU facts + Docker probes -> the compose dev container plan."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_compose import GpuComposeError, plan


def gpu_compose_plan(nvidia, docker_version="", docker_runtimes="", **kwargs):
    """See plugins/plugin_utils/_gpu_compose.py plan()."""
    try:
        return plan(nvidia, docker_version, docker_runtimes, **kwargs)
    except (GpuComposeError, TypeError) as exc:
        raise AnsibleFilterError("gpu_compose_plan: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node compose filters."""

    def filters(self):
        return {"gpu_compose_plan": gpu_compose_plan}
