# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""roles/gpu_compose/files/gpu-healthcheck.sh against the FAKE nvidia-smi (tests/fake).

No GPU here: the fake replays real captures (shared/fixtures/nvidia-smi) for `-L` and
simulates "no driver" (exit 9) and "Driver/library version mismatch" (exit 18) with
nvidia-smi's real messages. The script itself runs unchanged under /bin/sh.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.realpath(__file__)))))
SHARED_FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "nvidia-smi")
SCRIPT = os.path.join(ROOT, "roles", "gpu_compose", "files", "gpu-healthcheck.sh")
FAKE = os.path.join(ROOT, "tests", "fake", "nvidia-smi")


def run(tmp_path, env_devices, mode="ok", capture="netdata/rtx-4090-driver-535.xml", smi=FAKE):
    conf = tmp_path / "fake.json"
    conf.write_text(json.dumps({
        "xml": os.path.join(SHARED_FIXTURES, capture),
        "mode": mode,
        "calls": str(tmp_path / "calls"),
    }))
    env = {"PATH": "/usr/bin:/bin", "FAKE_NVIDIA_SMI_CONF": str(conf), "NVIDIA_SMI": smi}
    if env_devices is not None:
        env["NVIDIA_VISIBLE_DEVICES"] = env_devices
    proc = subprocess.run(["/bin/sh", SCRIPT], env=env, capture_output=True, text=True, check=False)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return proc.returncode, proc.stdout.strip(), calls


def test_gpu_ready_lists_the_gpu(tmp_path):
    rc, out, calls = run(tmp_path, "all")
    assert rc == 0
    assert out == "gpu-ready: GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-71d1acc2-662d-2166-bf9f-65272d2fc437)"
    assert len(calls) == 1 and calls[0].endswith(" -L")


def test_gpu_ready_on_a_mig_gpu(tmp_path):
    rc, out, dummy = run(tmp_path, "0", capture="netdata/a100-sxm4-mig.xml")
    assert rc == 0
    assert out.startswith("gpu-ready: GPU 0: NVIDIA A100-SXM4-40GB")


@pytest.mark.parametrize("devices", [None, "", "void", "none"], ids=["unset", "empty", "void", "none"])
def test_cpu_fallback_never_calls_nvidia_smi(tmp_path, devices):
    rc, out, calls = run(tmp_path, devices, mode="no-driver")
    assert rc == 0
    assert out.startswith("cpu-fallback: NVIDIA_VISIBLE_DEVICES=%s" % (devices or "unset"))
    assert calls == []


@pytest.mark.parametrize("mode, rc_smi, message", [
    ("no-driver", 9, "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver."),
    ("mismatch", 18, "Failed to initialize NVML: Driver/library version mismatch"),
], ids=["no-driver", "mismatch"])
def test_gpu_expected_but_broken_is_unhealthy(tmp_path, mode, rc_smi, message):
    rc, out, calls = run(tmp_path, "all", mode=mode)
    assert rc == 1
    assert out.startswith("gpu-unavailable: %s -L failed (exit %d): %s" % (FAKE, rc_smi, message))
    assert len(calls) == 1


def test_gpu_expected_without_nvidia_smi_is_unhealthy(tmp_path):
    rc, out, dummy = run(tmp_path, "all", smi=str(tmp_path / "no-such-nvidia-smi"))
    assert rc == 1
    assert "is not in the container" in out
