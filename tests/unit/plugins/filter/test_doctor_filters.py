# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/filter/doctor_device_plugins.py, doctor_report.py and doctor_tables.py.

The logic is tested in tests/unit/plugins/plugin_utils/test__doctor_cluster.py; these tests cover the
filter layer: input checks, plain-data conversion, the YAML parser handed to the logic. The
filters inside the real playbook run in molecule/doctor_healthy_and_broken_nodes (against an
EMULATED read-only API).
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter import doctor_device_plugins as dp_filter
from ansible_collections.homelab.gpu_node.plugins.filter import doctor_report as report_filter
from ansible_collections.homelab.gpu_node.plugins.filter import doctor_tables as tables_filter
from ansible_collections.homelab.gpu_node.tests.unit.plugins.plugin_utils import test__doctor_cluster as cases


def test_filter_maps():
    assert set(dp_filter.FilterModule().filters()) == {"doctor_device_plugins"}
    assert set(report_filter.FilterModule().filters()) == {"doctor_report"}
    assert set(tables_filter.FilterModule().filters()) == {"doctor_tables"}


def test_device_plugins_filter():
    found = dp_filter.doctor_device_plugins((cases.gfd_ds(), cases.plugin_ds(), "junk"))
    assert [p["name"] for p in found] == ["nvidia-device-plugin"]
    assert dp_filter.doctor_device_plugins(None) == []
    with pytest.raises(AnsibleFilterError, match="expects a list of DaemonSet objects"):
        dp_filter.doctor_device_plugins("nope")


def test_report_and_tables_filters(smi_capture):
    inputs, objects = cases.world(smi_capture)
    objects["config_maps"][0]["data"]["rtx-4090"] = cases.TS4.replace("replicas: 4", "replicas: 1")
    rep = report_filter.doctor_report(inputs, objects, runtime_class="nvidia", mode="auto")
    assert rep["ok"] is False
    assert "number of replicas must be >= 2" in [c for c in rep["nodes"]["gpu-a"]["checks"]
                                                 if c["id"] == "plugin_config"][0]["detail"]
    tables = tables_filter.doctor_tables(rep, 110)
    assert [t["name"] for t in tables] == ["cluster", "gpu-a", "wsl-b"]
    assert any(line.startswith("FAIL  plugin_config") for line in tables[1]["lines"])


@pytest.mark.parametrize("args, message", [
    (("x",), "expects a list of node inputs"),
    (([], "x"), "cluster must be a dict"),
    (([], {}, "nvidia", "sometimes"), "mode must be one of auto, always, never"),
], ids=["inputs", "cluster", "mode"])
def test_report_filter_errors(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        report_filter.doctor_report(*args)


def test_tables_filter_errors():
    with pytest.raises(AnsibleFilterError, match="expects the doctor_report dict"):
        tables_filter.doctor_tables([])
    with pytest.raises(AnsibleFilterError, match="width must be an integer"):
        tables_filter.doctor_tables({}, "wide")
    with pytest.raises(AnsibleFilterError, match="not a doctor_report"):
        tables_filter.doctor_tables({"cluster": {}, "nodes": {"h": {}}})


def test_plugin_reads_filter():
    from ansible_collections.homelab.gpu_node.plugins.filter import doctor_plugin_reads as reads_filter
    plugins = dp_filter.doctor_device_plugins([cases.plugin_ds()])
    assert reads_filter.doctor_plugin_reads(plugins) == [
        {"kind": "ConfigMap", "namespace": cases.NS, "name": cases.CM},
        {"kind": "Event", "namespace": cases.NS, "field_selectors": ["involvedObject.kind=Pod", "type=Warning"]}]
    no_cm = dict(plugins[0], config_map="")
    assert [r["kind"] for r in reads_filter.doctor_plugin_reads([no_cm])] == ["Event"]
    assert reads_filter.doctor_plugin_reads(None) == []
    with pytest.raises(AnsibleFilterError, match="expects the list"):
        reads_filter.doctor_plugin_reads("nope")
    assert set(reads_filter.FilterModule().filters()) == {"doctor_plugin_reads"}
