# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""gpu_runtime's checks before it changes anything, all at once: one sentence per problem.

:func:`gpu_runtime_problems` takes what the role learnt about the node (WSL, driver state, the
engine it picked and which engines are installed) and the user's variables, and returns every
problem, so that users fix them in one go instead of one failed run per rule.
"""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _versions

ENGINE_BINARIES = {
    "k3s": "/usr/local/bin/k3s",
    "microk8s": "/snap/bin/microk8s",
    "docker": "/usr/bin/dockerd",
    "containerd": "/usr/bin/containerd",
}
TOOLKIT_MODES = ("auto", "cdi")


def _bool(value):
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y")
    return bool(value)


def gpu_runtime_problems(inputs, matrix=None):
    """``inputs``: host, wsl, driver, driver_loaded, smi_msg, engine, installed (path -> bool),
    set_as_default, manage_toolkit, test_standins, toolkit_version, accept_known_bad, toolkit_mode."""
    host = inputs.get("host", "this host")
    wsl = _bool(inputs.get("wsl"))
    engine = inputs.get("engine") or "none"
    problems = []

    if wsl and inputs.get("driver") == "install":
        problems.append(
            "gpu_runtime_driver=install was asked for on %s, which is a WSL2 distro. Inside WSL the driver lives on "
            "Windows (/usr/lib/wsl/lib); installing a Linux driver breaks GPU access. Use gpu_runtime_driver=auto or "
            "skip, and update the Windows NVIDIA driver instead." % host)
    if wsl and not _bool(inputs.get("driver_loaded")):
        msg = inputs.get("smi_msg") or ""
        problems.append(
            "%s is a WSL2 distro but /usr/lib/wsl/lib/nvidia-smi does not work%s. Fix it on the Windows side: install "
            "or update the NVIDIA Windows driver (it provides the WSL libraries), run `wsl --update`, then "
            "`wsl --shutdown` and start the distro again." % (host, (": " + msg) if msg else ""))
    if engine != "none":
        binary = ENGINE_BINARIES.get(engine)
        if binary is None:
            problems.append("gpu_runtime_engine=%s is not an engine gpu_runtime knows (accepted: auto, containerd, "
                            "k3s, microk8s, docker)." % engine)
        elif not (inputs.get("installed") or {}).get(binary):
            problems.append(
                "gpu_runtime_engine=%s but %s is not on %s. Install %s first (cluster_join installs k3s) or choose "
                "another engine (accepted: auto, containerd, k3s, microk8s, docker)." % (engine, binary, host, engine))
    if engine == "k3s" and _bool(inputs.get("set_as_default")):
        problems.append(
            "gpu_runtime_set_as_default=true with engine k3s: k3s's containerd template cannot safely redeclare the "
            "CRI runtime tables, so the default runtime is set through k3s instead. Set cluster_join_k3s_config_extra: "
            "{default-runtime: nvidia} (k3s detects nvidia-container-runtime at start and registers the nvidia "
            "runtime itself) and keep gpu_runtime_set_as_default=false.")

    mode = inputs.get("toolkit_mode") or "auto"
    if mode not in TOOLKIT_MODES:
        problems.append("gpu_runtime_toolkit_mode must be one of %s, not %r." % (", ".join(TOOLKIT_MODES), mode))
    accepted = inputs.get("accept_known_bad") or []
    if not isinstance(accepted, (list, tuple)):
        problems.append("gpu_runtime_toolkit_accept_known_bad must be a list of issue ids such as "
                        "['NVIDIA/nvidia-container-toolkit#1967'], not %r." % (accepted,))
        accepted = []
    if _bool(inputs.get("manage_toolkit", True)) and not _bool(inputs.get("test_standins")):
        version = inputs.get("toolkit_version")
        try:
            problems.extend(_versions.known_bad_problems(
                "nvidia_container_toolkit", version, accepted, variable="gpu_runtime_toolkit_version",
                accept_variable="gpu_runtime_toolkit_accept_known_bad", matrix=matrix))
        except _versions.VersionMatrixError as exc:
            problems.append("gpu_runtime_toolkit_version: %s." % exc)
    return problems
