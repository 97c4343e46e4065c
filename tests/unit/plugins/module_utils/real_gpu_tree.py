# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build a sysfs/procfs tree from the real H200 capture (tests/fixtures/real-gpu/h200-580.159.04).

The capture stores each device's bound driver as the basename in ``driver.name``
(sysfs has a symlink there); the tree gets a real ``driver`` symlink pointing
where the kernel's does (``../../../bus/pci/drivers/<name>``).
"""

from __future__ import annotations

import os
import shutil

CAPTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                       "fixtures", "real-gpu", "h200-580.159.04")
H200 = "0000:00:06.0"


def build_tree(dest, driver_loaded=True, gpu_driver="nvidia", extra_devices=None):
    """Copy the capture's PCI devices (and /proc/driver/nvidia when loaded) under ``dest``.

    driver_loaded=False: the H200 has no driver bound and /proc/driver/nvidia is absent,
    as on the same machine before the driver was installed.
    extra_devices: {address: (vendor, device, class, driver or None)} added as well.
    """
    devices = os.path.join(dest, "sys", "bus", "pci", "devices")
    os.makedirs(devices)
    src_devices = os.path.join(CAPTURE, "sys", "bus", "pci", "devices")
    for stored in sorted(os.listdir(src_devices)):
        # the capture stores "0000:00:06.0" as "0000_00_06.0" (see its PROVENANCE.md)
        address = stored.replace("_", ":")
        src = os.path.join(src_devices, stored)
        dst = os.path.join(devices, address)
        os.makedirs(dst)
        for name in os.listdir(src):
            if name != "driver.name":
                shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))
        driver_name = os.path.join(src, "driver.name")
        if os.path.exists(driver_name):
            with open(driver_name) as handle:
                driver = handle.read().strip()
            if address == H200:
                if not driver_loaded:
                    continue
                driver = gpu_driver
            os.symlink("../../../bus/pci/drivers/%s" % driver, os.path.join(dst, "driver"))
    for address, (vendor, device, pci_class, driver) in (extra_devices or {}).items():
        dst = os.path.join(devices, address)
        os.makedirs(dst)
        for name, value in (("vendor", vendor), ("device", device), ("class", pci_class)):
            with open(os.path.join(dst, name), "w") as handle:
                handle.write(value + "\n")
        if driver:
            os.symlink("../../../bus/pci/drivers/%s" % driver, os.path.join(dst, "driver"))
    if driver_loaded:
        proc = os.path.join(dest, "proc", "driver", "nvidia")
        os.makedirs(proc)
        shutil.copyfile(os.path.join(CAPTURE, "proc", "driver", "nvidia", "version"), os.path.join(proc, "version"))
    return dest
