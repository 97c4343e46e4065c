# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Expected values for the real nvidia-smi captures in shared/fixtures/nvidia-smi.

Every value below was read from the capture file itself (grep / by eye), not
from the parser's output. Paths are relative to shared/fixtures/nvidia-smi; see
its INDEX.md for provenance.
"""

from __future__ import annotations

import re


def gpu(index, uuid, name, bus, total, used, mig_mode=None, mig_devices=None):
    return {
        "index": index,
        "uuid": uuid,
        "name": name,
        "pci_bus_id": bus,
        "memory_total_mib": total,
        "memory_used_mib": used,
        "compute_capability": None,  # never in the XML
        "mig_mode": mig_mode,
        "mig_devices": mig_devices or [],
    }


# path -> expected facts (labels are checked separately)
XML_CASES = {
    # DTD v7, driver 352, no cuda_version element, 4-digit PCI domain
    "rai-nvidia-smi/example1.xml": dict(
        driver_version="352.99", cuda_version=None, attached_gpus=1,
        gpus=[gpu(0, "GPU-cc96d6f4-7f66-e1fc-8179-a45dbd47664c", "GRID K520", "0000:00:03.0", 4095, 11)]),
    # same host, inline <!DOCTYPE nvidia_smi_log [ ... ]> (nvidia-smi -q -x --dtd)
    "rai-nvidia-smi/example2.xml": dict(
        driver_version="352.99", cuda_version=None, attached_gpus=1,
        gpus=[gpu(0, "GPU-cc96d6f4-7f66-e1fc-8179-a45dbd47664c", "GRID K520", "0000:00:03.0", 4095, 11)]),
    # DTD v9, driver 384: attached_gpus 6 but two <gpu> elements
    "pai/nvidia_smi_sample.xml": dict(
        driver_version="384.66", cuda_version=None, attached_gpus=6,
        gpus=[gpu(0, "GPU-e511a7b2-f9d5-ba47-9b98-853732ca6c1b", "GeForce GTX 1070", "00000000:01:00.0", 8112, 2028),
              gpu(1, "GPU-28daffaf-8abe-aaf8-c298-4bd13aecb5e6", "GeForce GTX 1070", "00000000:03:00.0", 8114, 4057)]),
    # DTD v10: <cuda_version>Not Found</cuda_version>; document (= NVML index, PCI) order
    # has minor numbers 1, 2, 3, 0: the index follows the document, not minor_number
    "pai/nvidia_smi_out_of_order.xml": dict(
        driver_version="430.26", cuda_version=None, attached_gpus=4,
        gpus=[gpu(0, "GPU-c3b26f7a-8dcb-619c-fa1b-8029265a4db0", "Tesla K80", "00001580:00:00.0", 11441, 587),
              gpu(1, "GPU-b01b80eb-0f18-1df0-cf88-0725bd90f1e1", "Tesla K80", "00002DF7:00:00.0", 11441, 587),
              gpu(2, "GPU-30bc2701-3bc2-5f35-0ebd-9867a077e138", "Tesla K80", "00004968:00:00.0", 11441, 0),
              gpu(3, "GPU-3341aba2-f01d-2c1f-7dd4-e389779faec2", "Tesla K80", "0000F8D6:00:00.0", 11441, 0)]),
    "pai/nvidia_smi_sample_ecc_unsupported.xml": dict(
        driver_version="410.73", cuda_version="10.0", attached_gpus=2,
        gpus=[gpu(0, "GPU-57567e11-0be2-381b-5132-2ad95c262e58", "GeForce RTX 2080 Ti", "00000000:02:00.0", 10989, 0),
              gpu(1, "GPU-ef1d0068-5bfd-f1e4-7e79-ff35d71d44b8", "GeForce RTX 2080 Ti", "00000000:03:00.0", 10989, 0)]),
    "a0s-nvidia-smi-exporter/nvidia-smi-3.xml": dict(
        driver_version="460.27.04", cuda_version="11.2", attached_gpus=2,
        gpus=[gpu(0, "GPU-683c6e09-3969-31a5-b7ca-cc88252b7fce", "GeForce GTX 1080", "00000000:01:00.0", 8116, 2900),
              gpu(1, "GPU-90e3dab0-b59d-8bf6-d909-d4fab8d2f29b", "GeForce GTX 1080", "00000000:03:00.0", 8119, 2893)]),
    "a0s-nvidia-smi-exporter/nvidia-smi-4.xml": dict(
        driver_version="418.56", cuda_version="10.1", attached_gpus=1,
        gpus=[gpu(0, "GPU-1ffe36ef-ac55-60ad-f9cf-623871e7736d", "Quadro P2000", "00000000:04:00.0", 5059, 319)]),
    # Windows (WDDM): minor_number N/A -> index by position
    "lampaa-nvidia-smi-rest/smi_test_1.xml": dict(
        driver_version="436.48", cuda_version="10.1", attached_gpus=1,
        gpus=[gpu(0, "GPU-a9685d8a-fbf2-7465-ee1f-307141ef06a8", "GeForce GTX 1050", "00000000:01:00.0", 2048, 68)]),
    "lampaa-nvidia-smi-rest/smi_test_3.xml": dict(
        driver_version="440.59", cuda_version="10.2", attached_gpus=1,
        gpus=[gpu(0, "GPU-36d93047-20d4-1f53-260a-613eac368c41", "GeForce GTX 1060 6GB", "00000000:09:00.0", 6077, 0)]),
    "lampaa-nvidia-smi-rest/smi_test_4.xml": dict(
        driver_version="440.59", cuda_version="10.2", attached_gpus=1,
        gpus=[gpu(0, "GPU-603c37b8-6a15-4062-1b3e-29ff3afcea1d", "GeForce GTX 1650 SUPER", "00000000:06:00.0", 3911, 0)]),
    # UUID hand-masked upstream into a malformed value
    "lampaa-nvidia-smi-rest/smi_test_5.xml": dict(
        driver_version="440.59", cuda_version="10.2", attached_gpus=1,
        gpus=[gpu(0, "GPU-XXX9-b02c-1c4ca42113c8", "GeForce GT 730", "00000000:20:00.0", 2001, 0)]),
    # DTD v11, <current_mig>N/A</current_mig>
    "lampaa-nvidia-smi-rest/smi_test_6.xml": dict(
        driver_version="450.80.02", cuda_version="11.0", attached_gpus=1,
        gpus=[gpu(0, "GPU-4c049112-c7f5-5135-55da-7b4be79fb20b", "Quadro P2200", "00000000:26:00.0", 5058, 1168)]),
    "lampaa-nvidia-smi-rest/smi_test_7.xml": dict(
        driver_version="418.56", cuda_version="10.1", attached_gpus=1,
        gpus=[gpu(0, "GPU-44ed723b-7f9c-07da-236b-347ab81deddf", "GeForce GTX 1050 Ti", "00000000:03:00.0", 4040, 286)]),
    "vertex/nvidia-smi.xml": dict(
        driver_version="470.82.00", cuda_version="11.4", attached_gpus=1,
        gpus=[gpu(0, "GPU-0a6f6ce9-a8af-8c8c-b329-c5338f155fb1", "NVIDIA GeForce GTX 1070 Ti", "00000000:09:00.0",
                  8116, 1027)]),
    # MIG enabled, two MIG devices of 42 SMs / 19968 MiB each on a 40960 MiB A100 (no MIG UUIDs in this XML)
    "netdata/a100-sxm4-mig.xml": dict(
        driver_version="510.47.03", cuda_version="11.6", attached_gpus=1,
        gpus=[gpu(0, "GPU-27b94a00-ed54-5c24-b1fd-1054085de32a", "NVIDIA A100-SXM4-40GB", "00000000:00:04.0",
                  40960, 38, mig_mode="Enabled",
                  mig_devices=[{"index": "0:0", "uuid": None, "profile": "3g.20gb"},
                               {"index": "0:1", "uuid": None, "profile": "3g.20gb"}])]),
    # Windows: minor_number N/A
    "netdata/rtx-2080-win.xml": dict(
        driver_version="516.59", cuda_version="11.7", attached_gpus=1,
        gpus=[gpu(0, "GPU-fbd55ed4-1eec-4423-0a47-ad594b4333e3", "NVIDIA GeForce RTX 2080", "00000000:0A:00.0",
                  8192, 862)]),
    "netdata/rtx-3060.xml": dict(
        driver_version="515.65.01", cuda_version="11.7", attached_gpus=1,
        gpus=[gpu(0, "GPU-473d8d0f-d462-185c-6b36-6fc23e23e571", "NVIDIA GeForce RTX 3060 Laptop GPU",
                  "00000000:01:00.0", 6144, 5)]),
    # DTD v12 (535 layout)
    "netdata/rtx-4090-driver-535.xml": dict(
        driver_version="535.86.05", cuda_version="12.2", attached_gpus=1,
        gpus=[gpu(0, "GPU-71d1acc2-662d-2166-bf9f-65272d2fc437", "NVIDIA GeForce RTX 4090", "00000000:84:00.0",
                  24564, 2)]),
    "netdata/tesla-p100.xml": dict(
        driver_version="510.47.03", cuda_version="11.6", attached_gpus=1,
        gpus=[gpu(0, "GPU-d3da8716-eaab-75db-efc1-60e88e1cd55e", "Tesla P100-PCIE-16GB", "00000000:00:04.0",
                  16384, 0)]),
}

# GFD labels expected for a few captures (all captures are checked for validity)
XML_LABELS = {
    "netdata/rtx-4090-driver-535.xml": {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.count": "1",
        "nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-4090",
        "nvidia.com/gpu.memory": "24564",
        "nvidia.com/cuda.driver.major": "535",
        "nvidia.com/cuda.driver.minor": "86",
        "nvidia.com/cuda.driver.rev": "05",
        "nvidia.com/cuda.runtime.major": "12",
        "nvidia.com/cuda.runtime.minor": "2",
    },
    # no cuda_version before ~410: no cuda.runtime labels; two-part driver version: no rev
    "pai/nvidia_smi_sample.xml": {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.count": "2",
        "nvidia.com/gpu.product": "GeForce-GTX-1070",
        "nvidia.com/gpu.memory": "8112",
        "nvidia.com/cuda.driver.major": "384",
        "nvidia.com/cuda.driver.minor": "66",
    },
    # index 0 is the first <gpu> in the document (minor_number 1)
    "pai/nvidia_smi_out_of_order.xml": {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.count": "4",
        "nvidia.com/gpu.product": "Tesla-K80",
        "nvidia.com/gpu.memory": "11441",
        "nvidia.com/cuda.driver.major": "430",
        "nvidia.com/cuda.driver.minor": "26",
    },
}


def row(name, uuid, bus, driver, total, used, compute_cap=None, mig_mode=None, kmd=None):
    values = {
        "name": name,
        "uuid": uuid,
        "pci.bus_id": bus,
        "driver_version": driver,
        "memory.total": total,
        "memory.used": used,
        "mig.mode.current": mig_mode,
    }
    if compute_cap is not None:
        values["compute_cap"] = compute_cap
    if kmd is not None:
        values["kmd_version"] = kmd
    return values


MASKED = "GPU-00000000-0000-0000-0000-000000000000"
RTX2080S = "NVIDIA GeForce RTX 2080 SUPER"
EXPORTER = "nvidia_gpu_exporter/"

# (path, section number among the file's --query-gpu sections) -> (column count, expected rows).
# Each expected row lists only the columns it names; [N/A] cells are None.
CSV_CASES = {
    ("a0s-nvidia-smi-exporter/nvidia-smi-1.csv", 0): (6, [
        {"uuid": "GPU-d86c351b-8f94-33ab-3b97-accb421fef6d", "memory.used": 754, "utilization.gpu": 100,
         "temperature.gpu": "71", "power.draw": 217.24, "clocks.current.sm": 1949},
        {"uuid": "GPU-683c6e09-3969-31a5-b7ca-cc88252b7fce", "memory.used": 641, "utilization.gpu": 100,
         "temperature.gpu": "71", "power.draw": 208.30, "clocks.current.sm": 2025},
    ]),
    ("a0s-nvidia-smi-exporter/nvidia-smi-2.csv", 0): (14, [
        {"uuid": "GPU-20fe89bc-c8ef-5a9f-078e-efa3324d790b", "fan.speed": 63, "memory.total": 8119, "memory.used": 754,
         "clocks.current.memory": 5130, "clocks.max.memory": 5005},
        {"uuid": "GPU-68988cf6-8de9-6585-a263-d2e3ea96b75a", "fan.speed": 81, "memory.total": 4043, "memory.used": 586,
         "clocks.current.memory": 3004, "clocks.max.memory": 3505},
        {"uuid": "GPU-90e3dab0-b59d-8bf6-d909-d4fab8d2f29b", "fan.speed": 55, "memory.total": 8119, "memory.used": 641,
         "clocks.current.memory": 5130, "clocks.max.memory": 5005},
    ]),
    # format=csv,nounits: header still carries [MiB] etc., values are bare; no trailing newline
    ("netdata/tesla-p100.csv", 0): (15, [
        {"name": "Tesla P100-PCIE-16GB", "uuid": "GPU-ef1b2c9b-38d8-2090-2bd1-f567a3eb42a6", "fan.speed": None,
         "pstate": "P0", "memory.reserved": 103, "memory.used": 0, "memory.free": 16280, "temperature.gpu": "37",
         "power.draw": 28.16, "clocks.current.video": 835},
    ]),
    (EXPORTER + "sample-output.csv", 0): (115, [
        row(RTX2080S, "GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa", "00000000:0C:00.0", "471.11", 8192, 876),
    ]),
    (EXPORTER + "output_ubuntu_20.04_v465.27.txt", 0): (115, [
        row(RTX2080S, "GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa", "00000000:0C:00.0", "465.27", 7979, 344),
    ]),
    (EXPORTER + "output_win10_v466.63.txt", 0): (115, [
        row(RTX2080S, "GPU-df6e7a7c-7314-46f8-abc4-b88b36dcf3aa", "00000000:0C:00.0", "466.63", 8192, 856),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05.txt", 0): (202, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "595.71.05", 8192, 214, "7.5", kmd="595.71.05"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-2080-super__595.71.05.txt", 1): (202, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "595.71.05", 8192, 819, "7.5", kmd="595.71.05"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt", 0): (241, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "610.57.04", 8192, 211, "7.5", kmd="610.57.04"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-2080-super__610.57.04.txt", 1): (241, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "610.57.04", 8192, 815, "7.5", kmd="610.57.04"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.txt", 0): (202, [
        row("NVIDIA GeForce RTX 4080 SUPER", MASKED, "00000000:01:00.0", "595.71.05", 16376, 596, "8.9",
            kmd="595.71.05"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-geforce-rtx-4080-super__595.71.05.txt", 1): (202, [
        row("NVIDIA GeForce RTX 4080 SUPER", MASKED, "00000000:01:00.0", "595.71.05", 16376, 1474, "8.9",
            kmd="595.71.05"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt", 0): (212, [
        row("NVIDIA H100 80GB HBM3", MASKED, "00000000:00:09.0", "590.48.01", 81559, 0, "9.0", "Disabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h100-80gb-hbm3__590.48.01.txt", 1): (212, [
        row("NVIDIA H100 80GB HBM3", MASKED, "00000000:00:09.0", "590.48.01", 81559, 19818, "9.0", "Disabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h100-mig__590.48.01.txt", 0): (212, [
        row("NVIDIA H100 80GB HBM3", MASKED, "00000000:00:09.0", "590.48.01", 81559, 59, "9.0", "Enabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h100-mig__590.48.01.txt", 1): (212, [
        row("NVIDIA H100 80GB HBM3", MASKED, "00000000:00:09.0", "590.48.01", 81559, 11125, "9.0", "Enabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h200-mig__590.48.01.txt", 0): (212, [
        row("NVIDIA H200", MASKED, "00000000:83:00.0", "590.48.01", 143771, 55, "9.0", "Enabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h200-mig__590.48.01.txt", 1): (212, [
        row("NVIDIA H200", MASKED, "00000000:83:00.0", "590.48.01", 143771, 16959, "9.0", "Enabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h200__590.48.01.txt", 0): (212, [
        row("NVIDIA H200", MASKED, "00000000:83:00.0", "590.48.01", 143771, 0, "9.0", "Disabled"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-h200__590.48.01.txt", 1): (212, [
        row("NVIDIA H200", MASKED, "00000000:83:00.0", "590.48.01", 143771, 32362, "9.0", "Disabled"),
    ]),
    # two-part driver version: must stay the string "595.80"
    (EXPORTER + "linux-x86_64__nvidia-l40s__595.80.txt", 0): (202, [
        row("NVIDIA L40S", MASKED, "00000000:01:00.0", "595.80", 46068, 0, "8.9", kmd="595.80"),
    ]),
    (EXPORTER + "linux-x86_64__nvidia-l40s__595.80.txt", 1): (202, [
        row("NVIDIA L40S", MASKED, "00000000:01:00.0", "595.80", 46068, 1235, "8.9", kmd="595.80"),
    ]),
    (EXPORTER + "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt", 0): (210, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "591.86", 8192, 702, "7.5"),
    ]),
    (EXPORTER + "windows-x86_64__nvidia-geforce-rtx-2080-super__591.86.txt", 1): (210, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "591.86", 8192, 1296, "7.5"),
    ]),
    (EXPORTER + "windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.txt", 0): (239, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "610.62", 8192, 797, "7.5", kmd="610.62"),
    ]),
    (EXPORTER + "windows-x86_64__nvidia-geforce-rtx-2080-super__610.62.txt", 1): (239, [
        row(RTX2080S, MASKED, "00000000:0C:00.0", "610.62", 8192, 1366, "7.5", kmd="610.62"),
    ]),
}

# MIG devices as the -q (text) sections and -L lists of the exporter captures show them:
# (GPU instance id, compute instance id, multiprocessor count, shared FB total MiB, profile named by -L)
H100_MIG = {
    "capture": EXPORTER + "linux-x86_64__nvidia-h100-mig__590.48.01.txt",
    "name": "NVIDIA H100 80GB HBM3", "architecture": "Hopper", "bus": "00000000:00:09.0", "total": 81559, "used": 59,
    "devices": [(2, 0, 60, 40448, "3g.40gb"), (3, 0, 32, 20096, "2g.20gb"),
                (9, 0, 16, 9984, "1g.10gb"), (10, 0, 16, 9984, "1g.10gb")],
}
H200_MIG = {
    "capture": EXPORTER + "linux-x86_64__nvidia-h200-mig__590.48.01.txt",
    "name": "NVIDIA H200", "architecture": "Hopper", "bus": "00000000:83:00.0", "total": 143771, "used": 55,
    "devices": [(2, 0, 16, 71424, "1c.3g.71gb"), (2, 1, 32, 71424, "2c.3g.71gb"), (3, 0, 32, 33280, "2g.35gb"),
                (9, 0, 16, 16384, "1g.18gb"), (10, 0, 16, 16384, "1g.18gb")],
}


def csv_sections(text):
    """CSV bodies of the --query-gpu sections of a capture (a plain .csv is one section).

    The nvidia_gpu_exporter captures introduce each command with a banner line
    '# $ nvidia-smi ...' (older samples: '# nvidia-smi ...'); the CSV follows the
    banner's '#' lines and ends at the first blank line.
    """
    lines = text.split("\n")
    if not any(re.match(r"^# (\$ )?nvidia-smi ", line) for line in lines):
        return [text]
    sections = []
    for number, line in enumerate(lines):
        if not re.match(r"^# (\$ )?nvidia-smi --query-gpu=", line):
            continue
        body = []
        for following in lines[number + 1:]:
            if following.startswith("#") and not body:
                continue
            if not following.strip():
                break
            body.append(following)
        sections.append("\n".join(body) + "\n")
    return sections


def index_rows(index_text):
    """(path, format) of every capture listed in the INDEX.md table."""
    found = []
    for line in index_text.splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) > 7 and cells[1].startswith("`") and cells[1].endswith("`"):
            found.append((cells[1].strip("`"), cells[6]))
    return found
