# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_gpu_compose.py (the compose dev-container plan)."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._gpu_compose import (
    GpuComposeError,
    parse_runtimes,
    parse_version,
    plan,
    version_at_least,
)
from ansible_collections.homelab.gpu_node.plugins.filter.gpu_compose_plan import gpu_compose_plan

GPU_535 = {"present": True, "driver_version": "535.86.05", "count": 1, "wsl": False}
GPU_470 = {"present": True, "driver_version": "470.82.00", "count": 1, "wsl": False}
NO_GPU = {"present": False, "driver_version": None, "count": 0, "wsl": False}
RUNTIMES = '{"io.containerd.runc.v2":{"path":"runc"},"nvidia":{"path":"/usr/bin/nvidia-container-runtime"},"runc":{"path":"runc"}}'


@pytest.mark.parametrize("text, expected", [
    ("535.86.05", (535, 86, 5)),
    ("26.1.5+dfsg1", (26, 1, 5)),
    ("20.10.24-ce", (20, 10, 24)),
    ("v2.26.1", (2, 26, 1)),
    ("580.159.04 [Deprecated; Use KMD Version instead]", (580, 159, 4)),
    ("", None),
    (None, None),
    ("unknown", None),
], ids=["driver", "debian-docker", "docker-ce", "v-prefix", "driver-610-suffix", "empty", "none", "words"])
def test_parse_version(text, expected):
    assert parse_version(text) == expected


@pytest.mark.parametrize("text, minimum, expected", [
    ("535.0", "535.0", True),
    ("534.99.1", "535.0", False),
    ("20.10.0", "20.10", True),
    ("20.9.9", "20.10", False),
    ("9.0", "20.10", False),  # numeric, not string, comparison
    ("", "20.10", False),
], ids=["equal", "just-below", "docker-equal", "docker-below", "numeric-compare", "empty"])
def test_version_at_least(text, minimum, expected):
    assert version_at_least(text, minimum) is expected


def test_parse_runtimes_forms():
    assert parse_runtimes(RUNTIMES) == ["io.containerd.runc.v2", "nvidia", "runc"]
    assert parse_runtimes(["runc", "nvidia"]) == ["nvidia", "runc"]
    assert parse_runtimes({"runc": {}}) == ["runc"]
    assert parse_runtimes("") == []
    with pytest.raises(GpuComposeError, match="not JSON"):
        parse_runtimes("runc nvidia")


def test_gpu_host_gets_the_gpu_with_the_nvidia_runtime():
    result = plan(GPU_535, "26.1.5", RUNTIMES)
    assert result["errors"] == []
    assert result["mode"] == "gpu"
    assert result["runtime"] == "nvidia"
    assert result["gpu_request"] == "reservation"
    assert result["environment"] == {"NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}
    assert result["gpu_count"] == "all"


def test_no_gpu_falls_back_to_cpu_with_void():
    result = plan(NO_GPU, "26.1.5", '{"runc":{}}')
    assert result["errors"] == []
    assert result["mode"] == "cpu"
    assert result["environment"] == {"NVIDIA_VISIBLE_DEVICES": "void"}
    assert result["runtime"] is None and result["gpu_request"] is None
    assert "CPU fallback" in result["reason"]


def test_no_gpu_in_gpu_mode_is_an_error_naming_the_fallback():
    result = plan(NO_GPU, "26.1.5", RUNTIMES, mode="gpu")
    assert len(result["errors"]) == 1
    assert "present false" in result["errors"][0]
    assert "gpu_compose_gpu: auto" in result["errors"][0]


def test_cpu_mode_ignores_the_gpu_and_its_driver():
    result = plan(GPU_470, "26.1.5", '{"runc":{}}', mode="cpu")
    assert result["errors"] == []
    assert result["environment"]["NVIDIA_VISIBLE_DEVICES"] == "void"


def test_old_driver_is_refused_with_the_minimum_and_the_fix():
    result = plan(GPU_470, "26.1.5", RUNTIMES)
    assert result["errors"] == [
        "NVIDIA driver 470.82.00 is older than 535.0 (CUDA 12 containers need >= 535.0): upgrade the driver "
        "(gpu_runtime_driver: install with a newer gpu_runtime_driver_stream), or set gpu_compose_gpu: cpu "
        "to run the container without the GPU."]


def test_gpu_without_a_driver_is_an_error():
    result = plan({"present": True, "driver_version": None}, "26.1.5", RUNTIMES)
    assert "no driver answered" in result["errors"][0]


@pytest.mark.parametrize("version, stderr, expected", [
    ("19.03.15", "", "Docker Engine 19.03.15 is older than 20.10"),
    ("", "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?",
     "did not answer `docker version` (Cannot connect to the Docker daemon"),
    ("", "", "did not answer `docker version`: install Docker Engine >= 20.10"),
], ids=["too-old", "daemon-down", "missing"])
def test_docker_problems(version, stderr, expected):
    result = plan(NO_GPU, version, "", docker_error=stderr)
    assert len(result["errors"]) == 1
    assert expected in result["errors"][0]


def test_missing_nvidia_runtime_points_at_gpu_runtime():
    result = plan(GPU_535, "26.1.5", '{"runc":{"path":"runc"}}')
    assert result["errors"] == [
        "Docker has no 'nvidia' runtime (docker info lists: runc): run homelab.gpu_node.gpu_runtime with "
        "gpu_runtime_engine: docker first; it adds the runtime to /etc/docker/daemon.json and restarts Docker."]


def test_every_problem_is_reported_at_once():
    result = plan(GPU_470, "19.03.1", '{"runc":{}}')
    assert len(result["errors"]) == 3


def test_gpus_request_and_count():
    result = plan(GPU_535, "20.10.0", RUNTIMES, gpu_request="gpus", gpu_count="2", visible_devices="0,1")
    assert result["gpu_request"] == "gpus"
    assert result["gpu_count"] == 2
    assert result["environment"]["NVIDIA_VISIBLE_DEVICES"] == "0,1"


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "maybe"}, "mode must be one of"),
    ({"gpu_request": "device"}, "gpu_request must be one of"),
    ({"gpu_count": "two"}, "gpu_count must be"),
], ids=["mode", "gpu-request", "count"])
def test_bad_options_raise(kwargs, message):
    with pytest.raises(GpuComposeError, match=message):
        plan(GPU_535, "26.1.5", RUNTIMES, **kwargs)


def test_filter_wraps_errors():
    from ansible.errors import AnsibleFilterError
    assert gpu_compose_plan(GPU_535, "26.1.5", RUNTIMES)["mode"] == "gpu"
    with pytest.raises(AnsibleFilterError, match="gpu_compose_plan: mode must be"):
        gpu_compose_plan(GPU_535, "26.1.5", RUNTIMES, mode="x")
