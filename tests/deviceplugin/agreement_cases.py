# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configs on which our module and upstream's loader must agree (test_upstream_agreement.py).

Besides every case of tests/unit/plugins/module_utils/device_plugin_test_cases.py, these are
corners where a Python re-implementation of Go's decoding is most likely to drift: key order
(sigs.k8s.io/yaml hands encoding/json an object with sorted keys), keys differing only in
case, null for each kind of field, numbers at the int64 edge, whole floats, and type errors
that Go defers behind decoder errors. No expectation is written here: upstream decides.
(id, config, mig_strategy)
"""

from __future__ import annotations

GPU = "nvidia.com/gpu"


def ts(*entries, **block):
    out = dict(block)
    out["resources"] = list(entries)
    return {"version": "v1", "sharing": {"timeSlicing": out}}


def entry(name=GPU, replicas=4, **kw):
    out = {"name": name, "replicas": replicas}
    out.update(kw)
    return out


BAD_ENTRY = entry(replicas=1)

EXTRA = [
    # numbers
    ("replicas-whole-float", ts(entry(replicas=2.0)), None),
    ("replicas-1e3", ts(entry(replicas=1e3)), None),
    ("replicas-int64-max", ts(entry(replicas=(1 << 63) - 1)), None),
    ("replicas-int64-overflow", ts(entry(replicas=1 << 63)), None),
    ("replicas-1e20", ts(entry(replicas=1e20)), None),
    ("replicas-tiny-fraction", ts(entry(replicas=3.000000001)), None),
    ("devices-whole-float", ts(entry(devices=2.0)), None),
    ("devices-1e20", ts(entry(devices=1e20)), None),
    ("devices-list-floats", ts(entry(devices=[0.0, 1])), None),
    ("devices-list-fraction", ts(entry(devices=[0.5])), None),
    ("devices-list-uint64-max", ts(entry(devices=[(1 << 64) - 1])), None),
    ("devices-list-uint64-overflow", ts(entry(devices=[1 << 64])), None),
    ("imex-channel-whole-float", {"imex": {"channelIDs": [0.0]}}, None),
    ("imex-channel-string", {"imex": {"channelIDs": ["0"]}}, None),
    ("imex-channels-twice-zero", {"imex": {"channelIDs": [0, 0]}}, None),
    ("imex-required-string", {"imex": {"required": "yes"}}, None),
    ("sleep-interval-float", {"flags": {"gfd": {"sleepInterval": 1.5}}}, None),
    ("sleep-interval-negative", {"flags": {"gfd": {"sleepInterval": "-5s"}}}, None),
    # a float given for version is printed as Go prints a float32 ('g', shortest)
    ("version-float-1.1", {"version": 1.1}, None),
    ("version-float-1e6", {"version": 1000000.0}, None),
    ("version-float-123456", {"version": 123456.0}, None),
    ("version-float-pi", {"version": 3.14159265358979}, None),
    ("version-float-small", {"version": 0.00001}, None),
    ("version-float-0.0001", {"version": 0.0001}, None),
    ("version-float-negative", {"version": -2.5}, None),
    ("version-float-zero", {"version": 0.0}, None),
    ("version-float-beyond-float32", {"version": 1e39}, None),
    ("version-bool-false", {"version": False}, None),
    ("version-big-int", {"version": 1 << 63}, None),
    # scalars given for strings
    ("name-number", ts(entry(name=5)), None),
    ("name-bool", ts(entry(name=True)), None),
    ("rename-number", ts(entry(rename=7)), None),
    ("version-number-1", {"version": 1}, None),
    ("mig-strategy-number", {"flags": {"migStrategy": 5}}, None),
    ("device-id-strategy-bool", {"flags": {"plugin": {"deviceIDStrategy": True}}}, None),
    ("device-list-strategy-list-of-numbers", {"flags": {"plugin": {"deviceListStrategy": [1, "envvar"]}}}, None),
    ("device-list-strategy-map", {"flags": {"plugin": {"deviceListStrategy": {"b": 1, "a": 2}}}}, None),
    ("device-list-strategy-empty-list", {"flags": {"plugin": {"deviceListStrategy": []}}}, None),
    ("device-list-strategy-empty-string", {"flags": {"plugin": {"deviceListStrategy": ""}}}, None),
    # null everywhere
    ("version-null", {"version": None}, None),
    ("sharing-null", {"sharing": None}, None),
    ("flags-null", {"flags": None}, None),
    ("flags-plugin-null", {"flags": {"plugin": None}}, None),
    ("resources-null", {"resources": None}, None),
    ("imex-null", {"imex": None}, None),
    ("mig-strategy-null", {"flags": {"migStrategy": None}}, None),
    ("device-list-strategy-null", {"flags": {"plugin": {"deviceListStrategy": None}}}, None),
    ("device-list-strategy-list-null", {"flags": {"plugin": {"deviceListStrategy": [None]}}}, None),
    ("rename-by-default-null", ts(entry(), renameByDefault=None), None),
    ("fail-requests-null", ts(entry(), failRequestsGreaterThanOne=None), None),
    ("mps-null-ts-ok", {"sharing": {"mps": None, "timeSlicing": {"resources": [entry()]}}}, None),
    ("name-null", ts(entry(name=None)), None),
    ("rename-null", ts(entry(rename=None)), None),
    ("channel-ids-null-item", {"imex": {"channelIDs": [None]}}, None),
    # key case and order (sigs.k8s.io/yaml sorts an object's keys before encoding/json reads it)
    ("version-two-spellings", {"version": "v1", "Version": "v2"}, None),
    ("version-two-spellings-reversed", {"Version": "v1", "version": "v2"}, None),
    ("sharing-two-spellings", {"sharing": {"timeSlicing": {"resources": [entry()]}},
                               "Sharing": {"timeSlicing": {"resources": [BAD_ENTRY]}}}, None),
    ("timeslicing-two-spellings", {"sharing": {"timeSlicing": {"resources": [BAD_ENTRY]},
                                               "timeslicing": {"resources": [entry()]}}}, None),
    ("upper-case-resources-key", {"sharing": {"timeSlicing": {"Resources": [entry()]}}}, None),
    ("errors-in-two-blocks-sharing-first", {"sharing": {"timeSlicing": {"resources": [BAD_ENTRY]}},
                                            "resources": {"gpus": [{"name": "gpu"}]}}, None),
    ("errors-in-two-blocks-resources-first", {"resources": {"gpus": [{"name": "gpu"}]},
                                              "sharing": {"timeSlicing": {"resources": [BAD_ENTRY]}}}, None),
    ("decoder-errors-in-flags", {"flags": {"plugin": {"deviceListStrategy": 5}, "gfd": {"sleepInterval": "x"}}},
     None),
    ("type-errors-two", {"flags": {"gdsEnabled": "no", "failOnInitError": "yes"}}, None),
    ("type-error-then-decoder-error", {"imex": {"required": "x"}, "flags": {"gfd": {"sleepInterval": "x"}}}, None),
    ("ts-and-mps-both-bad", {"sharing": {"timeSlicing": {"resources": []}, "mps": {"resources": [BAD_ENTRY]}}},
     None),
    ("entry-extra-keys", ts(dict(entry(), Name="x", REPLICAS=1)), None),
    ("unknown-top-level-key", {"version": "v1", "foo": {"bar": 1}}, None),
    # names
    ("name-full-prefix", ts(entry(name="nvidia.com/gpu")), None),
    ("name-is-domain", ts(entry(name="nvidia.com")), None),
    ("name-upper-domain", ts(entry(name="NVIDIA.com/gpu")), None),
    ("name-two-slashes", ts(entry(name="nvidia.com/gpu/x")), None),
    ("name-unicode", ts(entry(name="gp\u00fc")), None),
    ("name-dots", ts(entry(name="gpu.shared.x")), None),
    ("name-52-unicode-bytes", ts(entry(name="a" * 50 + "\u00e9")), None),
    ("rename-by-default-custom", ts(entry(rename="other"), renameByDefault=True), None),
    # sharing
    ("mps-fail-requests-false", {"flags": {"mpsRoot": "/run/nvidia/mps"},
                                 "sharing": {"mps": {"failRequestsGreaterThanOne": False, "resources": [entry()]}}}, None),
    ("mps-root-empty", {"flags": {"mpsRoot": ""}, "sharing": {"mps": {"resources": [entry()]}}}, None),
    ("mps-mixed-env", {"flags": {"mpsRoot": "/x"}, "sharing": {"mps": {"resources": [entry()]}}}, "mixed"),
    ("mig-file-overridden-by-env", {"flags": {"migStrategy": "bogus"}}, "none"),
    ("mig-file-mixed-env-single", {"flags": {"migStrategy": "mixed"}}, "single"),
    ("mps-and-ts-mixed-env", {"flags": {"mpsRoot": "/x", "migStrategy": "mixed"},
                              "sharing": {"timeSlicing": {"resources": [entry()]}}}, None),
    ("mps-replicas-just-names", {"flags": {"mpsRoot": "/x"},
                                 "sharing": {"mps": {"resources": [entry("mig-1g.10gb", 2)]}}}, "mixed"),
]
