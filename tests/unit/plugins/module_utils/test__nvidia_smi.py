# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/module_utils/_nvidia_smi.py.

Most tests replay real captures from shared/fixtures/nvidia-smi (see its
INDEX.md). No XML capture exists for drivers 560+ (DTD v13), for driver 610 or
for H100/H200 MIG; those tests build a small XML document from the values the
text sections (-q, -L, --query-gpu) of the nvidia_gpu_exporter captures show,
and say so.
"""

from __future__ import annotations

import copy
import re

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import NvidiaSmiError
from ansible_collections.homelab.gpu_node.plugins.module_utils import _nvidia_smi as smi
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.nvidia_smi_test_cases import (
    CSV_CASES,
    H100_MIG,
    H200_MIG,
    XML_CASES,
    XML_LABELS,
    csv_sections,
    index_rows,
)

# Kubernetes label value rule, written out independently of the code under test
K8S_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
GFD_LABEL_KEYS = {
    "nvidia.com/gpu.present", "nvidia.com/gpu.count", "nvidia.com/gpu.product", "nvidia.com/gpu.memory",
    "nvidia.com/cuda.driver.major", "nvidia.com/cuda.driver.minor", "nvidia.com/cuda.driver.rev",
    "nvidia.com/cuda.runtime.major", "nvidia.com/cuda.runtime.minor",
    "nvidia.com/gpu.compute.major", "nvidia.com/gpu.compute.minor",
}
FACT_KEYS = {"present", "wsl", "driver_version", "cuda_version", "count", "attached_gpus", "gpus", "labels"}
GPU_KEYS = {"index", "uuid", "name", "pci_bus_id", "memory_total_mib", "memory_used_mib", "compute_capability",
            "mig_mode", "mig_devices"}

XML_IDS = sorted(XML_CASES)
CSV_IDS = sorted(CSV_CASES)

# The first line nvidia-smi prints without a driver (exit 9) and on a mismatch, verbatim.
NO_DRIVER = ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. "
             "Make sure that the latest NVIDIA driver is installed and running.\n\n")
MISMATCH = "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 550.144\n"


# ---------------------------------------------------------------- synthetic XML (labelled as such)

def synthetic_xml(gpus, driver="590.48.01", cuda="13.1", extra_header=""):
    """An nvidia-smi -q -x style document (DTD v13 layout) holding only the elements the parser reads."""
    return (
        '<?xml version="1.0" ?>\n<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v13.dtd">\n<nvidia_smi_log>\n'
        "\t<timestamp>synthetic</timestamp>\n\t<driver_version>%s</driver_version>\n%s"
        "\t<cuda_version>%s</cuda_version>\n\t<attached_gpus>%d</attached_gpus>\n%s</nvidia_smi_log>\n"
        % (driver, extra_header, cuda, len(gpus), "".join(gpus))
    )


def synthetic_gpu(name, bus, total, used, minor="0", uuid="GPU-00000000-0000-0000-0000-000000000000",
                  architecture="Hopper", mig_mode="N/A", mig_devices=""):
    return (
        '\t<gpu id="%s">\n\t\t<product_name>%s</product_name>\n'
        "\t\t<product_architecture>%s</product_architecture>\n"
        "\t\t<mig_mode><current_mig>%s</current_mig><pending_mig>%s</pending_mig></mig_mode>\n"
        "\t\t<mig_devices>%s</mig_devices>\n\t\t<uuid>%s</uuid>\n\t\t<minor_number>%s</minor_number>\n"
        "\t\t<pci><pci_bus_id>%s</pci_bus_id></pci>\n"
        "\t\t<fb_memory_usage><total>%d MiB</total><reserved>0 MiB</reserved><used>%d MiB</used></fb_memory_usage>\n"
        "\t</gpu>\n" % (bus, name, architecture, mig_mode, mig_mode, mig_devices, uuid, minor, bus, total, used)
    )


def synthetic_mig_device(index, gi, ci, sms, total, uuid=None):
    uuid_xml = "<uuid>%s</uuid>" % uuid if uuid else ""
    return (
        "<mig_device><index>%d</index><gpu_instance_id>%d</gpu_instance_id>"
        "<compute_instance_id>%d</compute_instance_id>%s<device_attributes><shared>"
        "<multiprocessor_count>%d</multiprocessor_count></shared></device_attributes>"
        "<fb_memory_usage><total>%d MiB</total><reserved>0 MiB</reserved><used>9 MiB</used></fb_memory_usage>"
        "</mig_device>" % (index, gi, ci, uuid_xml, sms, total)
    )


def mig_capture_xml(spec, with_uuids=False):
    devices = "".join(
        synthetic_mig_device(number, gi, ci, sms, total,
                             uuid="MIG-%08d-0000-0000-0000-%012d" % (number, number) if with_uuids else None)
        for number, (gi, ci, sms, total, dummy) in enumerate(spec["devices"]))
    return synthetic_xml([synthetic_gpu(spec["name"], spec["bus"], spec["total"], spec["used"],
                                        architecture=spec["architecture"], mig_mode="Enabled",
                                        mig_devices=devices)])


# ---------------------------------------------------------------- coverage of INDEX.md

def test_index_lists_only_captures_we_check(smi_capture):
    """Every XML and CSV capture named in INDEX.md has a case here, and every case is in INDEX.md."""
    rows = index_rows(smi_capture("INDEX.md"))
    assert len(rows) > 40
    xml_paths = {path for path, fmt in rows if fmt.startswith("xml")}
    csv_paths = {path for path, fmt in rows if fmt.startswith("csv") or "--query-gpu" in fmt}
    assert xml_paths == set(XML_CASES)
    assert csv_paths == {path for path, dummy in CSV_CASES}


@pytest.mark.parametrize("path", sorted({path for path, dummy in CSV_CASES}))
def test_every_csv_section_has_a_case(smi_capture, path):
    sections = csv_sections(smi_capture(path))
    assert sections, "no --query-gpu section found in %s" % path
    assert {(path, number) for number in range(len(sections))} == {key for key in CSV_CASES if key[0] == path}


# ---------------------------------------------------------------- XML captures

@pytest.mark.parametrize("path", XML_IDS, ids=XML_IDS)
def test_xml_capture(smi_capture, path):
    expected = XML_CASES[path]
    facts = smi.parse_smi_xml(smi_capture(path))
    assert set(facts) == FACT_KEYS
    assert facts["present"] is True
    assert facts["wsl"] is None  # the caller decides
    assert facts["driver_version"] == expected["driver_version"]
    assert facts["cuda_version"] == expected["cuda_version"]
    assert facts["count"] == len(expected["gpus"])
    assert facts["attached_gpus"] == expected["attached_gpus"]
    assert facts["gpus"] == expected["gpus"]
    for entry in facts["gpus"]:
        assert set(entry) == GPU_KEYS


@pytest.mark.parametrize("path", XML_IDS, ids=XML_IDS)
def test_labels_are_valid_for_every_capture(smi_capture, path):
    facts = smi.parse_smi_xml(smi_capture(path))
    labels = facts["labels"]
    assert labels["nvidia.com/gpu.present"] == "true"
    assert labels["nvidia.com/gpu.count"] == str(len(XML_CASES[path]["gpus"]))
    assert set(labels) <= GFD_LABEL_KEYS
    for key, value in labels.items():
        assert isinstance(value, str), key
        assert len(value) <= 63, key
        assert K8S_LABEL_VALUE.match(value), "%s=%r is not a valid label value" % (key, value)
    first = XML_CASES[path]["gpus"][0]
    assert labels["nvidia.com/gpu.product"] == first["name"].replace(" ", "-")
    assert labels["nvidia.com/gpu.memory"] == str(first["memory_total_mib"])


@pytest.mark.parametrize("path", sorted(XML_LABELS), ids=sorted(XML_LABELS))
def test_labels_of_selected_captures(smi_capture, path):
    assert smi.parse_smi_xml(smi_capture(path))["labels"] == XML_LABELS[path]


def test_index_follows_document_order_not_minor_number(smi_capture):
    """nvidia-smi prints GPUs in NVML index order; minor_number is /dev/nvidiaN."""
    text = smi_capture("pai/nvidia_smi_out_of_order.xml")
    document_order = re.findall(r"<minor_number>(\d+)</minor_number>", text)
    assert document_order == ["1", "2", "3", "0"]
    gpus = smi.parse_smi_xml(text)["gpus"]
    assert [entry["index"] for entry in gpus] == [0, 1, 2, 3]
    assert gpus[0]["pci_bus_id"] == "00001580:00:00.0"  # first <gpu>, minor_number 1
    assert gpus[3]["pci_bus_id"] == "0000F8D6:00:00.0"  # last <gpu>, minor_number 0


def test_attached_gpus_larger_than_gpu_elements(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("pai/nvidia_smi_sample.xml"))
    assert (facts["attached_gpus"], facts["count"], len(facts["gpus"])) == (6, 2, 2)
    assert facts["labels"]["nvidia.com/gpu.count"] == "2"


def test_malformed_uuid_is_kept_verbatim(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("lampaa-nvidia-smi-rest/smi_test_5.xml"))
    assert facts["gpus"][0]["uuid"] == "GPU-XXX9-b02c-1c4ca42113c8"
    merged = smi.merge_csv_facts(facts, [{"uuid": "GPU-XXX9-b02c-1c4ca42113c8", "compute_cap": "3.5"}])
    assert merged["gpus"][0]["compute_capability"] == "3.5"


@pytest.mark.parametrize("path", ["netdata/rtx-2080-win.xml", "lampaa-nvidia-smi-rest/smi_test_1.xml"])
def test_windows_minor_number_na_uses_document_position(smi_capture, path):
    text = smi_capture(path)
    assert "<minor_number>N/A</minor_number>" in text
    assert [entry["index"] for entry in smi.parse_smi_xml(text)["gpus"]] == [0]


def test_duplicate_minor_numbers_keep_document_order():
    text = synthetic_xml([synthetic_gpu("GPU A", "00000000:01:00.0", 100, 1, minor="0", uuid="GPU-a"),
                          synthetic_gpu("GPU B", "00000000:02:00.0", 100, 1, minor="0", uuid="GPU-b")])
    assert [(g["index"], g["uuid"]) for g in smi.parse_smi_xml(text)["gpus"]] == [(0, "GPU-a"), (1, "GPU-b")]


def test_inline_dtd_is_parsed_without_fetching(smi_capture):
    text = smi_capture("rai-nvidia-smi/example2.xml")
    assert "<!DOCTYPE nvidia_smi_log [" in text
    assert smi.parse_smi_xml(text)["gpus"][0]["name"] == "GRID K520"


@pytest.mark.parametrize("prefix", ["\n\n\n", "\r\n  \t\n", "\ufeff",
                                    "WARNING: infoROM is corrupted at gpu 0000:00:04.0\n"],
                         ids=["blank-lines", "crlf-whitespace", "bom", "warning-line"])
def test_text_before_the_xml_is_tolerated(smi_capture, prefix):
    facts = smi.parse_smi_xml(prefix + smi_capture("netdata/tesla-p100.xml"))
    assert facts["gpus"][0]["uuid"] == "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e"


def test_bytes_input(smi_capture):
    data = smi_capture("netdata/rtx-3060.xml").encode("utf-8")
    assert smi.parse_smi_xml(data)["gpus"][0]["name"] == "NVIDIA GeForce RTX 3060 Laptop GPU"


def test_mig_mode_na_is_none_and_enabled_is_kept(smi_capture):
    assert "<current_mig>N/A</current_mig>" in smi_capture("vertex/nvidia-smi.xml")
    assert smi.parse_smi_xml(smi_capture("vertex/nvidia-smi.xml"))["gpus"][0]["mig_mode"] is None
    assert smi.parse_smi_xml(smi_capture("netdata/a100-sxm4-mig.xml"))["gpus"][0]["mig_mode"] == "Enabled"


# ---------------------------------------------------------------- driver 610 and v13 (synthetic)

DEPRECATED_DRIVER = "610.57.04 [Deprecated; will be removed in CUDA 14.0. Use KMD Version instead]"
DEPRECATED_CUDA = "13.3 [Deprecated; will be removed in CUDA 14.0. Use CUDA UMD Version instead]"


def test_610_deprecation_notes_appear_in_the_capture(smi_capture):
    text = smi_capture("nvidia_gpu_exporter/linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt")
    assert "Driver Version                                         : " + DEPRECATED_DRIVER in text
    assert "CUDA Version                                           : " + DEPRECATED_CUDA in text


def test_610_prefers_kmd_version():
    """Synthetic 610 document: values from the 610.57.04 capture's -q section."""
    text = synthetic_xml(
        [synthetic_gpu("NVIDIA GeForce RTX 2080 SUPER", "00000000:0C:00.0", 8192, 211, architecture="Turing")],
        driver=DEPRECATED_DRIVER, cuda=DEPRECATED_CUDA,
        extra_header="\t<kmd_version>610.57.04</kmd_version>\n\t<cuda_umd_version>13.3</cuda_umd_version>\n")
    facts = smi.parse_smi_xml(text)
    assert (facts["driver_version"], facts["cuda_version"]) == ("610.57.04", "13.3")
    assert facts["labels"]["nvidia.com/cuda.driver.rev"] == "04"
    assert facts["labels"]["nvidia.com/cuda.runtime.minor"] == "3"


