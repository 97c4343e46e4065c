# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The real H200 capture (tests/fixtures/real-gpu/h200-580.159.04, see its PROVENANCE.md).

It was taken on a machine with a real GPU, where homelab.gpu_node.nvidia_smi_facts also
ran against the real driver (facts-module.txt). Parsing the captured output here must
give what the module reported there, and the values nvidia-smi's other forms show.
"""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _nvidia_smi as smi

REAL_GPU = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                        "fixtures", "real-gpu")
CAPTURES = ["h200-580.159.04", "h200-580.159.04-b"]
CAPTURE = os.path.join(REAL_GPU, CAPTURES[0])


def _read(name, capture=CAPTURES[0]):
    with open(os.path.join(REAL_GPU, capture, name), encoding="utf-8") as f:
        return f.read()


def _facts_from_capture(xml_name="nvidia-smi-q-x.xml", capture=CAPTURES[0]):
    facts = smi.parse_smi_xml(_read(xml_name, capture))
    facts["wsl"] = False
    assert smi.needs_compute_capability(facts)  # -q -x has no compute capability
    smi.merge_csv_facts(facts, smi.parse_smi_csv(_read("nvidia-smi-compute-cap.csv", capture),
                                                 fields=smi.COMPUTE_CAP_FIELDS))
    return facts


def _module_output(capture):
    text = _read("facts-module.txt", capture)
    return json.loads(text[text.index("{"):])["ansible_facts"]["nvidia"]


def test_the_two_machines_differ_only_in_the_gpu_identity():
    first, second = (_facts_from_capture(capture=c) for c in CAPTURES)
    assert first["gpus"][0]["uuid"] != second["gpus"][0]["uuid"]
    second["gpus"][0]["uuid"] = first["gpus"][0]["uuid"]
    assert first == second


def test_every_field_query_agrees_with_the_xml():
    rows = smi.parse_smi_csv(_read("nvidia-smi-query-gpu-all.csv", CAPTURES[1]))
    assert len(rows) == 1
    facts = _facts_from_capture(capture=CAPTURES[1])
    gpu = facts["gpus"][0]
    assert rows[0]["uuid"] == gpu["uuid"]
    assert rows[0]["name"] == gpu["name"]
    assert rows[0]["memory.total"] == gpu["memory_total_mib"]
    assert rows[0]["compute_cap"] == gpu["compute_capability"]
    assert rows[0]["driver_version"] == facts["driver_version"]


def test_the_pci_reader_on_the_real_machine_saw_the_gpu_the_module_reported():
    seen = json.loads(_read("pci-reader.json", CAPTURES[1]))
    reported = _module_output(CAPTURES[1])
    assert seen["gpus"] == reported["pci_devices"]
    assert reported["driver"]["loaded"] and reported["driver"]["flavour"] == "open"
    assert reported["driver"]["recommended_flavour"] == "open"  # Hopper: device id 0x2335 >= 0x1e00
    assert reported["driver"]["version"] == reported["driver_version"] == "580.159.04"


def test_capture_values_match_the_other_forms_of_nvidia_smi():
    facts = _facts_from_capture()
    assert facts["driver_version"] == "580.159.04"
    assert "Driver Version: 580.159.04" in _read("nvidia-smi-table.txt")
    assert facts["cuda_version"] == "13.0"
    assert facts["count"] == facts["attached_gpus"] == 1
    gpu = facts["gpus"][0]
    assert gpu["name"] == "NVIDIA H200"
    assert "GPU 0: NVIDIA H200 (UUID: %s)" % gpu["uuid"] in _read("nvidia-smi-L.txt")
    assert gpu["memory_total_mib"] == 143771
    assert "143771MiB" in _read("nvidia-smi-table.txt")
    assert gpu["compute_capability"] == "9.0"
    assert gpu["mig_mode"] == "Disabled" and gpu["mig_devices"] == []
    assert facts["labels"]["nvidia.com/gpu.product"] == "NVIDIA-H200"
    assert facts["labels"]["nvidia.com/gpu.compute.major"] == "9"


def test_inline_dtd_form_parses_to_the_same_facts():
    assert _facts_from_capture("nvidia-smi-q-x-dtd.xml") == _facts_from_capture()


@pytest.mark.parametrize("capture", CAPTURES)
@pytest.mark.parametrize("key", ["present", "wsl", "driver_version", "cuda_version", "count", "attached_gpus",
                                 "gpus", "labels"])
def test_module_on_the_real_gpu_reported_what_parsing_the_capture_gives(key, capture):
    reported = _module_output(capture)
    parsed = _facts_from_capture(capture=capture)
    assert parsed[key] == reported[key]
