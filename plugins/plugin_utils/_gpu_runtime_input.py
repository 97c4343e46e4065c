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


WSL_MARKERS = ("/usr/lib/wsl/lib", "/proc/sys/fs/binfmt_misc/WSLInterop")
K3S_AGENT_UNIT = "/etc/systemd/system/k3s-agent.service"
ENGINE_SERVICES = {"containerd": "containerd", "docker": "docker", "microk8s": "snap.microk8s.daemon-containerd"}
SUPPORTED_FAMILIES = ("RedHat", "Debian")
_WSL_KERNEL = ("microsoft", "WSL")


def smi_stop(host, failed, msg):
    """The message that stops the role when nvidia-smi failed, or '' (a driver that does not answer is installed)."""
    if not failed:
        return ""
    msg = msg or "nvidia-smi failed"
    if "version mismatch" in msg:
        return ("%s: %s The NVIDIA kernel module and the user-space libraries differ, usually after a driver upgrade "
                "without a reboot. Reboot the host (or unload and reload the nvidia kernel modules); reinstalling the "
                "driver does not fix this." % (host, msg))
    if "couldn't communicate with the NVIDIA driver" in msg:
        return ""
    return "%s: %s" % (host, msg)


def _engine(configured, installed):
    if configured != "auto":
        return configured
    for engine in ("k3s", "microk8s", "docker", "containerd"):
        if installed.get(ENGINE_BINARIES[engine]):
            return engine
    return "none"


def gpu_runtime_plan(inputs, matrix=None):
    """What gpu_runtime does on this node, from what it learnt about it and the role's variables, in one step.

    ``inputs``: host, nvidia (ansible_facts.nvidia or {}), kernel, os_family, distribution, python_version
    ([major, minor]), paths (paths_info's ``paths``), smi_failed, smi_msg, and the variables engine, driver,
    driver_flavour, set_as_default, manage_toolkit, test_standins, toolkit_version, accept_known_bad, toolkit_mode,
    cdi, runtime_path, standin_sha256 (the stand-in runtime's sha256 on the controller, test stand-ins only).

    Returns ``{wsl, driver_loaded, gpu_present, driver_flavour, engine, installed, install_driver, service,
    needs_tomli, toolkit_tasks, engine_cdi, stop, problems, notes}``: ``stop`` is the nvidia-smi failure that ends
    the role on its own, ``problems`` every other problem (all at once), ``notes`` what to tell the user.
    """
    host = inputs.get("host", "this host")
    nvidia = inputs.get("nvidia") or {}
    paths = inputs.get("paths") or {}
    installed = dict((path, bool((info or {}).get("exists"))) for path, info in paths.items())
    driver = nvidia.get("driver") or {}
    wsl = (_bool(nvidia.get("wsl")) or any(word in (inputs.get("kernel") or "") for word in _WSL_KERNEL)
           or any(installed.get(marker) for marker in WSL_MARKERS))
    # driver.loaded: nvidia-smi answered (facts from before issue 14 lack the key: present was the same)
    driver_loaded = _bool(driver.get("loaded", nvidia.get("present", False)))
    # a GPU on the PCI bus (or nvidia-smi that could not say: its failure is reported)
    gpu_present = _bool(nvidia.get("present", True))
    flavour = inputs.get("driver_flavour") or "auto"
    if flavour == "auto":
        flavour = driver.get("recommended_flavour") or "open"
    engine = _engine(inputs.get("engine") or "auto", installed)
    driver_mode = inputs.get("driver") or "auto"
    install_driver = not wsl and (driver_mode == "install"
                                  or (driver_mode == "auto" and gpu_present and not driver_loaded))
    if engine == "k3s":
        service = "k3s-agent" if installed.get(K3S_AGENT_UNIT) else "k3s"
    else:
        service = ENGINE_SERVICES.get(engine, "")
    version = list(inputs.get("python_version") or [3, 11])
    needs_tomli = engine not in ("none", "docker") and int(version[0]) == 3 and int(version[1]) < 11
    family = inputs.get("os_family") or ""
    test_standins = _bool(inputs.get("test_standins"))
    manage_toolkit = _bool(inputs.get("manage_toolkit", True))
    standin = (paths.get(inputs.get("runtime_path") or "") or {}) if test_standins else {}
    standin_ok = test_standins and [standin.get("checksum"), standin.get("mode"), standin.get("uid"),
                                    standin.get("gid")] == [inputs.get("standin_sha256"), "0755", 0, 0]
    toolkit_mode = inputs.get("toolkit_mode") or "auto"

    problems = gpu_runtime_problems(dict(inputs, wsl=wsl, driver_loaded=driver_loaded, engine=engine,
                                         installed=installed), matrix=matrix)
    if install_driver and family not in SUPPORTED_FAMILIES:
        problems.append(
            "gpu_runtime can install the NVIDIA driver on RHEL-family and Debian/Ubuntu hosts; %s is %s (%s). "
            "Install the driver yourself and set gpu_runtime_driver=skip." % (host, inputs.get("distribution"), family))
    if manage_toolkit and not test_standins and family not in SUPPORTED_FAMILIES:
        problems.append(
            "gpu_runtime installs the NVIDIA container toolkit on RHEL-family and Debian/Ubuntu hosts; %s is %s. "
            "Install it yourself and set gpu_runtime_manage_toolkit=false." % (host, family))
    notes = []
    if engine == "none":
        notes.append("%s: no container engine is installed yet; only the toolkit is installed. k3s (installed by "
                     "cluster_join) finds nvidia-container-runtime when it starts and registers the nvidia runtime by "
                     "itself." % host)
    return {
        "wsl": wsl, "driver_loaded": driver_loaded, "gpu_present": gpu_present, "driver_flavour": flavour,
        "engine": engine, "installed": installed, "install_driver": install_driver, "service": service,
        "needs_tomli": needs_tomli, "toolkit_tasks": manage_toolkit and not standin_ok,
        "engine_cdi": engine != "none" and (_bool(inputs.get("cdi")) or toolkit_mode == "cdi"),
        "stop": smi_stop(host, _bool(inputs.get("smi_failed")), inputs.get("smi_msg")),
        "problems": problems, "notes": notes,
    }