def test_610_note_is_stripped_without_kmd_element():
    text = synthetic_xml([synthetic_gpu("NVIDIA GeForce RTX 2080 SUPER", "00000000:0C:00.0", 8192, 211)],
                         driver=DEPRECATED_DRIVER, cuda=DEPRECATED_CUDA)
    facts = smi.parse_smi_xml(text)
    assert (facts["driver_version"], facts["cuda_version"]) == ("610.57.04", "13.3")


def test_two_part_driver_version_has_no_rev_label():
    """L40S capture: driver 595.80 (GFD would write an empty rev; we leave the label out)."""
    facts = smi.parse_smi_xml(synthetic_xml([synthetic_gpu("NVIDIA L40S", "00000000:01:00.0", 46068, 0,
                                                           architecture="Ada Lovelace")],
                                            driver="595.80", cuda="13.2"))
    labels = facts["labels"]
    assert (labels["nvidia.com/cuda.driver.major"], labels["nvidia.com/cuda.driver.minor"]) == ("595", "80")
    assert "nvidia.com/cuda.driver.rev" not in labels
    assert labels["nvidia.com/gpu.product"] == "NVIDIA-L40S"


# ---------------------------------------------------------------- MIG

def test_a100_mig_devices(smi_capture):
    text = smi_capture("netdata/a100-sxm4-mig.xml")
    # what the capture really holds: no profile names, no MIG UUIDs, SM counts and memory only
    assert text.count("<multiprocessor_count>42</multiprocessor_count>") == 2
    assert "<uuid>MIG-" not in text
    devices = smi.parse_smi_xml(text)["gpus"][0]["mig_devices"]
    # 42 SMs and 4/8 of a 40 GB A100 is NVIDIA's 3g.20gb profile
    assert devices == [{"index": "0:0", "uuid": None, "profile": "3g.20gb"},
                       {"index": "0:1", "uuid": None, "profile": "3g.20gb"}]


