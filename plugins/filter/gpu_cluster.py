# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The gpu_cluster role's filters: thin wrappers of plugins/plugin_utils/_gpu_cluster.py (controller only)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import CRI_PLUGIN
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _gpu_cluster as gc
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._doctor_cluster import to_plain
from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_cluster_yaml import ManifestYamlError, manifest_yaml

# Host variables the plan reads from each GPU node.
HOST_VARS = ("cluster_join_node_name", "gpu_cluster_node_extra_labels", "gpu_cluster_node_extra_taints")


def _host_facts(hostvars, host):
    try:
        facts = hostvars[host].get("ansible_facts") or {}
    except (KeyError, TypeError):
        facts = {}
    return dict(facts) if isinstance(facts, Mapping) else {}


def gpu_cluster_hosts(group, hostvars, gathered=None):
    """See plugin_utils/_gpu_cluster.py select_hosts(); ``gathered``: the fact gathering loop's results."""
    unreachable = dict((r.get("item"), r.get("msg", "")) for r in (gathered or {}).get("results") or []
                       if r.get("unreachable"))
    facts = dict((h, _host_facts(hostvars, h)) for h in group or [])
    return gc.select_hosts(group, facts, unreachable)


def gpu_cluster_plan(device_plugin, hosts, hostvars, settings):
    """See plugin_utils/_gpu_cluster.py plan(); adds the input problems, the output lines and the namespace."""
    host_vars = {}
    for host in hosts["gpu_hosts"]:
        hv = hostvars[host]
        facts = _host_facts(hostvars, host)
        host_vars[host] = dict((k, hv.get(k)) for k in HOST_VARS)
        host_vars[host].update(nvidia=facts.get("nvidia") or {}, nodename=facts.get("nodename") or "")
    try:
        out = gc.plan(device_plugin, hosts, host_vars, settings)
    except (ValueError, TypeError, KeyError) as exc:
        raise AnsibleFilterError("gpu_cluster_plan: %s" % exc) from exc
    out["problems"] = gc.input_problems(settings, hosts, settings.get("namespace_problems") or []) + out["problems"]
    out["lines"] = gc.plan_lines(out["nodes"])
    out["namespace"] = settings.get("namespace")
    # containerd 2.x's CRI table (Talos' machine config patch, templates/extras.yaml.j2)
    out["cri_plugin_v3"] = CRI_PLUGIN[3]
    return out


def gpu_cluster_apply_plan(manifests, reads, nodes_plan, settings, check_mode=False):
    """See plugin_utils/_gpu_cluster.py apply_plan(); ``reads``: the k8s_info loop's results by query name."""
    by_name = dict((r["item"]["name"], r.get("resources") if not r.get("skipped") else None)
                   for r in (reads or {}).get("results") or [])
    crds = dict((name[4:], res) for name, res in by_name.items() if name.startswith("crd:") and res is not None)
    api = {"runtime_class": by_name.get("runtime_class"), "priority_classes": by_name.get("priority_classes"),
           "crds": crds, "namespace": by_name.get("namespace"), "nodes": by_name.get("nodes")}
    return gc.apply_plan(list(manifests), api, nodes_plan, settings, bool(check_mode))


def gpu_cluster_changed_objects(objects, result):
    """See plugin_utils/_gpu_cluster.py changed_objects()."""
    return gc.changed_objects(list(objects), result)


def gpu_cluster_render_files(manifests, extras, nodes_plan, settings):
    """See plugin_utils/_gpu_cluster.py render_plan(); YAML by plugin_utils/_gpu_cluster_yaml.py."""
    try:
        return gc.render_plan(list(manifests), extras, nodes_plan, settings, manifest_yaml)
    except ManifestYamlError as exc:
        raise AnsibleFilterError("gpu_cluster_render_files: %s" % exc) from exc


def _read(result):
    """The objects a registered k8s_info run read; None when it did not run (undefined, None, skipped)."""
    if not isinstance(result, Mapping) or result.get("skipped") or "resources" not in result:
        return None
    return list(result.get("resources") or [])


def gpu_cluster_verify(nodes_plan, settings, daemonset=None, nodes=None, diagnosis=None):
    """See plugin_utils/_gpu_cluster.py verify_view(); the last three: registered k8s_info results.

    ``diagnosis``: the loop reading Nodes, the plugin's Pods and Events (items carry ``kind``).
    """
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError("gpu_cluster_verify: settings must be a dict, got %s" % type(settings).__name__)
    diag = None
    if isinstance(diagnosis, Mapping) and not diagnosis.get("skipped") and diagnosis.get("results"):
        by_kind = dict(((r.get("item") or {}).get("kind"), _read(r)) for r in diagnosis["results"])
        diag = {"nodes": by_kind.get("Node"), "pods": by_kind.get("Pod"), "events": by_kind.get("Event")}
    try:
        return gc.verify_view(to_plain(list(nodes_plan)), to_plain(dict(settings)), to_plain(_read(daemonset)),
                              to_plain(_read(nodes)), to_plain(diag))
    except (TypeError, ValueError, KeyError) as exc:
        raise AnsibleFilterError("gpu_cluster_verify: %s" % exc) from exc


def gpu_cluster_smoke_pods(report_nodes, nodes, settings):
    """See plugin_utils/_gpu_cluster.py smoke_pods()."""
    return gc.smoke_pods(report_nodes, nodes, settings)


def gpu_cluster_smoke_report(pods, seen, logs, events, timeout):
    """See plugin_utils/_gpu_cluster.py smoke_report(); adds ``ok`` and the output ``lines``."""
    report = gc.smoke_report(pods, (seen or {}).get("resources") or [], (logs or {}).get("results") or [],
                             (events or {}).get("resources") or [], timeout)
    return {"nodes": report, "ok": all(r["ok"] for r in report), "lines": gc.smoke_lines(report)}


class FilterModule:
    """homelab.gpu_node gpu_cluster filters."""

    def filters(self):
        return {
            "gpu_cluster_hosts": gpu_cluster_hosts,
            "gpu_cluster_plan": gpu_cluster_plan,
            "gpu_cluster_apply_plan": gpu_cluster_apply_plan,
            "gpu_cluster_changed_objects": gpu_cluster_changed_objects,
            "gpu_cluster_render_files": gpu_cluster_render_files,
            "gpu_cluster_verify": gpu_cluster_verify,
            "gpu_cluster_smoke_pods": gpu_cluster_smoke_pods,
            "gpu_cluster_smoke_report": gpu_cluster_smoke_report,
        }
