# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Our module's checks (plugins/module_utils/_device_plugin.py) against upstream's own loader.

For every config of the unit test tables and agreement_cases.EXTRA, NVIDIA k8s-device-plugin
v0.20.0's start-up (dpconfigcheck: loadConfig, DisableResourceNamingInConfig, validateFlags)
and our ``analyse`` must agree:

* both refuse, and upstream's innermost message is part of ours (ours claims to carry
  upstream's wording; it adds the field's path in front and sometimes a hint after it); or
* both accept, and upstream, reading the config text WE render (``config_yaml``, what goes
  into the ConfigMap), ends with the sharing, MIG strategy and flags that we predict.

One documented difference: without MPS_ROOT upstream refuses an MPS config lacking
flags.mpsRoot; ours warns with upstream's message, because the Helm chart and our DaemonSet
always set MPS_ROOT (a test below checks that it does).
Our ``mig_strategy`` option stands for the plugin's MIG_STRATEGY variable, so it is passed as such.
"""

from __future__ import annotations

import json

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _device_plugin as dp
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import DevicePluginConfigError
from ansible_collections.homelab.gpu_node.tests.deviceplugin.agreement_cases import EXTRA
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.device_plugin_test_cases import (
    INVALID,
    VALID,
)

# What upstream wraps around the message of the check that failed (main.go, config.go, sigs.k8s.io/yaml).
WRAPPERS = (
    "unable to load config: ",
    "unable to finalize config: ",
    "unable to parse config file: ",
    "error parsing config file: ",
    "unmarshal error: ",
    "error unmarshaling JSON: ",
    "while decoding JSON: ",
    "unable to validate flags: ",
)
MPS_ROOT_MESSAGE = "using MPS requires --mps-root to be specified"

CASES = ([("unit-invalid-" + c[0], c[1], c[3]) for c in INVALID]
         + [("unit-valid-" + c[0], c[1], c[3]) for c in VALID]
         + [("extra-" + c[0], c[1], c[2]) for c in EXTRA])


def inner(message):
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPERS:
            if message.startswith(prefix):
                message = message[len(prefix):]
                changed = True
    return message


def env_for(mig_strategy):
    return {"MIG_STRATEGY": mig_strategy} if mig_strategy is not None else {}


def ours(config, mig_strategy):
    try:
        return None, dp.analyse(config=config, mig_strategy=mig_strategy)
    except DevicePluginConfigError as exc:
        return str(exc), None


@pytest.fixture(scope="module")
def upstream(checker):
    """Upstream's verdict on each config as given, and on the text we render for the ones we accept."""
    batch = []
    for cid, config, mig in CASES:
        batch.append((cid, json.dumps(config), env_for(mig)))
        _err, result = ours(config, mig)
        if result is not None:
            batch.append((cid + "#rendered", result["config_yaml"], env_for(mig)))
    return checker.load(batch)


def upstream_effective(result):
    cfg = result["config"]
    flags = cfg["flags"]
    sharing = cfg.get("sharing") or {}
    name = "mps" if sharing.get("mps") is not None else "timeSlicing"
    block = sharing.get(name) or {}
    return {
        "sharing_strategy": result["sharing_strategy"],
        "applied": name if block.get("resources") else None,
        "renameByDefault": bool(block.get("renameByDefault")),
        "failRequestsGreaterThanOne": block.get("failRequestsGreaterThanOne"),
        "entries": [(r["name"], r.get("rename") or None, r["devices"], r["replicas"])
                    for r in block.get("resources") or []],
        "migStrategy": flags["migStrategy"],
    }


def our_effective(normalised, mig_strategy):
    """What upstream keeps after DisableResourceNamingInConfig, from our normalised config."""
    name, block = dp.applied_block(normalised)
    block = block or {}
    rbd = bool(block.get("renameByDefault"))
    return {
        "sharing_strategy": dp.sharing_strategy(normalised),
        "applied": name if block.get("resources") else None,
        "renameByDefault": rbd,
        "failRequestsGreaterThanOne": block.get("failRequestsGreaterThanOne"),
        "entries": [(e["name"], e["name"] + dp.SHARED_SUFFIX if rbd else None, "all", e["replicas"])
                    for e in block.get("resources") or []],
        "migStrategy": dp.effective_mig_strategy(normalised, mig_strategy),
    }


def check_flags(normalised, upstream_cfg):
    """Every flag our normalised config sets is the value upstream ends with (unless an env var wins)."""
    flags = normalised.get("flags", {})
    up = upstream_cfg["flags"]
    for key, value in flags.items():
        if key in ("migStrategy", "gfd", "plugin"):
            continue  # MIG_STRATEGY may override the file; the plugin drops gfd
        assert up.get(key) == value, (key, up.get(key), value)
    for key, value in flags.get("plugin", {}).items():
        if key == "deviceListStrategy" and isinstance(value, str):
            value = [value]
        assert up["plugin"].get(key) == value, (key, up["plugin"].get(key), value)
    ids = normalised.get("imex", {}).get("channelIDs")
    if ids:
        assert upstream_cfg["imex"].get("channelIDs") == ids


@pytest.mark.parametrize("cid, config, mig_strategy", CASES, ids=[c[0] for c in CASES])
def test_module_agrees_with_upstream(upstream, cid, config, mig_strategy):
    up = upstream[cid]
    our_error, result = ours(config, mig_strategy)
    up_error = inner(up["error"]) if up["error"] else None
    if up_error == MPS_ROOT_MESSAGE and our_error is None:
        assert any(MPS_ROOT_MESSAGE in w for w in result["warnings"]), result["warnings"]
        return
    if up_error is not None:
        assert our_error is not None, "upstream refuses (%s), ours accepts" % up["error"]
        assert up_error in our_error, "upstream: %r\nours:     %r" % (up_error, our_error)
        return
    assert our_error is None, "upstream accepts, ours refuses: %s" % our_error
    rendered = upstream[cid + "#rendered"]
    assert rendered["error"] == "", "upstream refuses the config we render: %s\n%s" % (
        rendered["error"], result["config_yaml"])
    assert upstream_effective(up) == upstream_effective(rendered), "our rendering changed the meaning"
    assert our_effective(result["config"], mig_strategy) == upstream_effective(rendered)
    check_flags(result["config"], rendered["config"])


def test_mps_root_is_set_where_the_module_relies_on_it(checker):
    """The MPS difference above is honest only if an MPS config loads once MPS_ROOT is set."""
    config = {"sharing": {"mps": {"resources": [{"name": "gpu", "replicas": 2}]}}}
    out = checker.load([("without", json.dumps(config), {}),
                        ("with", json.dumps(config), {"MPS_ROOT": "/run/nvidia/mps"})])
    assert inner(out["without"]["error"]) == MPS_ROOT_MESSAGE
    assert out["with"]["error"] == ""


def test_the_comparison_can_fail(checker):
    """A config upstream refuses is not waved through by the harness (the loader is not a stub)."""
    out = checker.load([("bad", json.dumps({"sharing": {"timeSlicing": {"resources": [
        {"name": "gpu", "replicas": 1}]}}}), {})])
    assert inner(out["bad"]["error"]) == "number of replicas must be >= 2"
