# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""See NVIDIA GPUs on the PCI bus without a driver, and work out the driver state.

A freshly installed server has a GPU but no driver and no nvidia-smi. The kernel
still lists the card in sysfs:

* ``/sys/bus/pci/devices/<address>/vendor``  ``0x10de`` for NVIDIA
* ``.../device``                              the PCI device id, e.g. ``0x2335`` (H200)
* ``.../class``                               ``0x03xxxx`` = display controller (VGA ``0x0300``,
                                              3D controller ``0x0302`` as on data-centre cards)
* ``.../driver``                              a symlink to the bound driver (``.../drivers/nvidia``),
                                              absent while no driver has claimed the device

and ``/proc/driver/nvidia/version`` exists once the nvidia kernel module is loaded
(``NVRM version: NVIDIA UNIX Open Kernel Module ...`` for the open flavour,
``NVIDIA UNIX x86_64 Kernel Module`` for the proprietary one).

Kernel module flavour: NVIDIA's open kernel modules support Turing and newer GPUs
only, and are NVIDIA's recommended default there; older GPUs (Maxwell, Pascal, Volta)
need the proprietary module. Turing's first device ids are 0x1E00 (TU102), and every
later architecture (Ampere 0x20xx-0x25xx, Ada 0x26xx-0x28xx, Hopper 0x23xx,
Blackwell 0x29xx and up) has higher ids, while Volta and older stay below 0x1E00
(GV100 0x1DBx, Pascal 0x15xx-0x1Dxx). So: device id >= 0x1E00 -> "open", else
"proprietary". A node with GPUs on both sides of the line needs the proprietary
module (the open one would leave the old GPU without a driver).

Plain functions; the file-system reads take a root so tests can point them at a
temporary tree built from a real capture (tests/fixtures/real-gpu/).
"""

from __future__ import annotations

import os

NVIDIA_VENDOR_ID = "0x10de"
DISPLAY_CLASS_PREFIX = "0x03"  # PCI base class 0x03: display controller
TURING_FIRST_DEVICE_ID = 0x1E00
PCI_DEVICES_DIR = "sys/bus/pci/devices"
PROC_DRIVER_VERSION = "proc/driver/nvidia/version"
NVIDIA_DRIVER_NAMES = ("nvidia",)


def _read(path):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace").strip()
    except (IOError, OSError):
        return None


def _bound_driver(device_dir):
    """Name of the driver bound to the device (basename of the ``driver`` symlink), or None."""
    link = os.path.join(device_dir, "driver")
    try:
        target = os.readlink(link)
    except (IOError, OSError):
        return None
    name = os.path.basename(target.rstrip("/"))
    return name or None


def _hex_id(text, width):
    """'0x10de' / '10DE' -> '0x10de'; None for anything that is not a hex number."""
    if not text:
        return None
    value = text.strip().lower()
    if value.startswith("0x"):
        value = value[2:]
    try:
        number = int(value, 16)
    except ValueError:
        return None
    return "0x%0*x" % (width, number)


def read_pci_devices(root="/"):
    """Every PCI device under ``<root>/sys/bus/pci/devices``, sorted by address.

    Each: {address, vendor_id, device_id, class, driver}; ids as lower-case
    ``0x`` hex, ``driver`` the bound driver's name or None. Unreadable entries
    are skipped; a missing directory (a container without sysfs, WSL) gives [].
    """
    base = os.path.join(root, PCI_DEVICES_DIR)
    try:
        names = sorted(os.listdir(base))
    except (IOError, OSError):
        return []
    devices = []
    for address in names:
        device_dir = os.path.join(base, address)
        vendor = _hex_id(_read(os.path.join(device_dir, "vendor")), 4)
        device = _hex_id(_read(os.path.join(device_dir, "device")), 4)
        pci_class = _hex_id(_read(os.path.join(device_dir, "class")), 6)
        if vendor is None or device is None or pci_class is None:
            continue
        devices.append({
            "address": address,
            "vendor_id": vendor,
            "device_id": device,
            "class": pci_class,
            "driver": _bound_driver(device_dir),
        })
    return devices


def nvidia_gpus(devices):
    """The NVIDIA display/3D controllers among ``devices`` (not their audio or USB functions)."""
    return [dev for dev in devices
            if dev["vendor_id"] == NVIDIA_VENDOR_ID and dev["class"].startswith(DISPLAY_CLASS_PREFIX)]


def flavour_for_device_id(device_id):
    """'open' for Turing and newer (device id >= 0x1E00), 'proprietary' for older GPUs."""
    return "open" if int(device_id, 16) >= TURING_FIRST_DEVICE_ID else "proprietary"


def recommended_flavour(gpus):
    """Flavour for all of the node's GPUs: 'open' only if every GPU supports it; None without GPUs."""
    flavours = set(flavour_for_device_id(gpu["device_id"]) for gpu in gpus)
    if not flavours:
        return None
    return "proprietary" if "proprietary" in flavours else "open"


def parse_proc_version(text):
    """(version, flavour) from /proc/driver/nvidia/version; (None, None) when unknown."""
    if not text:
        return None, None
    first = text.splitlines()[0]
    if "Open Kernel Module" in first:
        flavour = "open"
    elif "Kernel Module" in first:
        flavour = "proprietary"
    else:
        flavour = None
    version = None
    for word in first.split():
        parts = word.split(".")
        if len(parts) >= 2 and all(part.isdigit() for part in parts):
            version = word
            break
    return version, flavour


def read_loaded_module(root="/"):
    """(version, flavour) of the loaded nvidia kernel module, or (None, None) when none is loaded."""
    return parse_proc_version(_read(os.path.join(root, PROC_DRIVER_VERSION)))


def driver_state(gpus, smi_found, smi_failure_reason, module_version, module_flavour):
    """Classify the driver of a node whose PCI bus shows ``gpus``.

    smi_found: nvidia-smi exists; smi_failure_reason: None when it answered, else
    the NvidiaSmiError reason (no_driver, version_mismatch, ...);
    module_version/flavour: from /proc/driver/nvidia/version.

    Returns the ``driver`` facts: {loaded, state, version, flavour,
    recommended_flavour}. ``state`` is one of
      loaded         nvidia-smi answered (or, without nvidia-smi, the module is bound to every GPU)
      not_installed  no nvidia-smi and no nvidia module bound: the driver must be installed
      not_loaded     nvidia-smi exists but cannot talk to a driver (module not built/loaded,
                     e.g. after a kernel update or refused by Secure Boot)
      mismatch       the loaded module and the user-space libraries differ (reboot)
    """
    bound = bool(gpus) and all(gpu["driver"] in NVIDIA_DRIVER_NAMES for gpu in gpus)
    if smi_found and smi_failure_reason is None:
        state = "loaded"
    elif smi_failure_reason == "version_mismatch":
        state = "mismatch"
    elif smi_found:
        state = "not_loaded"
    elif bound or module_version:
        state = "loaded"
    else:
        state = "not_installed"
    return {
        "loaded": state == "loaded",
        "state": state,
        "version": module_version,
        "flavour": module_flavour,
        "recommended_flavour": recommended_flavour(gpus),
    }


def pci_note(gpus):
    """' The PCI bus shows ...' for a message, or '' without GPUs."""
    if not gpus:
        return ""
    return " The PCI bus shows %s, with %s." % (
        ", ".join("NVIDIA %s at %s" % (gpu["device_id"], gpu["address"]) for gpu in gpus),
        ", ".join(sorted(set("driver %s" % gpu["driver"] if gpu["driver"] else "no driver bound"
                             for gpu in gpus))))
