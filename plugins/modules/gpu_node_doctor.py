#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_node_doctor
short_description: Diagnose why containers on a node do not get the NVIDIA GPU (read only)
version_added: 0.1.0
description:
  - Runs read-only probes on a GPU node and returns a list of checks, each V(pass), V(fail) or V(skip) with a
    one-line detail and, for a failure, a one-line fix. It never changes the node and never fails because a check
    fails; the caller decides what to do with RV(checks).
  - "C(nvidia_smi): C(nvidia-smi) is found (O(nvidia_smi_path), E(PATH), C(/usr/lib/wsl/lib/nvidia-smi),
    C(/usr/bin/nvidia-smi)) and C(nvidia-smi -q -x) reports at least one GPU."
  - "C(driver_mismatch): the loaded kernel module and the driver's NVML library agree (no
    C(Driver/library version mismatch) after a driver upgrade without a reboot)."
  - "C(device_nodes): C(/dev/nvidiactl), one C(/dev/nvidiaN) per GPU and C(/dev/nvidia-uvm) are character devices;
    on WSL 2, C(/dev/dxg)."
  - "C(container_runtime): C(nvidia-container-runtime) exists (O(runtime_path), E(PATH),
    C(/usr/local/nvidia/toolkit))."
  - "C(engine_runtime): the container engine's live configuration has runtime O(runtime_name) with a binary that
    exists. containerd: C(containerd config dump) (main config plus imports, as containerd reads them); k3s: the
    config k3s generated at its last start plus its imports; MicroK8s: the rendered C(args/containerd.toml);
    Docker: C(docker info)."
  - "C(engine_running): the engine's systemd unit is active and none of its config files changed after it
    started (a changed config needs a restart)."
  - "C(default_runtime): the default runtime is defined; it must be O(runtime_name) only with
    O(require_default_runtime=true), otherwise GPU pods need C(runtimeClassName)."
  - "C(daemon_reload): GPU containers keep their devices across C(systemctl daemon-reload): CDI is enabled, the
    runtime uses the cgroupfs driver, or C(/dev/char) links every NVIDIA device node (else C(Failed to initialize
    NVML: Unknown Error) in running pods)."
  - "It also reads the installed NVIDIA container toolkit's version (RV(node.toolkit)); the playbook compares it
    with the version matrix's known-bad releases (check C(toolkit_version))."
  - "On WSL 2, C(device_nodes) also wants C(/usr/lib/wsl/lib/libnvidia-ml.so.1), and C(engine_runtime) on k3s
    says when k3s started before C(nvidia-container-runtime) was installed."
  - The playbook C(homelab.gpu_node.doctor) adds cluster checks on the controller and prints one table per node.
options:
  nvidia_smi_path:
    description:
      - Full path of the C(nvidia-smi) binary instead of searching for it.
    type: path
  engine:
    description:
      - The container engine to check. V(auto) picks k3s when its generated containerd config or binary exists,
        else MicroK8s (C(/var/snap/microk8s/current/args)), else containerd, else Docker. V(none) skips the engine
        checks.
    type: str
    default: auto
    choices: [auto, containerd, k3s, microk8s, docker, none]
  config_path:
    description:
      - The engine's configuration file to read.
      - containerd, passed to C(containerd --config); default containerd's own default
        (C(/etc/containerd/config.toml)).
      - k3s, the generated C(/var/lib/rancher/k3s/agent/etc/containerd/config.toml).
      - MicroK8s, the rendered C(/var/snap/microk8s/current/args/containerd.toml).
      - Not used for Docker.
    type: path
  runtime_name:
    description:
      - Name of the NVIDIA runtime in the engine, the handler of the RuntimeClass.
    type: str
    default: nvidia
  runtime_path:
    description:
      - Where C(nvidia-container-runtime) is expected first; E(PATH) and C(/usr/local/nvidia/toolkit) are searched
        after it.
    type: path
    default: /usr/bin/nvidia-container-runtime
  require_default_runtime:
    description:
      - Fail C(default_runtime) unless O(runtime_name) is the engine's default runtime (for clusters whose GPU pods
        set no C(runtimeClassName)).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Runs C(nvidia-smi -q -x) once, plus C(nvidia-smi --query-gpu=pci.bus_id,compute_cap --format=csv,noheader)
    when the XML lacks the compute capability (used to predict MPS limits).
  - Reading a containerd or k3s TOML file needs C(tomllib) (Python 3.11+) or C(tomli) on the node; without it
    C(engine_runtime) is skipped with that fix.
