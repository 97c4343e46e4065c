# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The node-side modules' results on a real NVIDIA H200 (tests/fixtures/real-gpu/h200-580.159.04-collection,
captured by tests/device/collection_on_real_gpu.sh) read back through the collection's own code."""

from __future__ import annotations

import json
import os

import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _toolkit_mode as tm

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "..", "..", "..", "fixtures", "real-gpu", "h200-580.159.04-collection")


def read(name):
    with open(os.path.join(FIX, name)) as handle:
        return handle.read()


def result(name):
    text = read(name)
    return json.loads(text[text.index("{"):])


def test_every_command_succeeded_there():
    assert [line.split()[0] for line in read("rcs.txt").splitlines()] == ["0"] * 9


def test_the_records_written_there_are_read_back_by_the_module_utils():
    cdi = tm.read_record(read("record-after-cdi.json"))
    auto = tm.read_record(read("record-after-auto.json"))
    assert cdi["mode"] == "cdi" and cdi["toolkit_version"] == "1.20.2"
    assert auto["mode"] == "jit-cdi" and auto["cdi_spec"] is None
    # what the module decides from the real toolkit version and runtime config, again here
    assert tm.effective_mode("auto", "1.20.2", "auto") == "jit-cdi"
    assert tm.effective_mode("cdi", "1.20.2", "auto") == "cdi"


def test_cdi_generate_ran_once_then_nothing_changed():
    first, second = result("mode-cdi-1.txt"), result("mode-cdi-2.txt")
    assert first["changed"] and first["spec_changed"]
    assert not second["changed"] and not second["spec_changed"]
    spec = yaml.safe_load(read("generated-nvidia.yaml"))
    assert spec["kind"] == "nvidia.com/gpu"
    assert sorted(d["name"] for d in spec["devices"])[0] == "0"
    assert "all" in [d["name"] for d in spec["devices"]]


def test_auto_removed_only_the_spec_it_generated():
    assert "--- before: /tmp/hgn/cdi/nvidia.yaml" in read("mode-auto-check.txt")
    assert result("mode-auto.txt")["changed"]
    assert "toolkit_mode.json" in read("after-auto-ls.txt") and "nvidia.yaml" not in read("after-auto-ls.txt")


def test_doctor_node_checks_pass_on_the_real_driver():
    for name in ("doctor-engine-none.txt", "doctor-engine-auto.txt"):
        checks = dict((c["id"], c["status"]) for c in result(name)["checks"])
        for check in ("nvidia_smi", "driver_mismatch", "device_nodes", "container_runtime"):
            assert checks[check] == "pass", (name, check)
        assert checks["engine_runtime"] == "skip"
