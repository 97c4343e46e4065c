#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_smi_facts
short_description: Gather NVIDIA driver and GPU facts from nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi -q -x) once on the target and returns the driver version, CUDA version, GPUs, MIG devices
    and GPU feature discovery style node labels as RV(ansible_facts.nvidia).
  - When the XML does not carry the CUDA compute capability (no driver up to 610 puts it there), runs one
    more command, C(nvidia-smi --query-gpu=pci.bus_id,compute_cap --format=csv,noheader). Older drivers
    (the 465-471 captures lack the field; it appeared around 510) reject it with exit code 2; the facts then
    come from the XML alone and C(compute_capability) is V(null).
  - Looks for C(nvidia-smi) in O(nvidia_smi_path), else on E(PATH), else C(/usr/lib/wsl/lib/nvidia-smi)
    (WSL 2, where the driver lives on Windows), else C(/usr/bin/nvidia-smi).
  - Also reads the PCI bus from sysfs (C(/sys/bus/pci/devices/*/vendor), C(device), C(class) and the C(driver)
    link; no lspci needed) and C(/proc/driver/nvidia/version), so that a GPU is seen before its driver is
    installed. An NVIDIA device (vendor C(0x10de)) of PCI class C(0x03xxxx) (display or 3D controller) makes
    RV(ansible_facts.nvidia.present=true) even without C(nvidia-smi); RV(ansible_facts.nvidia.driver) then says
    what is missing (C(state=not_installed) or C(not_loaded)) and RV(ansible_facts.nvidia.pci_devices) lists the
    GPUs with their PCI ids, from which RV(ansible_facts.nvidia.driver.recommended_flavour) picks the kernel
    module flavour.
  - Without C(nvidia-smi) and without an NVIDIA GPU on the PCI bus (a CPU-only node), returns
    RV(ansible_facts.nvidia.present=false) unless O(required=true). So does C(nvidia-smi) reporting
    C(No devices were found), with a warning.
  - When C(nvidia-smi) is installed but cannot talk to the driver (C(couldn't communicate with the NVIDIA
    driver)) and the PCI bus shows an NVIDIA GPU, the module warns and returns C(present=true) with
    C(driver.state=not_loaded), so that a role can (re)install the driver; with O(required=true), inside WSL, or
    when no GPU is on the PCI bus it fails with the reason and the fix.
  - A driver/library version mismatch always fails, whatever O(required) says, because installing is not the
    fix; a reboot (or reloading the kernel modules) is, and the message says so. On WSL the Windows driver is.
options:
  nvidia_smi_path:
    description:
      - Full path of the C(nvidia-smi) binary to run instead of searching for it.
      - The module fails when this file does not exist or is not executable.
    type: path
  required:
    description:
      - Fail when C(nvidia-smi) is not found or reports no GPU, instead of returning
        RV(ansible_facts.nvidia.present=false).
    type: bool
    default: false
  host:
    description:
      - Also return the few host facts the collection's roles read, under the names C(setup) gives them
        (C(kernel), C(architecture), C(nodename), C(os_family), C(distribution), C(distribution_version),
        C(distribution_major_version), C(python), C(service_mgr), C(pkg_mgr) and the others of those subsets),
        computed by ansible's own fact collectors; a role then needs no separate C(setup) call.
      - They are returned also when the module fails (a driver/library version mismatch).
    type: bool
    default: false
  query_compute_capability:
    description:
      - Run the extra C(--query-gpu=pci.bus_id,compute_cap) query when the XML lacks the compute capability.
      - Set to V(false) to run C(nvidia-smi) exactly once; C(compute_capability) is then V(null).
    type: bool
    default: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.facts
attributes:
  check_mode:
    support: full
    details: The module only reads; it runs the same in check mode.
  diff_mode:
    support: none
  facts:
    support: full
  platform:
    platforms: posix
notes:
  - C(nvidia-smi -q -x) does not name MIG profiles. C(profile) is derived from the MIG device's multiprocessor
    count and memory, assuming one compute instance spans its GPU instance (checked against A100, H100 and H200
    captures). It is V(null) for architectures other than Ampere and Hopper and for GPU instances split into
    several compute instances.
  - MIG device UUIDs are only in the XML of newer drivers; otherwise C(uuid) is V(null).
  - GPU C(index) is the NVML index (the order nvidia-smi prints GPUs in, PCI bus order), the one C(nvidia-smi -i),
    C(CUDA_VISIBLE_DEVICES) with C(CUDA_DEVICE_ORDER=PCI_BUS_ID) and the device plugin's device lists use. It can
    differ from C(minor_number) (C(/dev/nvidiaN)).
seealso:
  - name: nvidia-smi documentation
    description: NVIDIA System Management Interface.
    link: https://docs.nvidia.com/deploy/nvidia-smi/index.html
  - name: GPU feature discovery labels
    description: The label names used in RV(ansible_facts.nvidia.labels).
    link: https://github.com/NVIDIA/k8s-device-plugin/tree/main/docs/gpu-feature-discovery
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Gather NVIDIA facts
  homelab.gpu_node.nvidia_smi_facts:

- name: Show the GPUs
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvidia.gpus | map(attribute='name') | list }}"
  when: ansible_facts.nvidia.present

- name: Require a working GPU on GPU nodes (fails with the fix when the driver is missing or mismatched)
  homelab.gpu_node.nvidia_smi_facts:
    required: true
  when: inventory_hostname in groups['gpu_nodes']

- name: Use the WSL 2 binary explicitly and skip the compute capability query
  homelab.gpu_node.nvidia_smi_facts:
    nvidia_smi_path: /usr/lib/wsl/lib/nvidia-smi
    query_compute_capability: false

- name: Label the node the way GPU feature discovery would
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvidia.labels }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts to add to ansible_facts.
  returned: always
  type: complex
  contains:
    nvidia:
      description: NVIDIA driver and GPU facts.
      returned: always
      type: complex
      contains:
        present:
          description:
            - Whether the node has an NVIDIA GPU - nvidia-smi reported at least one, or the PCI bus shows an
              NVIDIA display or 3D controller (also when no driver is installed or loaded yet; see
              RV(ansible_facts.nvidia.driver)).
          returned: always
          type: bool
          sample: true
        driver:
          description: The state of the NVIDIA driver on this node.
          returned: always
          type: dict
          contains:
            loaded:
              description: Whether a working driver is loaded (nvidia-smi answered, or without nvidia-smi the
                nvidia module is bound to the GPUs).
              type: bool
              sample: false
            state:
              description:
                - V(loaded), V(not_installed) (no nvidia-smi and no nvidia module bound), V(not_loaded)
                  (nvidia-smi cannot talk to a driver), V(mismatch) is never returned (the module fails).
              type: str
              sample: not_installed
            version:
              description: Version of the loaded kernel module (C(/proc/driver/nvidia/version)) or, failing that,
                the driver version nvidia-smi reported; V(null) when none is loaded.
              type: str
              sample: "580.159.04"
            flavour:
              description: Flavour of the loaded kernel module, V(open) or V(proprietary); V(null) when unknown.
              type: str
              sample: open
            recommended_flavour:
              description:
                - Kernel module flavour for the GPUs on the PCI bus, V(open) for Turing and newer (device id
                  C(0x1e00) and up), V(proprietary) when any GPU is older; V(null) without PCI GPUs (e.g. WSL).
              type: str
              sample: open
        pci_devices:
          description: NVIDIA display and 3D controllers on the PCI bus (empty on WSL and CPU-only nodes).
          returned: always
          type: list
          elements: dict
          contains:
            address:
              description: PCI address as sysfs names it.
              type: str
              sample: "0000:00:06.0"
            vendor_id:
              description: PCI vendor id.
              type: str
              sample: "0x10de"
            device_id:
              description: PCI device id.
              type: str
              sample: "0x2335"
            class:
              description: PCI class code (C(0x0300xx) VGA, C(0x0302xx) 3D controller).
              type: str
              sample: "0x030200"
            driver:
              description: Name of the kernel driver bound to the device, V(null) when none.
              type: str
              sample: nvidia
        wsl:
          description: Whether the target is a WSL 2 distribution (the driver then lives on Windows).
          returned: always
          type: bool
          sample: false
        driver_version:
          description:
            - Driver version (C(kmd_version) on driver 610 and later, without the deprecation note).
            - V(null) when not present.
          returned: always
          type: str
          sample: "535.86.05"
        cuda_version:
          description: Highest CUDA version the driver supports; V(null) before driver 410 or when not reported.
          returned: always
          type: str
          sample: "12.2"
        count:
          description: Number of GPUs described in the XML (the length of RV(ansible_facts.nvidia.gpus)).
          returned: always
          type: int
          sample: 1
        attached_gpus:
          description: The XML's C(attached_gpus); may exceed RV(ansible_facts.nvidia.count). V(null) if unknown.
          returned: always
          type: int
          sample: 1
        gpus:
          description: One entry per GPU, sorted by C(index).
          returned: always
          type: list
          elements: dict
          contains:
            index:
              description: NVML index (the position in the XML, PCI bus order); not the C(minor_number).
              type: int
              sample: 0
            uuid:
              description: GPU UUID as reported (may be masked or malformed in some captures).
              type: str
              sample: GPU-71d1acc2-662d-2166-bf9f-65272d2fc437
            name:
              description: Product name.
              type: str
              sample: NVIDIA GeForce RTX 4090
            pci_bus_id:
              description: PCI bus id as nvidia-smi prints it.
              type: str
              sample: "00000000:84:00.0"
            memory_total_mib:
              description: Total framebuffer memory in MiB.
              type: int
              sample: 24564
            memory_used_mib:
              description: Used framebuffer memory in MiB when the facts were gathered.
              type: int
              sample: 2
            compute_capability:
              description: CUDA compute capability as V(major.minor), or V(null) when unknown.
              type: str
              sample: "8.9"
            mig_mode:
              description: Current MIG mode (V(Enabled) or V(Disabled)); V(null) where MIG is not supported.
              type: str
              sample: Enabled
            mig_devices:
              description: MIG devices of this GPU; empty without MIG.
              type: list
              elements: dict
              contains:
                index:
                  description: V(<gpu index>:<mig device index>).
                  type: str
                  sample: "0:1"
                uuid:
                  description: MIG device UUID, or V(null) when the XML does not carry it.
                  type: str
                  sample: MIG-8b7a8d15-c2a1-549c-abe9-a7c2c0d18f7e
                profile:
                  description: Derived MIG profile name, or V(null) when it cannot be derived (see notes).
                  type: str
                  sample: 3g.20gb
        labels:
          description:
            - GPU feature discovery label names and values for the first GPU (strings, valid label values).
            - Empty when no GPU is present.
          returned: always
          type: dict
          sample:
            nvidia.com/gpu.present: "true"
            nvidia.com/gpu.count: "1"
            nvidia.com/gpu.product: NVIDIA-GeForce-RTX-4090
            nvidia.com/gpu.memory: "24564"
            nvidia.com/cuda.driver.major: "535"
            nvidia.com/cuda.driver.minor: "86"
            nvidia.com/cuda.driver.rev: "05"
            nvidia.com/cuda.runtime.major: "12"
            nvidia.com/cuda.runtime.minor: "2"
            nvidia.com/gpu.compute.major: "8"
            nvidia.com/gpu.compute.minor: "9"
reason:
  description: Why nvidia-smi could not be used.
  returned: failure
  type: str
  sample: version_mismatch
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import NvidiaSmiError
from ansible_collections.homelab.gpu_node.plugins.module_utils._nvidia_smi import (
    COMPUTE_CAP_ARGS,
    COMPUTE_CAP_FIELDS,
    WSL_INTEROP,
    WSL_LIB_DIR,
    XML_ARGS,
    absent_facts,
    classify_failure,
    find_nvidia_smi,
    is_wsl,
    merge_csv_facts,
    needs_compute_capability,
    not_found_message,
    parse_smi_csv,
    parse_smi_xml,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._pci import (
    driver_state,
    nvidia_gpus,
    pci_note,
    read_loaded_module,
    read_pci_devices,
)

from ansible_collections.homelab.gpu_node.plugins.module_utils._host_facts import gather_host_facts

# the driver works but there is no GPU to describe: not an error unless required
_ABSENT_REASONS = ("no_devices",)


def argument_spec():
    return dict(
        nvidia_smi_path=dict(type="path"),
        required=dict(type="bool", default=False),
        host=dict(type="bool", default=False),
        query_compute_capability=dict(type="bool", default=True),
    )


def _is_executable(path):
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _detect_wsl():
    return is_wsl(os.uname()[2], os.path.exists(WSL_INTEROP), os.path.isdir(WSL_LIB_DIR))


def _add_compute_capability(module, smi, facts):
    rc, out, dummy = module.run_command([smi] + COMPUTE_CAP_ARGS)
    if rc != 0:
        # drivers before 510 exit 2: 'Field "compute_cap" is not a valid field to query.'
        return
    try:
        rows = parse_smi_csv(out, fields=COMPUTE_CAP_FIELDS)
    except NvidiaSmiError as exc:
        module.warn("Ignoring the compute capability query: %s" % exc)
        return
    merge_csv_facts(facts, rows)


# where sysfs and procfs are read from (unit tests point it at a tree built from a capture)
_ROOT = "/"


def _pci_view():
    """The NVIDIA GPUs on the PCI bus and the loaded module's (version, flavour); read-only."""
    gpus = nvidia_gpus(read_pci_devices(_ROOT))
    version, flavour = read_loaded_module(_ROOT)
    return gpus, version, flavour


def _with_driver(facts, gpus, smi_found, failure_reason, module_version, module_flavour):
    facts["driver"] = driver_state(gpus, smi_found, failure_reason, module_version, module_flavour)
    if facts["driver"]["version"] is None and failure_reason is None:
        facts["driver"]["version"] = facts.get("driver_version")
    facts["pci_devices"] = gpus
    if gpus and not facts["present"]:
        # a GPU without a working driver: present, so that the driver gets installed
        facts["present"] = True
    return facts


def gather(module, wsl):
    """Return the facts dict; raise NvidiaSmiError when the user must act."""
    required = module.params["required"]
    gpus, module_version, module_flavour = _pci_view()
    smi = find_nvidia_smi(module.params["nvidia_smi_path"], module.get_bin_path, _is_executable)
    if smi is None:
        if required:
            raise NvidiaSmiError(not_found_message() + pci_note(gpus), reason="not_found")
        return _with_driver(absent_facts(wsl), gpus, False, "not_found", module_version, module_flavour)
    rc, out, err = module.run_command([smi] + XML_ARGS)
    if rc != 0:
        failure = classify_failure(rc, out, err, wsl=wsl)
        if failure.reason in _ABSENT_REASONS and not required:
            module.warn(str(failure))
            return _with_driver(absent_facts(wsl), gpus, True, failure.reason, module_version, module_flavour)
        if failure.reason == "no_driver" and gpus and not wsl and not required:
            # the GPU is on the PCI bus and nvidia-smi is installed, but no module answers:
            # report it so that the driver is (re)installed; a mismatch still fails (reboot)
            module.warn(str(failure))
            return _with_driver(absent_facts(wsl), gpus, True, failure.reason, module_version, module_flavour)
        raise failure
    facts = parse_smi_xml(out)
    facts["wsl"] = wsl
    if required and not facts["present"]:
        raise NvidiaSmiError("%s -q -x reported no GPU." % smi, reason="no_devices")
    if module.params["query_compute_capability"] and needs_compute_capability(facts):
        _add_compute_capability(module, smi, facts)
    return _with_driver(facts, gpus, True, None, module_version, module_flavour)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    host = gather_host_facts(module) if module.params["host"] else {}
    try:
        facts = gather(module, _detect_wsl())
    except NvidiaSmiError as exc:
        # the host facts only when asked: a failed call without them sets no facts at all
        module.fail_json(msg=str(exc), reason=exc.reason, **({"ansible_facts": host} if host else {}))
    module.exit_json(changed=False, ansible_facts=dict(host, nvidia=facts))


if __name__ == "__main__":
    main()
