#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: package_record
short_description: Record which packages a role installed, so that an uninstall removes exactly those
version_added: 0.1.0
description:
  - "Two calls around a role's package install. O(phase=before) asks the package manager (C(dpkg-query), else
    C(rpm)) which of O(packages) are installed and returns them as RV(installed); it changes nothing.
    O(phase=after) asks again and adds to the record at O(path) each of O(packages) that is installed now and was
    not in O(installed_before): the role installed it."
  - The packages of an earlier record stay recorded. A package the user had before the role's first run is never
    recorded, so an uninstall never removes it. No file is written while the record would be empty and there is
    none yet (a check run, or an install of packages that were all there before).
  - Only the named packages are queried (not the whole package database), so a rerun stays cheap.
  - The record is written atomically (mode 0644); its directory is created when missing.
options:
  packages:
    description: The package names the role installs.
    type: list
    elements: str
    required: true
  phase:
    description: V(before) reads only; V(after) updates the record.
    type: str
    choices: [before, after]
    required: true
  installed_before:
    description: RV(installed) of the O(phase=before) call. Required with O(phase=after).
    type: list
    elements: str
  path:
    description: 'The record (JSON, C({"packages": [...]})).'
    type: path
    required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  platform:
    platforms: posix
notes:
  - Nodes without C(dpkg-query) and C(rpm) fail with a message naming both.
seealso:
  - module: ansible.builtin.package_facts
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Note which toolkit packages are installed before the install
  homelab.gpu_node.package_record:
    packages: [nvidia-container-toolkit, nvidia-container-toolkit-base, libnvidia-container-tools, libnvidia-container1]
    phase: before
    path: /var/lib/homelab-gpu-node/gpu_runtime_packages.json
  register: before

- name: Install them
  ansible.builtin.apt:
    name: [nvidia-container-toolkit]

- name: Record the ones this install added
  homelab.gpu_node.package_record:
    packages: [nvidia-container-toolkit, nvidia-container-toolkit-base, libnvidia-container-tools, libnvidia-container1]
    phase: after
    installed_before: "{{ before.installed }}"
    path: /var/lib/homelab-gpu-node/gpu_runtime_packages.json
"""

RETURN = r"""
installed:
  description: The names of O(packages) installed now, sorted.
  returned: always
  type: list
  elements: str
record:
  description: 'The record after this call (with O(phase=before), the record as found, or C({"packages": []})).'
  returned: always
  type: dict
  sample: {"packages": ["libnvidia-container-tools", "nvidia-container-toolkit"]}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError
from ansible_collections.homelab.gpu_node.plugins.module_utils._package_record import (
    DPKG_QUERY,
    RPM_QUERY,
    PackageRecordError,
    installed_from_dpkg,
    installed_from_rpm,
    new_record,
    read_record,
    record_text,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_files import read_text, write_text


def query_installed(module, packages):
    """The names of ``packages`` installed now, from dpkg-query or rpm (their exit code is non-zero whenever one
    name is unknown, so only a missing tool or an empty answer with an error is a failure)."""
    for argv, parse in ((DPKG_QUERY, installed_from_dpkg), (RPM_QUERY, installed_from_rpm)):
        tool = module.get_bin_path(argv[0])
        if not tool:
            continue
        dummy, stdout, dummy = module.run_command([tool] + argv[1:] + list(packages))
        return parse(stdout, packages)
    module.fail_json(msg="neither dpkg-query nor rpm is on this node: cannot tell which packages are installed")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            packages=dict(type="list", elements="str", required=True),
            phase=dict(type="str", required=True, choices=["before", "after"]),
            installed_before=dict(type="list", elements="str"),
            path=dict(type="path", required=True),
        ),
        required_if=[("phase", "after", ("installed_before",))],
        supports_check_mode=True,
    )
    params = module.params
    installed = query_installed(module, params["packages"])
    try:
        old_text = read_text(params["path"])
        old = read_record(old_text)
    except (RuntimeConfigError, PackageRecordError) as exc:
        module.fail_json(msg="%s: %s" % (params["path"], to_native(exc)))
    result = dict(changed=False, installed=installed, record=old or {"packages": []})
    if params["phase"] == "after":
        record = new_record(params["packages"], params["installed_before"], installed, old)
        text = record_text(record)
        result["record"] = record
        if text != old_text and (record["packages"] or old_text is not None):
            result["changed"] = True
            if module._diff:
                result["diff"] = dict(before_header=params["path"], after_header=params["path"],
                                      before=old_text or "", after=text)
            if not module.check_mode:
                try:
                    write_text(module, params["path"], text)
                except OSError as exc:
                    module.fail_json(msg="cannot write %s: %s" % (params["path"], to_native(exc)))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