def test_h100_mig_profiles_match_nvidia_smi_list(smi_capture):
    """Synthetic XML from the H100 MIG capture's -q values; expected names are what its -L prints."""
    capture = smi_capture(H100_MIG["capture"])
    for dummy, dummy2, dummy3, dummy4, profile in H100_MIG["devices"]:
        assert "MIG %s" % profile in capture
    gpu = smi.parse_smi_xml(mig_capture_xml(H100_MIG))["gpus"][0]
    assert gpu["mig_mode"] == "Enabled"
    assert gpu["mig_devices"] == [
        {"index": "0:0", "uuid": None, "profile": "3g.40gb"},
        {"index": "0:1", "uuid": None, "profile": "2g.20gb"},
        {"index": "0:2", "uuid": None, "profile": "1g.10gb"},
        {"index": "0:3", "uuid": None, "profile": "1g.10gb"},
    ]


def test_h200_compute_instances_sharing_a_gpu_instance_get_no_profile(smi_capture):
    """Synthetic XML from the H200 MIG capture: GI 2 holds two compute instances (-L: 1c.3g.71gb, 2c.3g.71gb)."""
    capture = smi_capture(H200_MIG["capture"])
    assert "MIG 1c.3g.71gb" in capture and "MIG 2c.3g.71gb" in capture
    devices = smi.parse_smi_xml(mig_capture_xml(H200_MIG, with_uuids=True))["gpus"][0]["mig_devices"]
    assert [(d["index"], d["profile"]) for d in devices] == [
        ("0:0", None), ("0:1", None), ("0:2", "2g.35gb"), ("0:3", "1g.18gb"), ("0:4", "1g.18gb")]
    assert devices[1]["uuid"] == "MIG-00000001-0000-0000-0000-000000000001"


