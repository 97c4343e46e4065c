# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Which way the NVIDIA container toolkit hands GPUs to containers on a node: legacy, jit-cdi or cdi.

Plain Python (3.8+), no Ansible imports, no disk access: the module nvidia_toolkit_mode reads the
files and runs nvidia-ctk, these functions decide.

* ``legacy``: the nvidia runtime adds the prestart hook (nvidia-container-cli) that injects the GPUs
  named in NVIDIA_VISIBLE_DEVICES. What mode ``auto`` resolves to before toolkit 1.18.0.
* ``jit-cdi``: the nvidia runtime builds a CDI spec in memory for the devices each container asks
  for. What ``auto`` resolves to from 1.18.0 on NVML and WSL platforms (NVIDIA/nvidia-container-toolkit
  internal/info/auto.go, "Default to jit-cdi mode in the nvidia runtime", v1.18.0-rc.1).
* ``cdi``: a CDI spec on disk (``nvidia-ctk cdi generate``), read by the engine itself
  (containerd ``enable_cdi``) when the kubelet passes CDI device names (device plugin
  ``deviceListStrategy: cdi-cri``).

The record (``/var/lib/homelab-gpu-node/toolkit_mode.json``) says which mode the node is in; the
doctor reads it.
"""

from __future__ import annotations

import json
import re

try:
    import tomllib as _toml  # Python 3.11+
except ImportError:  # pragma: no cover - depends on the target's Python
    try:
        import tomli as _toml
    except ImportError:
        _toml = None

MODES = ("legacy", "jit-cdi", "cdi")
REQUESTS = ("auto", "cdi")
JIT_CDI_SINCE = (1, 18, 0)
DEFAULT_SPEC_PATH = "/var/run/cdi/nvidia.yaml"
DEFAULT_RUNTIME_CONFIG = "/etc/nvidia-container-runtime/config.toml"
DEFAULT_RECORD = "/var/lib/homelab-gpu-node/toolkit_mode.json"
RECORD_SCHEMA = 1

_CTK_VERSION = re.compile(r"NVIDIA Container Toolkit CLI version\s+v?(\d+(?:\.\d+)+)")
_MODE_LINE = re.compile(r"^\s*mode\s*=\s*[\"']([^\"']*)[\"']", re.MULTILINE)


def version_tuple(text):
    """'1.20.0' -> (1, 20, 0); None when ``text`` is not such a version."""
    if not text:
        return None
    match = re.match(r"^v?(\d+(?:\.\d+)*)", str(text).strip())
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def parse_ctk_version(stdout):
    """The version from ``nvidia-ctk --version`` ("NVIDIA Container Toolkit CLI version 1.20.0"), or None."""
    match = _CTK_VERSION.search(stdout or "")
    return match.group(1) if match else None


def runtime_config_mode(text):
    """``nvidia-container-runtime.mode`` of the runtime's config.toml ('auto' when unset or no file)."""
    if not text:
        return "auto"
    if _toml is not None:
        try:
            data = _toml.loads(text)
        except _toml.TOMLDecodeError:
            data = None
        if isinstance(data, dict):
            section = data.get("nvidia-container-runtime")
            mode = section.get("mode") if isinstance(section, dict) else None
            return str(mode) if mode else "auto"
    # no TOML library on this Python: the key as NVIDIA's file writes it, inside its section
    section = re.split(r"^\s*\[nvidia-container-runtime\]\s*$", text, maxsplit=1, flags=re.MULTILINE)
    if len(section) == 2:
        body = re.split(r"^\s*\[", section[1], maxsplit=1, flags=re.MULTILINE)[0]
        match = _MODE_LINE.search(body)
        if match and match.group(1):
            return match.group(1)
    return "auto"


def effective_mode(requested, toolkit_version, config_mode):
    """The mode containers get: cdi when asked for, else what the runtime's mode resolves to."""
    if requested == "cdi":
        return "cdi"
    if config_mode and config_mode != "auto":
        return config_mode
    version = version_tuple(toolkit_version)
    if version is None:
        return "unknown"
    return "jit-cdi" if version >= JIT_CDI_SINCE else "legacy"


def build_record(requested, toolkit_version, config_mode, spec_path, spec_generated, engine, engine_cdi):
    mode = effective_mode(requested, toolkit_version, config_mode)
    return {
        "schema": RECORD_SCHEMA,
        "mode": mode,
        "requested": requested,
        "toolkit_version": toolkit_version,
        "runtime_config_mode": config_mode,
        "cdi_spec": spec_path if spec_generated else None,
        "engine": engine,
        "engine_cdi": bool(engine_cdi),
    }


def record_text(record):
    return json.dumps(record, indent=2, sort_keys=True) + "\n"


def read_record(text):
    """The record as a dict; {} for no file or one that is not ours (a broken record is rewritten)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return {}
    return data if isinstance(data, dict) and data.get("schema") == RECORD_SCHEMA else {}


def spec_to_remove(requested, old_record, spec_path, spec_exists):
    """Outside cdi mode, the spec this module generated before (and only that) is removed again."""
    return bool(requested != "cdi" and spec_exists and old_record.get("cdi_spec") == spec_path)
