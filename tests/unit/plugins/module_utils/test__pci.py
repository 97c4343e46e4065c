# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PCI reader, flavour choice and driver state, on a tree built from a real H200 capture."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _pci
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.real_gpu_tree import H200, build_tree


def test_reads_every_device_of_the_real_capture(tmp_path):
    root = build_tree(str(tmp_path))
    devices = _pci.read_pci_devices(root)
    assert [d["address"] for d in devices] == ["0000:00:0%d.0" % i for i in range(7)]
    assert devices[0] == {"address": "0000:00:00.0", "vendor_id": "0x8086", "device_id": "0x0d57",
                          "class": "0x060000", "driver": None}
    assert devices[1]["driver"] == "virtio-pci"
    assert devices[6] == {"address": H200, "vendor_id": "0x10de", "device_id": "0x2335",
                          "class": "0x030200", "driver": "nvidia"}


def test_only_the_h200_is_a_gpu(tmp_path):
    root = build_tree(str(tmp_path))
    gpus = _pci.nvidia_gpus(_pci.read_pci_devices(root))
    assert [g["address"] for g in gpus] == [H200]


def test_driverless_h200_has_no_driver_and_no_module(tmp_path):
    root = build_tree(str(tmp_path), driver_loaded=False)
    gpus = _pci.nvidia_gpus(_pci.read_pci_devices(root))
    assert gpus[0]["driver"] is None
    assert _pci.read_loaded_module(root) == (None, None)
    state = _pci.driver_state(gpus, False, "not_found", None, None)
    assert state == {"loaded": False, "state": "not_installed", "version": None, "flavour": None,
                     "recommended_flavour": "open"}


def test_loaded_module_of_the_capture_is_the_open_flavour(tmp_path):
    root = build_tree(str(tmp_path))
    assert _pci.read_loaded_module(root) == ("580.159.04", "open")


def test_proprietary_proc_version():
    text = ("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n"
            "GCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n")
    assert _pci.parse_proc_version(text) == ("535.183.01", "proprietary")
    assert _pci.parse_proc_version("") == (None, None)


def test_nvidia_audio_function_and_other_vendors_are_not_gpus(tmp_path):
    root = build_tree(str(tmp_path), driver_loaded=False, extra_devices={
        "0000:01:00.0": ("0x10de", "0x2684", "0x030000", None),          # RTX 4090 VGA
        "0000:01:00.1": ("0x10de", "0x22ba", "0x040300", "snd_hda_intel"),  # its HDMI audio
        "0000:02:00.0": ("0x1002", "0x744c", "0x030000", "amdgpu"),       # an AMD card
    })
    gpus = _pci.nvidia_gpus(_pci.read_pci_devices(root))
    assert [g["address"] for g in gpus] == ["0000:00:06.0", "0000:01:00.0"]


def test_missing_sysfs_gives_no_devices(tmp_path):
    assert _pci.read_pci_devices(str(tmp_path)) == []


def test_unreadable_entries_are_skipped(tmp_path):
    root = build_tree(str(tmp_path), extra_devices={"0000:09:00.0": ("garbage", "0x1", "0x030000", None)})
    assert "0000:09:00.0" not in [d["address"] for d in _pci.read_pci_devices(root)]


@pytest.mark.parametrize("device_id, flavour", [
    ("0x1b06", "proprietary"),  # GTX 1080 Ti (Pascal)
    ("0x15f8", "proprietary"),  # Tesla P100
    ("0x1db4", "proprietary"),  # Tesla V100 (Volta)
    ("0x1e04", "open"),         # RTX 2080 Ti (Turing TU102)
    ("0x1eb8", "open"),         # Tesla T4 (TU104)
    ("0x25b6", "open"),         # A2 (Ampere), the RHEL 9 server's card
    ("0x2504", "open"),         # RTX 3060
    ("0x2684", "open"),         # RTX 4090 (Ada)
    ("0x2335", "open"),         # H200 (Hopper), the real capture
    ("0x2b85", "open"),         # RTX 5090 (Blackwell)
])
def test_flavour_by_device_id(device_id, flavour):
    assert _pci.flavour_for_device_id(device_id) == flavour


def _gpu(device_id):
    return {"address": "x", "vendor_id": "0x10de", "device_id": device_id, "class": "0x030000", "driver": None}


def test_mixed_old_and_new_gpus_need_the_proprietary_module():
    assert _pci.recommended_flavour([_gpu("0x2684"), _gpu("0x1b06")]) == "proprietary"
    assert _pci.recommended_flavour([_gpu("0x2684")]) == "open"
    assert _pci.recommended_flavour([]) is None


@pytest.mark.parametrize("smi_found, reason, bound, version, state", [
    (True, None, True, "580.159.04", "loaded"),
    (False, "not_found", False, None, "not_installed"),
    (True, "no_driver", False, None, "not_loaded"),
    (True, "version_mismatch", True, "570.1", "mismatch"),
    (False, "not_found", True, "580.159.04", "loaded"),  # module bound, nvidia-smi not installed
])
def test_driver_states(smi_found, reason, bound, version, state):
    gpu = _gpu("0x2335")
    gpu["driver"] = "nvidia" if bound else None
    result = _pci.driver_state([gpu], smi_found, reason, version, None)
    assert result["state"] == state and result["loaded"] is (state == "loaded")


def test_pci_note_names_the_gpu_and_its_driver(tmp_path):
    gpus = _pci.nvidia_gpus(_pci.read_pci_devices(build_tree(str(tmp_path), driver_loaded=False)))
    assert _pci.pci_note(gpus) == " The PCI bus shows NVIDIA 0x2335 at 0000:00:06.0, with no driver bound."
    assert _pci.pci_note([]) == ""