@pytest.mark.parametrize("architecture, sms, mig_mib, gpu_mib, expected", [
    ("Ampere", 42, 19968, 40960, "3g.20gb"),    # netdata A100 capture
    ("Hopper", 60, 40448, 81559, "3g.40gb"),    # H100 capture, -L
    ("Hopper", 32, 20096, 81559, "2g.20gb"),
    ("Hopper", 16, 9984, 81559, "1g.10gb"),
    ("Hopper", 32, 33280, 143771, "2g.35gb"),   # H200 capture, -L
    ("Hopper", 16, 16384, 143771, "1g.18gb"),
    ("Hopper", 132, 80896, 81559, "7g.80gb"),   # 132 SMs: 8 slices of 16, capped at 7
    ("hopper", 16, 9984, 81559, "1g.10gb"),     # case-insensitive
    ("Blackwell", 16, 9984, 81559, None),       # unknown SMs per slice: no guess
    (None, 16, 9984, 81559, None),
    ("Hopper", 8, 9984, 81559, None),           # fewer SMs than one slice
    ("Hopper", None, 9984, 81559, None),
    ("Hopper", 16, None, 81559, None),
    ("Hopper", 16, 9984, None, None),
])
def test_mig_profile_name(architecture, sms, mig_mib, gpu_mib, expected):
    assert smi.mig_profile_name(architecture, sms, mig_mib, gpu_mib) == expected


@pytest.mark.parametrize("mig_mib, gpu_mib, expected", [
    (19968, 40960, 20), (71424, 143771, 71), (9984, 81559, 10), (16384, 143771, 18), (0, 40960, None),
    (6144, 40960, 10),  # 1.2 eighths round up to 2: the 10gb profile, not 5gb
])
def test_mig_memory_gb(mig_mib, gpu_mib, expected):
    assert smi.mig_memory_gb(mig_mib, gpu_mib) == expected


# ---------------------------------------------------------------- garbage