seealso:
  - module: homelab.gpu_node.nvidia_smi_facts
  - module: homelab.gpu_node.containerd_nvidia_runtime
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Diagnose the GPU node
  homelab.gpu_node.gpu_node_doctor:
  register: doctor

- name: Show what fails and how to fix it
  ansible.builtin.debug:
    msg: "{{ item.id }}: {{ item.detail }} -> {{ item.fix }}"
  loop: "{{ doctor.checks | selectattr('status', 'eq', 'fail') | list }}"
  loop_control:
    label: "{{ item.id }}"

- name: A k3s node whose GPU pods set no runtimeClassName
  homelab.gpu_node.gpu_node_doctor:
    engine: k3s
    require_default_runtime: true

- name: Full report with cluster checks and tables (playbook)
  ansible.builtin.debug:
    msg: ansible-playbook homelab.gpu_node.doctor -i inventory/hosts.yml
"""

RETURN = r"""
checks:
  description: The checks in a fixed order, one dict each.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description:
        - V(nvidia_smi), V(driver_mismatch), V(device_nodes), V(container_runtime), V(engine_runtime),
          V(engine_running), V(default_runtime) or V(daemon_reload).
      type: str
      sample: engine_runtime
    status:
      description: V(pass), V(fail) or V(skip).
      type: str
      sample: fail
    detail:
      description: What was found, one line.
      type: str
      sample: "no runtime nvidia in containerd via containerd config dump (runtimes: runc)"
    fix:
      description: One line saying how to fix a failure; may be empty.
      type: str
      sample: >-
        register it: homelab.gpu_node.containerd_nvidia_runtime engine=containerd (playbooks/gpu_node.yml),
        then systemctl restart containerd
  sample:
    - id: nvidia_smi
      status: pass
      detail: "driver 535.86.05, CUDA 12.2, 1 GPU: NVIDIA GeForce RTX 4090 (/usr/lib/wsl/lib/nvidia-smi)"
      fix: ""
summary:
  description: Number of checks per status.
  returned: always
  type: dict
  sample: {pass: 6, fail: 1, skip: 0}
ok:
  description: Whether no check failed.
  returned: always
  type: bool
  sample: false
node:
  description: What the cluster checks need to know about the node.
  returned: always
  type: dict
  contains:
    hostname:
      description: The node's host name in lower case (the default Kubernetes node name).
      type: str
      sample: wsl-gpu-node
    wsl:
      description: Whether the node is a WSL 2 distribution.
      type: bool
      sample: true
    engine:
      description: The engine checked, or V(null).
      type: str
      sample: k3s
    runtimes:
      description: Runtime names of the engine's live configuration.
      type: list
      elements: str
      sample: [nvidia, nvidia-experimental, runc]
    default_runtime:
      description: The engine's default runtime, or V(null) when unknown.
      type: str
      sample: runc
    toolkit:
      description:
        - The installed NVIDIA container toolkit, read with C(dpkg-query), else C(rpm -q), else
          C(nvidia-ctk --version) (also in C(/usr/local/nvidia/toolkit)). The playbook's C(toolkit_version) check
          compares RV(node.toolkit.version) with the version matrix's known-bad list on the controller.
      type: dict
      contains:
        version:
          description: The upstream version (V(1.19.1)), or V(null) when no package or C(nvidia-ctk) names one.
          type: str
        package_version:
          description: The package's own version (V(1.19.1-1)), or V(null).
          type: str
        source:
          description: Where the version came from (V(dpkg nvidia-container-toolkit), V(rpm ...), V(<path> --version)).
          type: str
        searched:
          description: What was asked.
          type: list
          elements: str
      sample: {version: "1.19.1", package_version: "1.19.1-1", source: dpkg nvidia-container-toolkit, searched: [dpkg]}
    network:
      description:
        - What the cluster checks C(wsl_networking) and C(node_ip) compare with the Node object. C(addresses) are
          the node's own addresses (C(/proc/net/fib_trie), C(/proc/net/if_inet6)); C(node_ip) and
          C(node_ip_source) what k3s is configured to advertise (C(node-ip) of C(/etc/rancher/k3s/config.yaml),
          its C(config.yaml.d) drop-ins, or C(--node-ip) in the k3s unit); C(wsl_mode) WSL's networking mode
          (C(wslinfo --networking-mode)) on WSL 2, else V(null).
      type: dict
      sample: {addresses: [192.168.10.35], node_ip: [192.168.10.35], node_ip_source: /etc/rancher/k3s/config.yaml,
               wsl_mode: mirrored, wsl_mode_source: wslinfo --networking-mode, errors: []}
