# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the PCI reader (plugins/module_utils/_pci.py) on a machine with a real NVIDIA GPU.

Loads the file by path (it needs only the standard library), reads the REAL /sys and
/proc, prints what it found as JSON, and exits 1 unless it found at least one NVIDIA
GPU with the nvidia driver bound and a loaded module with a version and flavour.
usage: python3 tests/device/pci_reader_on_real_gpu.py
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PCI = os.path.join(HERE, "..", "..", "plugins", "module_utils", "_pci.py")


def main():
    spec = importlib.util.spec_from_file_location("_pci", PCI)
    pci = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pci)
    devices = pci.read_pci_devices("/")
    gpus = pci.nvidia_gpus(devices)
    version, flavour = pci.read_loaded_module("/")
    smi = shutil.which("nvidia-smi")
    smi_rc = subprocess.run([smi, "-L"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            check=False).returncode if smi else None
    state = pci.driver_state(gpus, bool(smi), None if smi_rc == 0 else "no_driver", version, flavour)
    print(json.dumps({"devices": devices, "gpus": gpus, "module": [version, flavour],
                      "nvidia_smi_rc": smi_rc, "driver": state}, indent=2))
    ok = bool(gpus) and all(g["driver"] == "nvidia" for g in gpus) and version and flavour and state["loaded"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