@pytest.mark.parametrize("text, fragment", [
    ("", "printed nothing"),
    ("   \n\n", "printed nothing"),
    (None, "printed nothing"),
    ("this is not xml at all", "did not print XML"),
    (NO_DRIVER, "did not print XML"),
    ("<html><body>nope</body></html>", "root element <html>"),
    ('<?xml version="1.0" ?>\n<nvidia_smi_log><driver_version>1</driver_version>', "as XML"),
    ("<nvidia_smi_log><gpu></nvidia_smi_log>", "as XML"),
], ids=["empty", "blank", "none", "text", "no-driver-message", "wrong-root", "truncated", "mismatched-tags"])
def test_garbage_xml_raises_clear_error(text, fragment):
    with pytest.raises(NvidiaSmiError) as caught:
        smi.parse_smi_xml(text)
    assert caught.value.reason == "garbage_output"
    assert fragment in str(caught.value)


def test_truncated_real_capture_raises(smi_capture):
    text = smi_capture("netdata/rtx-4090-driver-535.xml")
    with pytest.raises(NvidiaSmiError) as caught:
        smi.parse_smi_xml(text[:len(text) // 2])
    assert caught.value.reason == "garbage_output"


def test_xml_without_gpus_is_not_present():
    facts = smi.parse_smi_xml(synthetic_xml([]))
    assert (facts["present"], facts["count"], facts["gpus"], facts["labels"]) == (False, 0, [], {})


# ---------------------------------------------------------------- placeholders

@pytest.mark.parametrize("raw", ["N/A", "[N/A]", "[Not Supported]", "Not Supported", "ERR!", "Unknown Error",
                                 "[Unknown Error]", "Not Found", "[Requested functionality has been deprecated]",
                                 "", "   ", None])
def test_placeholders_are_none(raw):
    assert smi.clean_value(raw) is None


@pytest.mark.parametrize("raw, expected", [
    ("Not Active\n            ", "Not Active"),  # as in the A100 capture
    (" Enabled ", "Enabled"),
    ("GPU-XXX9-b02c-1c4ca42113c8", "GPU-XXX9-b02c-1c4ca42113c8"),
])
def test_values_are_stripped(raw, expected):
    assert smi.clean_value(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    (DEPRECATED_DRIVER, "610.57.04"), (DEPRECATED_CUDA, "13.3"), ("535.86.05", "535.86.05"), ("N/A", None),
])
def test_strip_version_note(raw, expected):
    assert smi.strip_version_note(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("0000:00:03.0", "00000000:00:03.0"),
    ("00000000:0C:00.0", "00000000:0c:00.0"),
    ("0000F8D6:00:00.0", "0000f8d6:00:00.0"),
    ("[N/A]", None),
    ("weird", "weird"),
])
def test_normalise_bus_id(raw, expected):
    assert smi.normalise_bus_id(raw) == expected


# ---------------------------------------------------------------- CSV captures

@pytest.mark.parametrize("key", CSV_IDS, ids=["%s#%d" % key for key in CSV_IDS])
def test_csv_capture(smi_capture, key):
    path, section = key
    columns, expected_rows = CSV_CASES[key]
    rows = smi.parse_smi_csv(csv_sections(smi_capture(path))[section])
    assert len(rows) == len(expected_rows)
    for got, expected in zip(rows, expected_rows):
        assert len(got) == columns
        assert all(" [" not in name for name in got)  # unit suffixes removed from the names
        assert dict((name, got[name]) for name in expected) == expected


def test_csv_na_and_deprecated_cells_are_none(smi_capture):
    path = "nvidia_gpu_exporter/linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt"
    row = smi.parse_smi_csv(csv_sections(smi_capture(path))[0])[0]
    assert row["serial"] is None  # [N/A]
    assert row["display_mode"] is None  # [Requested functionality has been deprecated]
    assert row["fan.speed"] == 38 and row["pstate"] == "P8"


def test_csv_header_with_units_but_nounits_values(smi_capture):
    row = smi.parse_smi_csv(smi_capture("netdata/tesla-p100.csv"))[0]
    assert "memory.used" in row and "memory.used [MiB]" not in row
    assert (row["memory.free"], row["power.draw"], row["utilization.gpu"]) == (16280, 28.16, 0)


def test_csv_headerless_with_fields():
    """--query-gpu=pci.bus_id,compute_cap --format=csv,noheader, values from the H100/L40S captures."""
    rows = smi.parse_smi_csv("00000000:00:09.0, 9.0\n00000000:01:00.0, 8.9\n", fields=smi.COMPUTE_CAP_FIELDS)
    assert rows == [{"pci.bus_id": "00000000:00:09.0", "compute_cap": "9.0"},
                    {"pci.bus_id": "00000000:01:00.0", "compute_cap": "8.9"}]


def test_csv_headerless_units_are_stripped():
    rows = smi.parse_smi_csv("GPU-683c6e09-3969-31a5-b7ca-cc88252b7fce, 641 MiB, 100 %, 71, [N/A]\n",
                             fields=["uuid", "memory.used", "utilization.gpu", "temperature.gpu", "fan.speed"])
    assert rows == [{"uuid": "GPU-683c6e09-3969-31a5-b7ca-cc88252b7fce", "memory.used": 641,
                     "utilization.gpu": 100, "temperature.gpu": "71", "fan.speed": None}]


