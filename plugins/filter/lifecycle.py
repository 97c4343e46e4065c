# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Filters lifecycle_gpu_pods, lifecycle_drain_blockers (give the GPU back, upgrade) and
lifecycle_packages_to_remove (uninstall): run on the controller."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._lifecycle import (
    LifecycleError,
    blocker_lines,
    drain_blockers,
    gpu_pods,
    packages_to_remove,
)


def lifecycle_gpu_pods(pods, node):
    """The pods on a node that hold a GPU share (see the documentation sidecar)."""
    try:
        return gpu_pods(list(pods or []), str(node))
    except (LifecycleError, TypeError) as exc:
        raise AnsibleFilterError("lifecycle_gpu_pods: %s" % exc)


def lifecycle_drain_blockers(pods, node, pdbs):
    """PodDisruptionBudgets that keep pods on a node from being evicted, with one line each."""
    try:
        blockers = drain_blockers(list(pods or []), str(node), list(pdbs or []))
    except (LifecycleError, TypeError) as exc:
        raise AnsibleFilterError("lifecycle_drain_blockers: %s" % exc)
    return {"blockers": blockers, "lines": blocker_lines(str(node), blockers)}


def lifecycle_packages_to_remove(record, installed):
    """The recorded packages that are installed now."""
    try:
        return packages_to_remove(record, installed)
    except (LifecycleError, TypeError) as exc:
        raise AnsibleFilterError("lifecycle_packages_to_remove: %s" % exc)


class FilterModule:
    """homelab.gpu_node lifecycle filters."""

    def filters(self):
        return {"lifecycle_gpu_pods": lifecycle_gpu_pods, "lifecycle_drain_blockers": lifecycle_drain_blockers,
                "lifecycle_packages_to_remove": lifecycle_packages_to_remove}