nvidia:
  description:
    - The GPU facts in the shape of C(ansible_facts.nvidia) of M(homelab.gpu_node.nvidia_smi_facts) when
      C(nvidia-smi) worked, else V(null). Not set as facts.
  returned: always
  type: dict
  sample: {present: true, wsl: false, driver_version: "535.86.05", count: 1, gpus: []}
"""

import glob
import json
import os
import sys
import socket
import stat
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.locale import get_best_parsable_locale

from ansible_collections.homelab.gpu_node.plugins.module_utils._doctor import (
    ENGINE_UNITS,
    K3S_CONFIG,
    MICROK8S_CONFIG,
    DPKG_TOOLKIT_ARGS,
    RPM_TOOLKIT_ARGS,
    WSL_NVML,
    choose_engine,
    K3S_UNIT_FILES,
    K3S_USER_CONFIG,
    K3S_USER_CONFIG_DIR,
    WSLINFO_ARGS,
    configured_node_ips,
    containerd_view,
    diagnose_node,
    fib_trie_addresses,
    if_inet6_addresses,
    wsl_networking_mode,
    docker_view,
    engine_files,
    toolkit_version,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import GpuNodeError, NvidiaSmiError
from ansible_collections.homelab.gpu_node.plugins.module_utils._nvidia_smi import (
    COMPUTE_CAP_ARGS,
    WSL_INTEROP,
    WSL_LIB_DIR,
    XML_ARGS,
    find_nvidia_smi,
    is_wsl,
    needs_compute_capability,
    parse_smi_xml,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._service_state import (
    parse_systemctl_show,
    pick_service,
    systemctl_show_args,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    HAS_TOML,
    MICROK8S_ARGS,
    RUNTIME_BINARY,
    TOML_INSTALL_HINT,
    containerd_import_order,
    merge_imported,
    parse_toml,
)

TOOLKIT_DIR = "/usr/local/nvidia/toolkit"


def argument_spec():
    return dict(
        nvidia_smi_path=dict(type="path"),
        engine=dict(type="str", default="auto", choices=["auto", "containerd", "k3s", "microk8s", "docker", "none"]),
        config_path=dict(type="path"),
        runtime_name=dict(type="str", default="nvidia"),
        runtime_path=dict(type="path", default="/usr/bin/nvidia-container-runtime"),
        require_default_runtime=dict(type="bool", default=False),
    )


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _exists(path):
    return os.path.exists(path)


def _isdir(path):
    return os.path.isdir(path)


def _kernel_release():
    return os.uname()[2]


def _hostname():
    return socket.gethostname().split(".")[0].lower()


def _read(path):
    with open(path, "r") as handle:
        return handle.read()


def _mtime(path):
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None


def probe_smi(module, wsl):
    try:
        path = find_nvidia_smi(module.params["nvidia_smi_path"], module.get_bin_path, _is_executable)
    except NvidiaSmiError as exc:
        return {"path": None, "error": str(exc)}
    if path is None:
        return {"path": None}
    rc, out, err = module.run_command([path] + XML_ARGS)
    smi = {"path": path, "rc": rc, "stdout": out, "stderr": err}
    if rc == 0:
        try:
            if needs_compute_capability(parse_smi_xml(out)):
                smi["csv"] = list(module.run_command([path] + COMPUTE_CAP_ARGS)[:2])
        except NvidiaSmiError:
            pass  # reported by the nvidia_smi check
    return smi


def probe_devices(wsl=False):
    char, other, links = [], [], {}
    try:
        names = os.listdir("/dev")
    except OSError:
        names = []
    for name in sorted(names):
        if not (name.startswith("nvidia") or name == "dxg"):
            continue
        try:
            st = os.stat(os.path.join("/dev", name))
        except OSError:
            continue
        mode = st.st_mode
        (char if stat.S_ISCHR(mode) else other).append(name)
        if stat.S_ISCHR(mode):
            link = "/dev/char/%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
            links[name] = os.path.realpath(link) == os.path.join("/dev", name)
    out = {"char": char, "other": other, "char_links": links}
    if wsl:
        out["wsl_nvml"] = _exists(WSL_NVML)
    return out


def probe_runtime_binary(module):
    first = module.params["runtime_path"]
    searched = [first, "PATH", TOOLKIT_DIR]
    if first and _is_executable(first):
        return first, searched
    return module.get_bin_path(RUNTIME_BINARY, opt_dirs=[TOOLKIT_DIR]), searched


def _service(module, engine):
    systemctl = module.get_bin_path("systemctl")
    if not systemctl:
        return None
    rc, out, dummy = module.run_command([systemctl] + systemctl_show_args(ENGINE_UNITS[engine]))
    if rc != 0:
        return None
    return pick_service(parse_systemctl_show(out), time.time(), time.monotonic())


def _resolve_binary(module, binary):
    if os.path.isabs(binary):
        return _is_executable(binary)
    return module.get_bin_path(binary) is not None


def _read_containerd(module, engine_info):
    binary = module.get_bin_path("containerd")
    if not binary:
        engine_info.update(error="containerd binary not found", error_kind="read")
        return None
    args = [binary]
    if module.params["config_path"]:
        args += ["--config", module.params["config_path"]]
    rc, out, err = module.run_command(args + ["config", "dump"])
    engine_info["source"] = "containerd config dump"
    if rc != 0:
        engine_info.update(error="rc=%s: %s" % (rc, (err or out).strip()), error_kind="read")
        return None
    return parse_toml(out, "containerd config dump output")


def _read_file_config(module, engine_info, path):
    engine_info["source"] = path
    if not _exists(path):
        engine_info.update(error="%s does not exist" % path, error_kind="missing")
        return None
    main_text = _read(path)
    main = parse_toml(main_text, path)
    imported = []
    for other in containerd_import_order(path, main_text, glob.glob):
        if _exists(other):
            imported.append(parse_toml(_read(other), other))
    return merge_imported(main, imported)


def probe_engine(module):
    name, how = choose_engine(
        module.params["engine"],
        k3s_config_exists=_exists(K3S_CONFIG),
        k3s_binary=module.get_bin_path("k3s"),
        microk8s=_isdir(MICROK8S_ARGS),
        containerd_binary=module.get_bin_path("containerd"),
        docker_binary=module.get_bin_path("docker"),
    )
    info = {"name": name, "how": how}
    if name is None:
        return info
    info["service"] = _service(module, name)
    view = None
    try:
        if name == "docker":
            binary = module.get_bin_path("docker")
            info["source"] = "docker info"
            if not binary:
                info.update(error="docker binary not found", error_kind="read")
            else:
                rc, out, err = module.run_command([binary, "info", "--format", "{{json .}}"])
                if rc != 0:
                    info.update(error="rc=%s: %s" % (rc, (err or out).strip()), error_kind="read")
                else:
                    view = docker_view(json.loads(out))
        else:
            if not HAS_TOML:
                info.update(error=TOML_INSTALL_HINT % sys.version.split()[0], error_kind="toml")
                data = None
            elif name == "containerd":
                data = _read_containerd(module, info)
                source = "containerd config dump"
            else:
                path = module.params["config_path"] or (K3S_CONFIG if name == "k3s" else MICROK8S_CONFIG)
                data = _read_file_config(module, info, path)
                source = path
            if data is not None:
                view = containerd_view(data, source)
    except GpuNodeError as exc:
        info.update(error=str(exc), error_kind="read")
    except (ValueError, OSError) as exc:
        info.update(error=str(exc), error_kind="read")
    info["view"] = view
    if view is not None:
        info["binaries"] = dict((r["binary"], _resolve_binary(module, r["binary"]))
                                for r in view["runtimes"].values() if r.get("binary"))
    files = engine_files(name, view, module.params["config_path"])
    info["files"] = [{"path": p, "mtime": _mtime(p)} for p in files]
    return info


def _ctime(path):
    try:
        return os.stat(path).st_ctime
    except OSError:
        return None


def probe_toolkit(module):
    """The installed NVIDIA container toolkit's version: dpkg, else rpm, else nvidia-ctk --version."""
    answers = {}
    for key, tool, args in (("dpkg", "dpkg-query", DPKG_TOOLKIT_ARGS), ("rpm", "rpm", RPM_TOOLKIT_ARGS)):
        binary = module.get_bin_path(tool)
        if binary:
            rc, out, dummy = module.run_command([binary] + args)
            answers[key] = (rc, out)
    ctk = module.get_bin_path("nvidia-ctk", opt_dirs=[TOOLKIT_DIR])
    found = toolkit_version(dpkg=answers.get("dpkg"), rpm=answers.get("rpm"))
    if found["version"] is None and ctk:
        rc, out, dummy = module.run_command([ctk, "--version"])
        found = toolkit_version(dpkg=answers.get("dpkg"), rpm=answers.get("rpm"), ctk=(rc, out, ctk))
    return found