def test_csv_old_driver_error_is_rejected():
    with pytest.raises(NvidiaSmiError) as caught:
        smi.parse_smi_csv('Field "compute_cap" is not a valid field to query.\n\n', fields=smi.COMPUTE_CAP_FIELDS)
    assert caught.value.reason == "garbage_output"
    assert "has 1 values, expected 2" in str(caught.value)


@pytest.mark.parametrize("text", ["", "\n\n"])
def test_csv_empty(text):
    assert smi.parse_smi_csv(text) == []
    assert smi.parse_smi_csv(text, fields=smi.COMPUTE_CAP_FIELDS) == []


# ---------------------------------------------------------------- merging CSV into XML facts

def test_merge_compute_capability_by_bus_id(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("netdata/rtx-4090-driver-535.xml"))
    rows = smi.parse_smi_csv("00000000:84:00.0, 8.9\n", fields=smi.COMPUTE_CAP_FIELDS)
    merged = smi.merge_csv_facts(facts, rows)
    assert merged is facts
    assert facts["gpus"][0]["compute_capability"] == "8.9"
    assert facts["labels"]["nvidia.com/gpu.compute.major"] == "8"
    assert facts["labels"]["nvidia.com/gpu.compute.minor"] == "9"


def test_merge_matches_four_digit_pci_domain(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("rai-nvidia-smi/example1.xml"))  # bus id 0000:00:03.0
    smi.merge_csv_facts(facts, [{"pci.bus_id": "00000000:00:03.0", "compute_cap": "3.0"}])
    assert facts["gpus"][0]["compute_capability"] == "3.0"


def test_merge_out_of_order_gpus(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("pai/nvidia_smi_out_of_order.xml"))
    rows = [{"pci.bus_id": "00001580:00:00.0", "compute_cap": "3.7"},
            {"pci.bus_id": "0000F8D6:00:00.0", "compute_cap": "3.5"}]  # 3.5 is made up to tell them apart
    smi.merge_csv_facts(facts, rows)
    assert [g["compute_capability"] for g in facts["gpus"]] == ["3.7", None, None, "3.5"]
    assert facts["labels"]["nvidia.com/gpu.compute.minor"] == "7"


def test_merge_by_uuid_keeps_xml_values(smi_capture):
    """a0s nvidia-smi-1.csv (no bus id) shares GPU-683c6e09... with nvidia-smi-3.xml."""
    facts = smi.parse_smi_xml(smi_capture("a0s-nvidia-smi-exporter/nvidia-smi-3.xml"))
    before = copy.deepcopy(facts)
    rows = smi.parse_smi_csv(smi_capture("a0s-nvidia-smi-exporter/nvidia-smi-1.csv"))
    smi.merge_csv_facts(facts, rows)
    assert facts["gpus"][0]["memory_used_mib"] == 2900  # XML's, not the CSV's 641
    assert facts == before


def test_merge_fills_only_missing_values(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("a0s-nvidia-smi-exporter/nvidia-smi-3.xml"))
    facts["gpus"][1]["memory_total_mib"] = None
    rows = smi.parse_smi_csv(smi_capture("a0s-nvidia-smi-exporter/nvidia-smi-2.csv"))
    smi.merge_csv_facts(facts, rows)
    assert facts["gpus"][1]["memory_total_mib"] == 8119  # from the CSV row of GPU-90e3dab0...
    assert facts["gpus"][1]["memory_used_mib"] == 2893  # the XML's value stays


def test_merge_ignores_duplicated_masked_uuids():
    masked = "GPU-00000000-0000-0000-0000-000000000000"
    facts = smi.parse_smi_xml(synthetic_xml([
        synthetic_gpu("NVIDIA H200", "00000000:83:00.0", 143771, 0, minor="0", uuid=masked),
        synthetic_gpu("NVIDIA H200", "00000000:84:00.0", 143771, 0, minor="1", uuid=masked)]))
    smi.merge_csv_facts(facts, [{"uuid": masked, "compute_cap": "9.0"}, {"uuid": masked, "compute_cap": "8.0"}])
    assert [g["compute_capability"] for g in facts["gpus"]] == [None, None]
    smi.merge_csv_facts(facts, [{"uuid": masked, "pci.bus_id": "00000000:84:00.0", "compute_cap": "9.0"}])
    assert [g["compute_capability"] for g in facts["gpus"]] == [None, "9.0"]


@pytest.mark.parametrize("value", [None, "[N/A]", "garbage", "9"])
def test_merge_rejects_unusable_compute_capability(smi_capture, value):
    facts = smi.parse_smi_xml(smi_capture("netdata/tesla-p100.xml"))
    smi.merge_csv_facts(facts, [{"pci.bus_id": "00000000:00:04.0", "compute_cap": value}])
    assert facts["gpus"][0]["compute_capability"] is None
    assert "nvidia.com/gpu.compute.major" not in facts["labels"]


