# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The few host facts the collection's roles read, gathered by ansible's own fact collectors.

``nvidia_smi_facts`` with ``host=true`` returns them next to the GPU facts, so that a role needs
no separate ``setup`` call (one module round trip per host less on every run). The values are
those ``setup`` (``gather_subset: min``) gives, because the same collectors compute them; only
the subsets the roles read are collected: platform (kernel, architecture, nodename),
distribution (os_family, distribution, versions), python (version), service_mgr, pkg_mgr.
"""

from __future__ import annotations

from ansible.module_utils.facts import default_collectors
from ansible.module_utils.facts.ansible_collector import get_ansible_collector
from ansible.module_utils.facts.namespace import PrefixFactNamespace

SUBSETS = frozenset(("platform", "distribution", "python", "service_mgr", "pkg_mgr"))

# setup's bookkeeping: ``module_setup`` would make later plays with gathering=smart skip their
# own fact gathering (their facts were never all collected), so it is never returned
_BOOKKEEPING = ("module_setup", "gather_subset")


def strip_namespace(facts, prefix="ansible_"):
    """Collected facts (``ansible_kernel``) as ``ansible_facts`` keys (``kernel``), without setup's bookkeeping."""
    out = {}
    for key, value in facts.items():
        name = key[len(prefix):] if key.startswith(prefix) else key
        if name not in _BOOKKEEPING:
            out[name] = value
    return out


def gather_host_facts(module, timeout=10):
    """The host facts of :data:`SUBSETS`, keyed as in ``ansible_facts`` (``kernel``, ``os_family``, ...)."""
    collector = get_ansible_collector(all_collector_classes=default_collectors.collectors,
                                      namespace=PrefixFactNamespace(namespace_name="ansible", prefix="ansible_"),
                                      filter_spec=[], gather_subset=["!all"], gather_timeout=timeout,
                                      minimal_gather_subset=SUBSETS)
    return strip_namespace(collector.collect(module=module))
