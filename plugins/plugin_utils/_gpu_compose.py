# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plan a Docker Compose GPU dev container (the ML dev-container setup).

Controller side, pure: takes the node's GPU facts (``ansible_facts.nvidia``), what
``docker version`` / ``docker info`` said, and the role's options, and returns the
mode (``gpu`` or ``cpu`` fallback), the environment, the runtime and the GPU request
the compose template renders, plus every error with the fix, so the role can fail
before it writes anything.
"""

from __future__ import annotations

import json
import re

# Host requirements of the ML dev-container setup.
MIN_DRIVER = "535.0"  # CUDA 12 containers
MIN_DOCKER = "20.10"  # `--gpus` / compose device reservations

MODES = ("auto", "gpu", "cpu")
GPU_REQUESTS = ("reservation", "gpus")
# What NVIDIA_VISIBLE_DEVICES takes for "no GPU" (container toolkit docs).
CPU_VISIBLE_DEVICES = "void"


class GpuComposeError(Exception):
    """Input the plan cannot be made from (not a host problem: those are plan errors)."""


def parse_version(text):
    """'535.86.05' -> (535, 86, 5); Docker's '26.1.5+dfsg1' / '20.10.24-ce' -> (26, 1, 5); None when none."""
    if text is None:
        return None
    match = re.match(r"\s*v?(\d+(?:\.\d+)*)", str(text))
    if not match:
        return None
    return tuple(int(part) for part in match.group(1).split("."))


def version_at_least(text, minimum):
    found = parse_version(text)
    return found is not None and found >= parse_version(minimum)


def parse_runtimes(value):
    """Runtime names from ``docker info --format '{{json .Runtimes}}'`` (a JSON object) or a list."""
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return sorted(str(v) for v in value)
    if isinstance(value, dict):
        return sorted(value)
    try:
        data = json.loads(value)
    except ValueError as exc:
        raise GpuComposeError("docker info Runtimes is not JSON: %r" % (value,)) from exc
    if isinstance(data, dict):
        return sorted(data)
    if isinstance(data, list):
        return sorted(str(v) for v in data)
    raise GpuComposeError("docker info Runtimes is neither an object nor a list: %r" % (value,))


def plan(nvidia, docker_version, docker_runtimes, mode="auto", runtime="nvidia",
         gpu_request="reservation", gpu_count="all", visible_devices="all",
         capabilities="compute,utility", min_driver=MIN_DRIVER, min_docker=MIN_DOCKER,
         docker_error=""):
    """Return {mode, reason, errors, environment, runtime, gpu_request, gpu_count, driver_version, docker_version}.

    ``nvidia`` is ansible_facts.nvidia (``present``, ``driver_version``, ``count``, ``wsl``).
    ``docker_version`` is the engine's server version, empty when ``docker version`` failed
    (its stderr in ``docker_error``). ``mode``: auto = GPU when one is present, else CPU
    fallback; gpu = fail without a usable GPU; cpu = never ask for a GPU.
    """
    if mode not in MODES:
        raise GpuComposeError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    if gpu_request not in GPU_REQUESTS:
        raise GpuComposeError("gpu_request must be one of %s, got %r" % (", ".join(GPU_REQUESTS), gpu_request))
    nvidia = nvidia or {}
    errors = []
    runtimes = parse_runtimes(docker_runtimes)

    if not docker_version:
        detail = (" (%s)" % docker_error.strip().splitlines()[-1]) if docker_error and docker_error.strip() else ""
        errors.append(
            "Docker Engine did not answer `docker version`%s: install Docker Engine >= %s and start it "
            "(systemctl enable --now docker)." % (detail, min_docker))
    elif not version_at_least(docker_version, min_docker):
        errors.append(
            "Docker Engine %s is older than %s, the first release that passes GPUs to containers "
            "(--gpus, compose device reservations): upgrade Docker Engine." % (docker_version, min_docker))

    present = bool(nvidia.get("present"))
    driver = nvidia.get("driver_version")
    if mode == "cpu":
        chosen, reason = "cpu", "CPU only (gpu_compose_gpu: cpu)"
    elif not present:
        if mode == "gpu":
            errors.append(
                "No NVIDIA GPU on this host (nvidia_smi_facts: present false) but gpu_compose_gpu is gpu: "
                "install the GPU/driver, or set gpu_compose_gpu: auto for the CPU fallback "
                "(NVIDIA_VISIBLE_DEVICES=%s)." % CPU_VISIBLE_DEVICES)
        chosen, reason = "cpu", "CPU fallback: no NVIDIA GPU on this host"
    else:
        chosen = "gpu"
        reason = "GPU: %s NVIDIA GPU(s), driver %s" % (nvidia.get("count", "?"), driver)
        if not driver:
            errors.append(
                "An NVIDIA GPU is present but no driver answered nvidia-smi: install the driver "
                "(homelab.gpu_node.gpu_runtime) or set gpu_compose_gpu: cpu.")
        elif not version_at_least(driver, min_driver):
            errors.append(
                "NVIDIA driver %s is older than %s (CUDA 12 containers need >= %s): upgrade the driver "
                "(gpu_runtime_driver: install with a newer gpu_runtime_driver_stream), or set "
                "gpu_compose_gpu: cpu to run the container without the GPU." % (driver, min_driver, min_driver))
        if docker_version and runtime not in runtimes:
            errors.append(
                "Docker has no '%s' runtime (docker info lists: %s): run homelab.gpu_node.gpu_runtime with "
                "gpu_runtime_engine: docker first; it adds the runtime to /etc/docker/daemon.json and restarts "
                "Docker." % (runtime, ", ".join(runtimes) or "none"))

    if chosen == "gpu":
        environment = {
            "NVIDIA_VISIBLE_DEVICES": str(visible_devices),
            "NVIDIA_DRIVER_CAPABILITIES": str(capabilities),
        }
        use_runtime = runtime
    else:
        environment = {"NVIDIA_VISIBLE_DEVICES": CPU_VISIBLE_DEVICES}
        use_runtime = None
    count = gpu_count
    if isinstance(count, str) and count != "all":
        if not count.isdigit():
            raise GpuComposeError("gpu_count must be 'all' or a number, got %r" % (count,))
        count = int(count)
    return {
        "mode": chosen,
        "reason": reason,
        "errors": errors,
        "environment": environment,
        "runtime": use_runtime,
        "gpu_request": gpu_request if chosen == "gpu" else None,
        "gpu_count": count,
        "driver_version": driver,
        "docker_version": docker_version or None,
        "docker_runtimes": runtimes,
    }