def test_needs_compute_capability(smi_capture):
    facts = smi.parse_smi_xml(smi_capture("netdata/tesla-p100.xml"))
    assert smi.needs_compute_capability(facts) is True
    smi.merge_csv_facts(facts, [{"pci.bus_id": "00000000:00:04.0", "compute_cap": "6.0"}])
    assert smi.needs_compute_capability(facts) is False
    assert smi.needs_compute_capability(smi.absent_facts()) is False


# ---------------------------------------------------------------- labels

@pytest.mark.parametrize("name, expected", [
    ("NVIDIA GeForce RTX 4090", "NVIDIA-GeForce-RTX-4090"),
    ("Tesla P100-PCIE-16GB", "Tesla-P100-PCIE-16GB"),
    ("NVIDIA  RTX   A6000", "NVIDIA-RTX-A6000"),
    ("NVIDIA A100 (80GB) [PCIe]", "NVIDIA-A100-80GB-PCIe"),
    ("_odd name.", "odd-name"),
    ("X" * 70, "X" * 63),
    ("N/A", None),
    ("()", None),
])
def test_gfd_sanitise(name, expected):
    assert smi.gfd_sanitise(name) == expected


def test_labels_empty_when_absent():
    assert smi.gfd_labels(smi.absent_facts()) == {}
    assert smi.absent_facts(wsl=True)["wsl"] is True


def test_long_product_names_stay_valid_label_values():
    name = "NVIDIA Some Very Long Product Name That Goes On And On Past Sixty-Three Characters-"
    labels = smi.parse_smi_xml(synthetic_xml([synthetic_gpu(name, "00000000:01:00.0", 1, 0)]))["labels"]
    assert K8S_LABEL_VALUE.match(labels["nvidia.com/gpu.product"])


@pytest.mark.parametrize("value, valid", [
    ("true", True), ("8", True), ("NVIDIA-GeForce-RTX-4090", True), ("a.b_c-d", True),
    ("", False), ("-x", False), ("x-", False), ("a b", False), ("x" * 64, False), (8, False),
])
def test_is_valid_label_value(value, valid):
    assert smi.is_valid_label_value(value) is valid


# ---------------------------------------------------------------- WSL and the search order

class Finder:
    """Fake PATH lookup and executable test that record what was asked."""

    def __init__(self, on_path=None, executables=()):
        self.on_path = on_path
        self.executables = set(executables)
        self.calls = []

    def which(self, name):
        self.calls.append(("which", name))
        return self.on_path

    def is_executable(self, path):
        self.calls.append(("exec", path))
        return path in self.executables


def test_search_prefers_the_option():
    finder = Finder(on_path="/usr/bin/nvidia-smi", executables={"/opt/nv/nvidia-smi", "/usr/bin/nvidia-smi"})
    assert smi.find_nvidia_smi("/opt/nv/nvidia-smi", finder.which, finder.is_executable) == "/opt/nv/nvidia-smi"
    assert finder.calls == [("exec", "/opt/nv/nvidia-smi")]


def test_missing_explicit_path_raises():
    finder = Finder(on_path="/usr/bin/nvidia-smi", executables={"/usr/bin/nvidia-smi"})
    with pytest.raises(NvidiaSmiError) as caught:
        smi.find_nvidia_smi("/nope/nvidia-smi", finder.which, finder.is_executable)
    assert caught.value.reason == "not_found"
    assert "nvidia_smi_path=/nope/nvidia-smi does not exist or is not an executable file" in str(caught.value)
    assert ("which", "nvidia-smi") not in finder.calls  # no silent fallback


def test_search_path_before_wsl_and_usr_bin():
    finder = Finder(on_path="/usr/local/bin/nvidia-smi", executables={smi.WSL_NVIDIA_SMI, "/usr/bin/nvidia-smi"})
    assert smi.find_nvidia_smi(None, finder.which, finder.is_executable) == "/usr/local/bin/nvidia-smi"
    assert finder.calls == [("which", "nvidia-smi")]


def test_search_wsl_before_usr_bin():
    finder = Finder(executables={"/usr/lib/wsl/lib/nvidia-smi", "/usr/bin/nvidia-smi"})
    assert smi.find_nvidia_smi("", finder.which, finder.is_executable) == "/usr/lib/wsl/lib/nvidia-smi"
    assert finder.calls == [("which", "nvidia-smi"), ("exec", "/usr/lib/wsl/lib/nvidia-smi")]


def test_search_usr_bin_last():
    finder = Finder(executables={"/usr/bin/nvidia-smi"})
    assert smi.find_nvidia_smi(None, finder.which, finder.is_executable) == "/usr/bin/nvidia-smi"
    assert finder.calls == [("which", "nvidia-smi"), ("exec", "/usr/lib/wsl/lib/nvidia-smi"),
                            ("exec", "/usr/bin/nvidia-smi")]


