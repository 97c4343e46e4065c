# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filter gpu_time_slicing_profiles: GPU nodes' facts -> per-model time-slicing entries derived from VRAM."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_profiles import (
    MAX_REPLICAS,
    SHARE_GIB,
    GpuProfileError,
    profiles,
)


def gpu_time_slicing_profiles(hosts_gpus, explicit=None, share_gib=SHARE_GIB, max_replicas=MAX_REPLICAS):
    """See plugins/plugin_utils/_gpu_profiles.py profiles()."""
    try:
        return profiles(hosts_gpus, explicit, int(share_gib), int(max_replicas))
    except (GpuProfileError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("gpu_time_slicing_profiles: %s" % exc) from exc


class FilterModule:
    """homelab.gpu_node GPU profile filter."""

    def filters(self):
        return {"gpu_time_slicing_profiles": gpu_time_slicing_profiles}
