#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_toolkit_mode
short_description: Put the NVIDIA container toolkit in CDI mode (or leave it to its default) and record the node's mode
version_added: 0.1.0
description:
  - Learns the installed toolkit's version (C(nvidia-ctk --version)) and the nvidia runtime's configured mode
    (C(nvidia-container-runtime.mode) in O(runtime_config)), and records on the node which way containers get
    their GPUs, in O(record) and in RV(ansible_facts.nvidia_toolkit). C(legacy) (the prestart hook; what mode
    C(auto) means before toolkit 1.18.0), C(jit-cdi) (CDI specs made in memory per container; C(auto) from 1.18.0)
    or C(cdi) (a CDI spec on disk that the engine reads itself).
  - With O(mode=cdi), generates the CDI spec with C(nvidia-ctk cdi generate --output=...) into a temporary file
    and puts it at O(spec_path) when it differs from the spec there. With O(mode=auto), removes a spec that this
    module generated earlier at O(spec_path) (and nothing else).
  - The engine's side (containerd C(enable_cdi), C(cdi_spec_dirs)) is M(homelab.gpu_node.containerd_nvidia_runtime)'s.
options:
  mode:
    description:
      - V(cdi) generates the CDI spec; V(auto) leaves the mode to the toolkit (jit-cdi from 1.18.0, legacy before).
    type: str
    choices: [auto, cdi]
    required: true
  spec_path:
    description:
      - Where the CDI spec goes. C(/var/run) is a tmpfs; toolkit 1.18.0 and later regenerate this file at boot
        (C(nvidia-cdi-refresh)); with an older toolkit use C(/etc/cdi/nvidia.yaml).
    type: path
    default: /var/run/cdi/nvidia.yaml
  nvidia_ctk:
    description: Path of nvidia-ctk; empty means the first one on PATH or in C(/usr/bin).
    type: path
  runtime_config:
    description: The nvidia runtime's config file (read only).
    type: path
    default: /etc/nvidia-container-runtime/config.toml
  record:
    description: Where the node's mode is recorded (JSON), for the doctor and later runs.
    type: path
    default: /var/lib/homelab-gpu-node/toolkit_mode.json
  engine:
    description: The container engine the role configured (recorded only).
    type: str
    default: ""
  engine_cdi:
    description: Whether the engine was configured with CDI on (recorded only).
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: CDI mode - generate /var/run/cdi/nvidia.yaml and record the mode
  homelab.gpu_node.nvidia_toolkit_mode:
    mode: cdi
    engine: containerd
    engine_cdi: true

- name: Leave the mode to the toolkit, just record it
  homelab.gpu_node.nvidia_toolkit_mode:
    mode: auto
  register: toolkit

- name: Show it
  ansible.builtin.debug:
    msg: "{{ ansible_facts.nvidia_toolkit.mode }}"
"""

RETURN = r"""
ansible_facts:
  description: Facts about the node's toolkit.
  returned: always
  type: dict
  contains:
    nvidia_toolkit:
      description: The record written to O(record).
      type: dict
      returned: always
      sample:
        mode: cdi
        requested: cdi
        toolkit_version: 1.20.0
        runtime_config_mode: auto
        cdi_spec: /var/run/cdi/nvidia.yaml
        engine: containerd
        engine_cdi: true
        schema: 1
spec_changed:
  description: Whether the CDI spec at O(spec_path) was (or in check mode would be) written or removed.
  returned: always
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_files import read_text, write_text
from ansible_collections.homelab.gpu_node.plugins.module_utils._toolkit_mode import (
    build_record,
    parse_ctk_version,
    read_record,
    record_text,
    runtime_config_mode,
    spec_to_remove,
)


def generate_spec(module, ctk, spec_path):
    out = os.path.join(module.tmpdir, os.path.basename(spec_path) or "nvidia.yaml")
    rc, stdout, stderr = module.run_command([ctk, "cdi", "generate", "--output=%s" % out])
    if rc != 0 or not os.path.exists(out):
        module.fail_json(msg="nvidia-ctk cdi generate failed (exit %d): %s" % (rc, (stderr or stdout).strip()))
    return read_text(out)


def write_or_fail(module, path, text):
    """Write ``text`` to ``path`` (write_text), or fail naming the file."""
    try:
        write_text(module, path, text)
    except OSError as exc:
        module.fail_json(msg="cannot write %s: %s" % (path, to_native(exc)))


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type="str", required=True, choices=["auto", "cdi"]),
            spec_path=dict(type="path", default="/var/run/cdi/nvidia.yaml"),
            nvidia_ctk=dict(type="path"),
            runtime_config=dict(type="path", default="/etc/nvidia-container-runtime/config.toml"),
            record=dict(type="path", default="/var/lib/homelab-gpu-node/toolkit_mode.json"),
            engine=dict(type="str", default=""),
            engine_cdi=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    ctk = params["nvidia_ctk"] or module.get_bin_path("nvidia-ctk", opt_dirs=["/usr/bin"])
    version = None
    if ctk:
        rc, stdout, dummy = module.run_command([ctk, "--version"])
        version = parse_ctk_version(stdout) if rc == 0 else None
    elif params["mode"] == "cdi" and not module.check_mode:
        module.fail_json(msg="CDI mode needs nvidia-ctk (package nvidia-container-toolkit-base), which is not on "
                             "this node: install the NVIDIA container toolkit first")

    try:
        config_mode = runtime_config_mode(read_text(params["runtime_config"]))
        old_record_text = read_text(params["record"])
        old_spec = read_text(params["spec_path"])
    except RuntimeConfigError as exc:  # a file that is not UTF-8 text
        module.fail_json(msg=to_native(exc))
    old_record = read_record(old_record_text)

    diff = []
    spec_changed = False
    generated = False
    if params["mode"] == "cdi" and not ctk:
        # check mode before the toolkit is installed: the spec is made by the real run
        module.warn("check mode: nvidia-ctk is not installed yet; a real run generates %s" % params["spec_path"])
        generated = spec_changed = True
    elif params["mode"] == "cdi":
        new_spec = generate_spec(module, ctk, params["spec_path"])
        generated = True
        if new_spec != old_spec:
            spec_changed = True
            diff.append(dict(before_header=params["spec_path"], after_header=params["spec_path"],
                             before=old_spec or "", after=new_spec))
            if not module.check_mode:
                write_or_fail(module, params["spec_path"], new_spec)
    elif spec_to_remove(params["mode"], old_record, params["spec_path"], old_spec is not None):
        spec_changed = True
        diff.append(dict(before_header=params["spec_path"], after_header=params["spec_path"],
                         before=old_spec, after=""))
        if not module.check_mode:
            os.remove(params["spec_path"])

    record = build_record(params["mode"], version, config_mode, params["spec_path"], generated,
                          params["engine"], params["engine_cdi"])
    new_record_text = record_text(record)
    record_changed = new_record_text != old_record_text
    if record_changed:
        diff.append(dict(before_header=params["record"], after_header=params["record"],
                         before=old_record_text or "", after=new_record_text))
        if not module.check_mode:
            write_or_fail(module, params["record"], new_record_text)
    result = dict(changed=spec_changed or record_changed, spec_changed=spec_changed,
                  ansible_facts={"nvidia_toolkit": record})
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
