# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive nvidia_device_plugin_config.main() through AnsibleModule (core 2.19 patch_module_args)."""

from __future__ import annotations

from unittest import mock

import pytest
import yaml

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules import module_harness as harness

from ansible_collections.homelab.gpu_node.plugins.modules import nvidia_device_plugin_config as module
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.device_plugin_test_cases import (
    A2,
    RTX3090_X2,
    SEED001,
    entry,
    gpu,
    mps,
    ts,
)


@pytest.fixture
def run():
    """Run main() with args; return (kind, result, warnings)."""
    def _run(args):
        warnings = []
        with mock.patch.multiple(basic.AnsibleModule, exit_json=harness.exit_json, fail_json=harness.fail_json), \
                mock.patch.object(basic.AnsibleModule, "warn", lambda self, w: warnings.append(w)), \
                patch_module_args(args):
            try:
                module.main()
            except harness.ExitJson as exc:
                return "exit", exc.args[0], warnings
            except harness.FailJson as exc:
                return "fail", exc.args[0], warnings
        raise AssertionError("main() returned without exit_json/fail_json")
    return _run


def test_seed001_config(run):
    kind, result, warnings = run({"config": SEED001, "gpus": RTX3090_X2})
    assert kind == "exit"
    assert result["changed"] is False
    assert result["capacity"] == {"nvidia.com/gpu": 8}
    assert result["labels"]["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-3090-SHARED"
    assert result["sharing_strategy"] == "time-slicing"
    assert result["mig_strategy"] == "none"
    assert yaml.safe_load(result["config_yaml"]) == result["config"]
    assert any("failRequestsGreaterThanOne is false" in w for w in warnings)


def test_time_slicing_shorthand(run):
    kind, result, _w = run({"time_slicing": {"replicas": 2, "fail_requests_greater_than_one": True}, "gpus": A2})
    assert kind == "exit"
    assert result["capacity"] == {"nvidia.com/gpu": 2}
    assert result["config"]["sharing"]["timeSlicing"]["failRequestsGreaterThanOne"] is True


def test_shorthand_resources_devices_raw(run):
    kind, result, warnings = run({"time_slicing": {"replicas": 3, "resources": [
        {"name": "gpu", "devices": [0, "GPU-00000001-1111-2222-3333-000000000001"]}]}, "gpus": RTX3090_X2})
    assert kind == "exit"
    assert result["capacity"] == {"nvidia.com/gpu": 6}
    assert any("Customizing the 'devices' field" in w for w in warnings)


def test_check_mode_same_result(run):
    args = {"config": ts(entry(replicas=3), renameByDefault=True), "gpus": RTX3090_X2}
    normal = run(args)
    check = run(dict(args, _ansible_check_mode=True))
    assert normal[0] == check[0] == "exit"
    assert normal[1] == check[1]
    assert normal[1]["capacity"] == {"nvidia.com/gpu.shared": 6}


@pytest.mark.parametrize("args, expected", [
    ({"config": ts(entry(replicas=1))}, "sharing.timeSlicing.resources[0]: number of replicas must be >= 2"),
    ({"config": {"version": "v2"}}, "version: unknown version: v2"),
    ({"config": mps(entry(replicas=49)), "gpus": RTX3090_X2},
     "invalid MPS configuration: invalid device maximum allowed replicas exceeded: 49 > 48"),
    ({"config": mps(entry(replicas=4)), "mig_strategy": "mixed"},
     "using --mig-strategy=mixed is not supported with MPS"),
    ({"time_slicing": {"replicas": 0}}, "number of replicas must be >= 2"),
    ({"config": {}, "time_slicing": {"replicas": 2}}, "parameters are mutually exclusive: config|time_slicing"),
    ({"gpus": A2}, "one of the following is required: config, time_slicing, per_model"),
    ({"config": {}, "mig_strategy": "MIXED"}, "value of mig_strategy must be one of: none, single, mixed"),
    ({"time_slicing": {"replicas": 2, "resources": [{"devices": "all"}]}}, "missing required arguments: name"),
    ({"config": {}, "hosts_gpus": {"a": A2}}, "missing parameter(s) required by 'hosts_gpus': per_model"),
    ({"per_model": [{"model": "NVIDIA A2"}]}, "one of the following is required: config, time_slicing"),
])
def test_failures(run, args, expected):
    kind, result, _w = run(args)
    assert kind == "fail"
    assert expected in result["msg"]
    assert "Traceback" not in result["msg"]


def test_per_model(run):
    kind, result, _w = run({
        "per_model": [
            {"model": "NVIDIA GeForce RTX 3090", "time_slicing": {"replicas": 4}},
            {"model": "NVIDIA A2", "config": ts(entry(replicas=2))},
        ],
        "hosts_gpus": {"n1": RTX3090_X2, "n2": {"wsl": False, "gpus": A2},
                       "n3": {"wsl": True, "gpus": [gpu(0), gpu(1)]}},
    })
    assert kind == "exit"
    assert sorted(result["config_map"]) == ["nvidia-a2", "nvidia-geforce-rtx-3090"]
    assert result["node_labels"]["n2"] == {"nvidia.com/device-plugin.config": "nvidia-a2"}
    assert result["capacity_by_host"] == {"n1": {"nvidia.com/gpu": 8}, "n2": {"nvidia.com/gpu": 2},
                                          "n3": {"nvidia.com/gpu": 4}}
    assert "config" not in result
    assert result["labels_by_host"]["n1"]["nvidia.com/gpu.replicas"] == "4"


def test_per_model_with_default(run):
    kind, result, _w = run({
        "time_slicing": {"replicas": 2},
        "per_model": [{"model": "NVIDIA GeForce RTX 3090", "time_slicing": {"replicas": 4}}],
        "hosts_gpus": {"n2": A2},
    })
    assert kind == "exit"
    assert sorted(result["config_map"]) == ["default", "nvidia-geforce-rtx-3090"]
    assert result["config_map"]["default"] == result["config_yaml"]
    assert result["node_labels"] == {"n2": {"nvidia.com/device-plugin.config": "default"}}


def test_argument_spec_matches_documentation():
    doc = yaml.safe_load(module.DOCUMENTATION)

    def compare(spec, options, where):
        assert sorted(spec) == sorted(options), where
        for name, opt in spec.items():
            d = options[name]
            assert d["type"] == opt["type"], (where, name)
            assert d.get("elements") == opt.get("elements"), (where, name)
            assert d.get("choices") == opt.get("choices"), (where, name)
            assert d.get("default") == opt.get("default"), (where, name)
            assert bool(d.get("required")) == bool(opt.get("required")), (where, name)
            if "options" in opt:
                compare(opt["options"], d["suboptions"], where + "." + name)

    compare(module.argument_spec(), doc["options"], "options")
    assert doc["attributes"]["check_mode"]["support"] == "full"