def test_search_finds_nothing():
    finder = Finder()
    assert smi.find_nvidia_smi(None, finder.which, finder.is_executable) is None
    assert "searched PATH, /usr/lib/wsl/lib/nvidia-smi and /usr/bin/nvidia-smi" in smi.not_found_message()


@pytest.mark.parametrize("release, interop, lib_dir, expected", [
    ("5.15.153.1-microsoft-standard-WSL2", False, False, True),
    ("6.6.87.2-microsoft-standard-WSL2", False, False, True),
    ("4.4.0-19041-Microsoft", False, False, True),  # WSL 1
    ("6.1.0-25-amd64", False, False, False),
    ("5.14.0-427.13.1.el9_4.x86_64", False, False, False),
    ("6.1.0-25-amd64", True, False, True),  # custom kernel, WSLInterop registered
    ("6.1.0-25-amd64", False, True, True),  # custom kernel, /usr/lib/wsl mounted
    (None, False, False, False),
])
def test_is_wsl(release, interop, lib_dir, expected):
    assert smi.is_wsl(release, interop, lib_dir) is expected


# ---------------------------------------------------------------- failure classification

def test_no_driver():
    error = smi.classify_failure(9, NO_DRIVER, "")
    assert error.reason == "no_driver"
    message = str(error)
    assert "rc=9" in message
    assert "couldn't communicate with the NVIDIA driver" in message
    assert "install the NVIDIA driver" in message and "modprobe nvidia" in message


def test_no_driver_on_wsl_points_at_windows():
    message = str(smi.classify_failure(9, NO_DRIVER, "", wsl=True))
    assert "Windows host" in message
    assert "Never install a Linux NVIDIA driver inside WSL" in message


def test_missing_nvml_library_is_no_driver():
    error = smi.classify_failure(
        12, "NVIDIA-SMI couldn't find libnvidia-ml.so library in your system. Please make sure that the NVIDIA "
            "Display Driver is properly installed and present in your system.\n", "")
    assert error.reason == "no_driver"


@pytest.mark.parametrize("stdout, stderr", [(MISMATCH, ""), ("", MISMATCH)], ids=["stdout", "stderr"])
def test_version_mismatch(stdout, stderr):
    error = smi.classify_failure(18, stdout, stderr)
    assert error.reason == "version_mismatch"
    message = str(error)
    assert "Driver/library version mismatch" in message
    assert "NVML library 550.144" in message
    assert "reboot the node" in message and "reload the nvidia kernel modules" in message
    assert "Do not reinstall the driver" in message
    assert "WSL" not in message


def test_version_mismatch_without_library_line_on_wsl():
    error = smi.classify_failure(18, "Failed to initialize NVML: Driver/library version mismatch\n", "", wsl=True)
    assert error.reason == "version_mismatch"
    assert "NVML library" not in str(error)
    assert "Linux NVIDIA driver installed inside the distribution" in str(error)


def test_no_devices():
    error = smi.classify_failure(6, "No devices were found\n", "")
    assert error.reason == "no_devices"
    assert '"No devices were found"' in str(error)


@pytest.mark.parametrize("rc, stdout, stderr, fragment", [
    (255, "Failed to initialize NVML: Unknown Error\n", "", 'rc=255) with output: "Failed to initialize NVML: '
                                                            'Unknown Error"'),
    (-9, "", "", 'rc=-9) with output: "(none)"'),
    (4, "", "Insufficient Permissions", '"Insufficient Permissions"'),
])
def test_unknown_failure_quotes_rc_and_output(rc, stdout, stderr, fragment):
    error = smi.classify_failure(rc, stdout, stderr)
    assert error.reason == "unknown"
    assert fragment in str(error)


def test_one_byte_that_is_not_utf8_does_not_lose_the_facts(smi_capture):
    """Issue 14 defect 6: AnsibleModule.run_command hands a non-UTF-8 byte over as a lone surrogate
    (surrogateescape); XML parsing refused the whole output, so every fact was lost."""
    import json

    data = smi_capture("netdata/tesla-p100.xml").encode("utf-8")
    bad = data.replace(b"Tesla P100-PCIE-16GB</product_name>", b"Tesla P100-PCIE-16GB\xff</product_name>", 1)
    assert bad != data
    text = bad.decode("utf-8", "surrogateescape")  # what run_command returns
    facts = smi.parse_smi_xml(text)
    assert facts["present"] is True
    assert facts["gpus"][0]["name"] == "Tesla P100-PCIE-16GB\ufffd"
    assert facts["gpus"][0]["uuid"] == "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e"
    json.dumps(facts)  # and the facts can be returned by the module
    csv_text = b"name, compute_cap\nTesla P100\xff, 6.0\n".decode("utf-8", "surrogateescape")
    assert smi.parse_smi_csv(csv_text)[0]["compute_cap"] == "6.0"
