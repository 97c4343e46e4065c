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
  - Without C(nvidia-smi) (a CPU-only node), returns RV(ansible_facts.nvidia.present=false) unless
    O(required=true). So does C(nvidia-smi) reporting C(No devices were found), with a warning.
  - When C(nvidia-smi) cannot talk to the driver (not loaded, or a driver/library version mismatch) the module
    fails, whatever O(required) says, with the reason and the fix (install or load the driver; reboot or reload
    the kernel modules after an upgrade; on WSL update the Windows driver).
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
          description: Whether nvidia-smi ran and reported at least one GPU.
          returned: always
          type: bool
          sample: true
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

# the driver works but there is no GPU to describe: not an error unless required
_ABSENT_REASONS = ("no_devices",)


def argument_spec():
    return dict(
        nvidia_smi_path=dict(type="path"),
        required=dict(type="bool", default=False),
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


def gather(module, wsl):
    """Return the facts dict; raise NvidiaSmiError when the user must act."""
    required = module.params["required"]
    smi = find_nvidia_smi(module.params["nvidia_smi_path"], module.get_bin_path, _is_executable)
    if smi is None:
        if required:
            raise NvidiaSmiError(not_found_message(), reason="not_found")
        return absent_facts(wsl)
    rc, out, err = module.run_command([smi] + XML_ARGS)
    if rc != 0:
        failure = classify_failure(rc, out, err, wsl=wsl)
        if failure.reason in _ABSENT_REASONS and not required:
            module.warn(str(failure))
            return absent_facts(wsl)
        raise failure
    facts = parse_smi_xml(out)
    facts["wsl"] = wsl
    if required and not facts["present"]:
        raise NvidiaSmiError("%s -q -x reported no GPU." % smi, reason="no_devices")
    if module.params["query_compute_capability"] and needs_compute_capability(facts):
        _add_compute_capability(module, smi, facts)
    return facts


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        facts = gather(module, _detect_wsl())
    except NvidiaSmiError as exc:
        module.fail_json(msg=str(exc), reason=exc.reason)
    module.exit_json(changed=False, ansible_facts={"nvidia": facts})


if __name__ == "__main__":
    main()
