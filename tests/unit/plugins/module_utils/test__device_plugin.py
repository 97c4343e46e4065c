# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/module_utils/_device_plugin.py (cases in device_plugin_test_cases.py)."""

from __future__ import annotations

import copy
import os
import random

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _device_plugin as dp
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import DevicePluginConfigError

from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.device_plugin_test_cases import (
    A2,
    GPU,
    INVALID,
    MIXED_MODELS,
    RTX3090_X2,
    SEED001,
    SEED003_FIXED,
    VALID,
    entry,
    gpu,
    mps,
    ts,
)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
EXAMPLES = os.path.join(ROOT, "docs", "examples")


@pytest.mark.parametrize("config, gpus, mig_strategy, expected, path",
                         [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid(config, gpus, mig_strategy, expected, path):
    with pytest.raises(DevicePluginConfigError) as exc:
        dp.analyse(config=copy.deepcopy(config), gpus=copy.deepcopy(gpus), mig_strategy=mig_strategy)
    msg = str(exc.value)
    assert expected in msg
    assert msg.startswith(path), msg


@pytest.mark.parametrize("config, gpus, mig_strategy, wsl, capacity, labels, warnings",
                         [c[1:] for c in VALID], ids=[c[0] for c in VALID])
def test_valid(config, gpus, mig_strategy, wsl, capacity, labels, warnings):
    original = copy.deepcopy(config)
    result = dp.analyse(config=config, gpus=gpus, mig_strategy=mig_strategy, wsl=wsl)
    assert config == original, "the input must not be modified"
    assert result["capacity"] == capacity
    for key, value in labels.items():
        assert result["labels"].get(key) == value, (key, result["labels"])
    for text in warnings:
        assert any(text in w for w in result["warnings"]), (text, result["warnings"])
    if not warnings:
        assert not [w for w in result["warnings"] if "Ignoring" in w or "unknown key" in w], result["warnings"]
    # normalising is idempotent and the YAML reads back as the normalised config
    again, _warnings = dp.parse_config(yaml.safe_load(result["config_yaml"]))
    assert again == result["config"]
    assert dp.render_yaml(again) == result["config_yaml"]


def test_warnings_empty_for_a_clean_config():
    config = ts(entry(replicas=4), failRequestsGreaterThanOne=True)
    result = dp.analyse(config=config, gpus=RTX3090_X2)
    assert result["warnings"] == []
    assert result["sharing_strategy"] == "time-slicing"


def test_normalised_form():
    config = {"Version": "v1", "sharing": {"timeSlicing": {"renameByDefault": True, "resources": [
        {"replicas": 3.0, "devices": [0, "1"], "name": "gpu", "unknown": 1}]}},
        "flags": {"plugin": {"deviceIDStrategy": "index"}, "migStrategy": "none"}}
    normalised, warnings = dp.parse_config(config)
    assert list(normalised) == ["version", "flags", "sharing"]
    assert list(normalised["flags"]) == ["migStrategy", "plugin"]
    assert normalised["sharing"]["timeSlicing"]["resources"] == [
        {"name": GPU, "rename": GPU + ".shared", "devices": ["0", "1"], "replicas": 3}]
    assert any("resources[0].unknown: unknown key" in w for w in warnings)


def test_null_device_item_is_gpu_index_0():
    # json null into a uint64 is a no-op, so upstream reads [null] as device index 0
    normalised, _w = dp.parse_config(ts(entry(devices=[None, 3])))
    assert normalised["sharing"]["timeSlicing"]["resources"][0]["devices"] == ["0", "3"]


def test_unknown_keys_are_dropped_and_warned():
    normalised, warnings = dp.parse_config({"version": "v1", "sharing": {"timeslice": {}}, "extra": 1})
    assert normalised == {"version": "v1"}
    assert [w.split(":")[0] for w in warnings] == ["sharing.timeslice", "extra"]


def test_mps_defaults_fail_requests_to_true():
    normalised, _w = dp.parse_config(mps(entry(replicas=2)))
    assert normalised["sharing"]["mps"]["failRequestsGreaterThanOne"] is True
    normalised, _w = dp.parse_config(mps(entry(replicas=2), failRequestsGreaterThanOne=False))
    assert normalised["sharing"]["mps"]["failRequestsGreaterThanOne"] is False
    normalised, _w = dp.parse_config(ts(entry()))
    assert "failRequestsGreaterThanOne" not in normalised["sharing"]["timeSlicing"]


def test_version_number_becomes_text():
    # sigs.k8s.io/yaml turns a number for a string field into its text
    with pytest.raises(DevicePluginConfigError, match=r"^version: unknown version: 2$"):
        dp.parse_config({"version": 2})


def test_case_insensitive_key_path_in_message():
    with pytest.raises(DevicePluginConfigError, match=r"^Version: unknown version: v3$"):
        dp.parse_config({"Version": "v3"})


# --------------------------------------------------------------------------- names, devices, durations


@pytest.mark.parametrize("name, full", [
    ("gpu", "nvidia.com/gpu"),
    ("nvidia.com/gpu", "nvidia.com/gpu"),
    ("mig-1g.10gb", "nvidia.com/mig-1g.10gb"),
    ("a" * 52, "nvidia.com/" + "a" * 52),
    ("0gpu9", "nvidia.com/0gpu9"),
])
def test_resource_name_valid(name, full):
    assert dp.resource_name(name) == full


@pytest.mark.parametrize("name", ["a" * 53, "Gpu", "gpu_1", "gpu/x", "gpu.", ".gpu", "gpu\n", "gp u", "é"])
def test_resource_name_invalid(name):
    with pytest.raises(DevicePluginConfigError):
        dp.resource_name(name)


@pytest.mark.parametrize("ref, ok", [
    ("0", True), ("12", True), ("007", True), ("0:0", True), ("1:15", True),
    ("GPU-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f", True),
    ("GPU-5F1F5F54-3B8C-2D5E-9C7F-0A1B2C3D4E5F", True),
    ("GPU-5f1f5f543b8c2d5e9c7f0a1b2c3d4e5f", True),
    ("MIG-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f", True),
    ("MIG-GPU-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f/1/0", True),
    ("-1", False), ("1.0", False), ("0:", False), (":1", False), ("0:1:2", False), ("a:1", False),
    ("GPU-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5", False),
    ("GPU-5f1f5f54_3b8c-2d5e-9c7f-0a1b2c3d4e5f", False),
    ("GPU-zf1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f", False),
    ("MIG-GPU-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f/1", False),
    ("MIG-GPU-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f/1/x", False),
    ("MIG-5f1f5f54-3b8c-2d5e-9c7f-0a1b2c3d4e5f/1/0", False),
    ("all", False), ("", False),
])
def test_device_refs(ref, ok):
    assert dp.is_device_ref(ref) is ok


@pytest.mark.parametrize("text, ok", [
    ("60s", True), ("1h30m", True), ("1.5s", True), (".5s", True), ("-2m", True), ("0", True), ("300ms", True),
    ("10us", True), ("10\u00b5s", True), ("", False), ("s", False), ("1", False), ("1.", False), ("1x", False),
    (".s", False), ("1s2", False),
])
def test_go_durations(text, ok):
    assert (dp._parse_go_duration(text) is None) is ok


@pytest.mark.parametrize("cc, limit", [("8.6", 48), ("7.5", 48), ("v7.5", 48), ("10.0", 48), ("12.0", 48),
                                       ("7.0", 16), ("6.1", 16), ("3.5", 16), (None, None), ("", None)])
def test_mps_limits(cc, limit):
    assert dp.mps_max_clients(cc) == limit


# --------------------------------------------------------------------------- shorthand


def test_time_slicing_shorthand_equals_full_config():
    short = dp.analyse(time_slicing={"replicas": 4, "rename_by_default": False,
                                     "fail_requests_greater_than_one": False}, gpus=RTX3090_X2)
    full = dp.analyse(config=SEED001, gpus=RTX3090_X2)
    assert short["config"] == full["config"]
    assert short["config_yaml"] == full["config_yaml"]
    assert short["capacity"] == {GPU: 8}


def test_time_slicing_shorthand_resources():
    result = dp.analyse(time_slicing={"replicas": 3, "resources": [
        {"name": "gpu"}, {"name": "mig-1g.10gb", "replicas": 7, "devices": ["0:1"]}]})
    entries = result["config"]["sharing"]["timeSlicing"]["resources"]
    assert [(e["name"], e["replicas"], e["devices"]) for e in entries] == [
        ("nvidia.com/gpu", 3, "all"), ("nvidia.com/mig-1g.10gb", 7, ["0:1"])]


@pytest.mark.parametrize("shorthand, expected", [
    ({}, "sharing.timeSlicing.resources[0]: no replicas specified"),
    ({"replicas": 1}, "sharing.timeSlicing.resources[0]: number of replicas must be >= 2"),
    ({"replicas": 2, "resources": [{"name": "Bad"}]}, "incorrect format for resource name 'nvidia.com/Bad'"),
])
def test_time_slicing_shorthand_errors(shorthand, expected):
    with pytest.raises(DevicePluginConfigError) as exc:
        dp.analyse(time_slicing=shorthand)
    assert expected in str(exc.value)


def test_config_and_time_slicing_exclusive():
    with pytest.raises(DevicePluginConfigError, match="mutually exclusive"):
        dp.analyse(config={}, time_slicing={"replicas": 2})


# --------------------------------------------------------------------------- YAML


TRICKY = {
    "version": "v1",
    "flags": {
        "migStrategy": "none",
        "mpsRoot": "/run/nvidia/mps",
        "nvidiaDriverRoot": "yes",
        "nvidiaDevRoot": "0777",
        "plugin": {"cdiAnnotationPrefix": "cdi.k8s.io/", "nvidiaCTKPath": "/opt/my tools/nvidia-ctk: #1",
                   "containerDriverRoot": "C:\\driver \"root\"\n\ttab \u00e9\u2028\x7f",
                   "deviceListStrategy": ["envvar", "volume-mounts"]},
        "gfd": {"outputFile": "", "machineTypeFile": "null", "sleepInterval": "1m0.5s", "oneshot": True},
    },
    "sharing": {"timeSlicing": {"resources": [{"name": "gpu", "replicas": 2, "devices": [0, "1:0"]}]}},
}


def test_yaml_byte_stable_and_parses_back():
    normalised, _w = dp.parse_config(copy.deepcopy(TRICKY))
    first = dp.render_yaml(normalised)
    second = dp.render_yaml(dp.parse_config(copy.deepcopy(TRICKY))[0])
    assert first == second
    assert first.endswith("\n") and not first.endswith("\n\n")
    assert yaml.safe_load(first) == normalised
    # YAML 1.1 resolvers (PyYAML) would read these as bool/int/float/null when unquoted
    assert 'nvidiaDriverRoot: "yes"' in first
    assert 'nvidiaDevRoot: "0777"' in first
    assert 'machineTypeFile: "null"' in first
    assert 'outputFile: ""' in first
    assert '- "1:0"' in first
    assert "mpsRoot: /run/nvidia/mps" in first


def test_yaml_key_order():
    text = dp.render_yaml(dp.parse_config({"sharing": {"timeSlicing": {"resources": [entry()]}},
                                           "flags": {"migStrategy": "none"}, "version": "v1"})[0])
    assert text.index("version:") < text.index("flags:") < text.index("sharing:")
    lines = text.splitlines()
    assert lines[0] == "version: v1"


@pytest.mark.parametrize("value", [
    {}, [], "all", 0, True, None, {"a": []}, {"a": {}}, [[1, 2], {"b": [True, None]}], {"k": 1.5},
    ["", "~", "Y", "on", "-", "- x", "a: b", "#c", "'q'", "[x]", "{y}", "&a", "*b", "!t", "|", ">", "%", "@", "`"],
])
def test_yaml_emitter_round_trip(value):
    assert yaml.safe_load(dp.render_yaml(value)) == value


# --------------------------------------------------------------------------- labels and capacity details


def test_capacity_without_gpus_is_empty():
    result = dp.analyse(config=SEED001)
    assert result["capacity"] == {} and result["labels"] == {}


def test_mps_without_gpus_warns_limit_unchecked():
    result = dp.analyse(config=mps(entry(replicas=60)))
    assert any("was not checked" in w for w in result["warnings"])


def test_labels_gpu_models_sanitised():
    gpus = [gpu(0, "NVIDIA GeForce RTX 4090 (Laptop)  GPU")]
    labels, _w = dp.compute_labels(dp.parse_config(SEED001)[0], gpus)
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-GeForce-RTX-4090-Laptop-GPU-SHARED"


def test_bad_gpus_shape():
    with pytest.raises(DevicePluginConfigError, match=r"^gpus\[0\]: must be a dict"):
        dp.analyse(config={}, gpus=["GPU-0"])
    with pytest.raises(DevicePluginConfigError, match=r"^gpus\[0\].mig_devices: "):
        dp.analyse(config={}, gpus=[{"name": "x", "mig_devices": "none"}])


# --------------------------------------------------------------------------- docs/examples


@pytest.mark.parametrize("filename, gpus, capacity", [
    ("time-slicing-talos-2x-rtx3090.yaml", RTX3090_X2, {GPU: 8}),
    ("time-slicing-rhel9-a2.yaml", A2, {GPU: 2}),
])
def test_docs_examples(filename, gpus, capacity):
    with open(os.path.join(EXAMPLES, filename)) as handle:
        text = handle.read()
    result = dp.analyse(config=yaml.safe_load(text), gpus=gpus)
    assert result["capacity"] == capacity
    body = "".join(line for line in text.splitlines(True) if not line.startswith(("#", "---")))
    assert body == result["config_yaml"], "the example is not in canonical form"


def test_seed003_example_matches_fixed_case():
    with open(os.path.join(EXAMPLES, "time-slicing-rhel9-a2.yaml")) as handle:
        assert dp.parse_config(yaml.safe_load(handle))[0] == dp.parse_config(SEED003_FIXED)[0]


# --------------------------------------------------------------------------- per-model config map


HOSTS = {
    "node3090": RTX3090_X2,
    "nodea2": {"present": True, "wsl": False, "gpus": A2},
    "wsl4090": {"present": True, "wsl": True, "gpus": [gpu(0, "NVIDIA GeForce RTX 4090", "8.9"),
                                                       gpu(1, "NVIDIA GeForce RTX 4090", "8.9")]},
    "cpuonly": {"present": False, "gpus": []},
}
PER_MODEL = [
    {"model": "NVIDIA GeForce RTX 3090", "time_slicing": {"replicas": 4}},
    {"model": "nvidia a2", "config": SEED003_FIXED},
    {"model": "NVIDIA-GeForce-RTX-4090", "key": "rtx4090", "time_slicing": {"replicas": 3}},
]


def test_config_map():
    built = dp.build_config_map(copy.deepcopy(PER_MODEL), copy.deepcopy(HOSTS))
    assert sorted(built["config_map"]) == ["nvidia-a2", "nvidia-geforce-rtx-3090", "rtx4090"]
    for key, text in built["config_map"].items():
        assert yaml.safe_load(text) == built["configs"][key]
    assert built["node_labels"] == {
        "node3090": {"nvidia.com/device-plugin.config": "nvidia-geforce-rtx-3090"},
        "nodea2": {"nvidia.com/device-plugin.config": "nvidia-a2"},
        "wsl4090": {"nvidia.com/device-plugin.config": "rtx4090"},
    }
    assert built["capacity"] == {"node3090": {GPU: 8}, "nodea2": {GPU: 2}, "wsl4090": {GPU: 3}}
    assert built["labels"]["nodea2"]["nvidia.com/gpu.product"] == "NVIDIA-A2-SHARED"
    assert any("cpuonly: no GPUs" in w for w in built["warnings"])


def test_config_map_default_and_unmatched():
    built = dp.build_config_map(PER_MODEL[:1], {"node3090": RTX3090_X2, "nodea2": A2},
                                default={"time_slicing": {"replicas": 2}})
    assert sorted(built["config_map"]) == ["default", "nvidia-geforce-rtx-3090"]
    assert built["node_labels"]["nodea2"] == {"nvidia.com/device-plugin.config": "default"}
    assert built["capacity"]["nodea2"] == {GPU: 2}
    built = dp.build_config_map(PER_MODEL[:1], {"nodea2": A2})
    assert built["node_labels"] == {}
    assert any("no per_model entry for NVIDIA A2" in w for w in built["warnings"])


def test_config_map_mixed_models_host():
    built = dp.build_config_map(PER_MODEL[:1], {"mixed": MIXED_MODELS})
    assert built["capacity"]["mixed"] == {GPU: 8}
    assert any("several GPU models" in w for w in built["warnings"])


@pytest.mark.parametrize("per_model, hosts, expected", [
    ([{"model": "NVIDIA A2", "time_slicing": {"replicas": 1}}], {}, "per_model[0]: sharing.timeSlicing.resources[0]: "
     "number of replicas must be >= 2"),
    ([{"model": "NVIDIA A2", "time_slicing": {"replicas": 2}}, {"model": "NVIDIA-A2", "time_slicing": {"replicas": 3}}],
     {}, "per_model[1]: ConfigMap key 'nvidia-a2' is already used"),
    ([{"model": "NVIDIA A2", "key": "Bad_Key", "time_slicing": {"replicas": 2}}], {}, "per_model[0].key: 'Bad_Key'"),
    ([{"model": "NVIDIA A2", "key": "default", "time_slicing": {"replicas": 2}}], None, None),
    ([{"model": "NVIDIA A2"}], {}, "per_model[0]: needs exactly one of config or time_slicing"),
    ([{"model": "NVIDIA A2", "config": mps(entry(replicas=40))}], {"old": [gpu(0, "NVIDIA A2", "6.0")]},
     "hosts_gpus.old (config 'nvidia-a2'): sharing.mps.resources[0]: invalid MPS configuration: invalid device "
     "maximum allowed replicas exceeded: 40 > 16"),
])
def test_config_map_errors(per_model, hosts, expected):
    if expected is None:  # a model key may be 'default' when no default config is given
        assert "default" in dp.build_config_map(per_model, hosts)["config_map"]
        with pytest.raises(DevicePluginConfigError, match="already used by the default config"):
            dp.build_config_map(per_model, hosts, default={"config": {}})
        return
    with pytest.raises(DevicePluginConfigError) as exc:
        dp.build_config_map(per_model, hosts)
    assert str(exc.value).startswith(expected), str(exc.value)


@pytest.mark.parametrize("model, key", [
    ("NVIDIA GeForce RTX 3090", "nvidia-geforce-rtx-3090"),
    ("NVIDIA A100-SXM4-80GB", "nvidia-a100-sxm4-80gb"),
    ("  NVIDIA  H100 80GB HBM3 ", "nvidia-h100-80gb-hbm3"),
    ("Tesla T4", "tesla-t4"),
    ("X" * 80, "x" * 63),
])
def test_config_key(model, key):
    assert dp.config_key(model) == key


# --------------------------------------------------------------------------- robustness


def _random_value(rng, depth=0):
    choice = rng.randrange(12 if depth < 4 else 8)
    if choice == 0:
        return None
    if choice == 1:
        return rng.choice([True, False])
    if choice == 2:
        return rng.choice([-1, 0, 1, 2, 4, 49, 2 ** 70, 2.5, 3.0, float("nan")])
    if choice in (3, 4, 5, 6, 7):
        return rng.choice(["all", "gpu", "v1", "", "0", "0:1", "GPU-x", "mixed", "none", "single", "60s", "abc",
                           "nvidia.com/gpu", "MIG-1", "envvar", "uuid", "Ä", "cdi-cri"])
    if choice in (8, 9):
        return [_random_value(rng, depth + 1) for _i in range(rng.randrange(3))]
    keys = ["version", "flags", "sharing", "timeSlicing", "mps", "resources", "name", "replicas", "devices",
            "rename", "renameByDefault", "failRequestsGreaterThanOne", "migStrategy", "plugin", "gfd",
            "deviceListStrategy", "sleepInterval", "imex", "channelIDs", "gpus", "pattern", "mpsRoot"]
    return dict((rng.choice(keys), _random_value(rng, depth + 1)) for _i in range(rng.randrange(4)))


def test_random_input_never_crashes():
    rng = random.Random(1234)
    outcomes = {"ok": 0, "error": 0}
    for _i in range(3000):
        config = _random_value(rng)
        if rng.random() < 0.7:
            config = {"version": "v1", "sharing": {rng.choice(["timeSlicing", "mps"]): _random_value(rng)}}
        try:
            dp.analyse(config=config, gpus=rng.choice([None, RTX3090_X2, A2]),
                       mig_strategy=rng.choice([None, "none", "single", "mixed"]))
            outcomes["ok"] += 1
        except DevicePluginConfigError:
            outcomes["error"] += 1
    assert outcomes["ok"] > 50 and outcomes["error"] > 50