def _read_if_file(path, errors):
    if not os.path.isfile(path):
        return None
    try:
        return _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        errors.append("%s: %s" % (path, exc))
        return None


def _list_dropins(directory):
    return sorted(glob.glob(os.path.join(directory, "*.yaml")))


def probe_network(module, wsl):
    """The node's addresses, k3s's configured node-ip, and on WSL the networking mode (read only)."""
    errors = []
    addresses = fib_trie_addresses(_read_if_file("/proc/net/fib_trie", errors) or "")
    addresses += if_inet6_addresses(_read_if_file("/proc/net/if_inet6", errors) or "")
    configs = [K3S_USER_CONFIG] + _list_dropins(K3S_USER_CONFIG_DIR)
    config_texts = [(p, t) for p, t in ((p, _read_if_file(p, errors)) for p in configs) if t is not None]
    unit_texts = [(p, t) for p, t in ((p, _read_if_file(p, errors)) for p in K3S_UNIT_FILES) if t is not None]
    node_ip, node_ip_source = configured_node_ips(config_texts, unit_texts)
    out = {"addresses": addresses, "node_ip": node_ip, "node_ip_source": node_ip_source, "errors": errors,
           "wsl_mode": None, "wsl_mode_source": None}
    if wsl:
        wslinfo = module.get_bin_path("wslinfo")
        if wslinfo:
            rc, stdout, dummy = module.run_command([wslinfo] + WSLINFO_ARGS)
            out["wsl_mode"] = wsl_networking_mode(rc, stdout)
            out["wsl_mode_source"] = "wslinfo --networking-mode" if out["wsl_mode"] else None
        if out["wsl_mode"] is None and _exists("/sys/class/net/loopback0"):
            out["wsl_mode"], out["wsl_mode_source"] = "mirrored", "interface loopback0 (made by mirrored mode)"
    return out


def gather(module):
    locale = get_best_parsable_locale(module)
    module.run_command_environ_update = dict(LANG=locale, LC_ALL=locale, LC_MESSAGES=locale, LC_CTYPE=locale)
    wsl = is_wsl(_kernel_release(), _exists(WSL_INTEROP), _isdir(WSL_LIB_DIR))
    runtime_binary, searched = probe_runtime_binary(module)
    probe = {
        "hostname": _hostname(),
        "wsl": wsl,
        "smi": probe_smi(module, wsl),
        "devices": probe_devices(wsl),
        "runtime_binary": runtime_binary,
        "runtime_binary_mtime": _mtime(runtime_binary) if runtime_binary else None,
        "runtime_binary_ctime": _ctime(runtime_binary) if runtime_binary else None,
        "toolkit": probe_toolkit(module),
        "runtime_searched": searched,
        "engine": probe_engine(module),
        "runtime_name": module.params["runtime_name"],
        "require_default_runtime": module.params["require_default_runtime"],
        "network": probe_network(module, wsl),
    }
    return diagnose_node(probe)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    result = gather(module)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
