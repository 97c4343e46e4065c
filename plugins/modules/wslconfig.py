#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# Documentation only: the work is done on the controller by plugins/action/wslconfig.py.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: wslconfig
short_description: Merge the WSL 2 settings this collection owns into a user's C(.wslconfig)
version_added: 0.1.0
description:
  - Manages the keys of a Windows user's C(.wslconfig) that a WSL 2 GPU node needs, and only those
    ([wsl2] C(memory), C(processors), C(networkingMode), C(vmSwitch), C(macAddress), C(vmIdleTimeout),
    C(dhcp), and the [experimental] keys given in O(experimental)). Every other key, comment, blank line
    and the key order are kept.
  - Runs on the controller. It reads the file with M(ansible.windows.slurp), merges with the Python library
    C(configupdater), and writes only when something changed, through the M(ansible.windows.win_copy)
    action (on a POSIX shell, such as a WSL distribution reaching the file under C(/mnt/c),
    M(ansible.builtin.slurp) and M(ansible.builtin.copy)).
  - Sections and keys are matched case-insensitively, as WSL does. A value that WSL reads the same way
    (V(true) and V(TRUE), C(0x10) and V(16), C(aa-bb-...) and C(AA:BB:...)) is not rewritten. A comment
    after a changed value is kept.
  - The file keeps its encoding (UTF-8, UTF-8 with BOM, or UTF-16LE with BOM) and its line ends; a new
    file is UTF-8 with CRLF line ends.
  - WSL reads C(.wslconfig) only when its VM starts; run C(wsl --shutdown) after a change (the
    C(homelab.gpu_node.windows_host) role does that in a handler when allowed to).
  - Fails when the result would have C(networkingMode=bridged) without C(vmSwitch). Warns when
    C(experimental.hostAddressLoopback) is true while the networking mode is not C(mirrored) (it only works
    there).
options:
  path:
    description:
      - Path of the file on the target. On Windows environment variables are expanded on the target.
      - The default is the profile of the user Ansible connects as. WSL reads the file of the user who starts
        the VM, so connect as the desktop user who owns the distribution.
      - Required on a POSIX target, for example C(/mnt/c/Users/gamer/.wslconfig).
    type: str
    default: '%USERPROFILE%\.wslconfig'
  wsl2:
    description:
      - Keys of the [wsl2] section to set. A key left out, or V(null), is not touched.
    type: dict
    default: {}
    suboptions:
      memory:
        description:
          - Memory of the WSL VM, a number with an upper-case unit C(B), C(K)/C(KB), C(M)/C(MB), C(G)/C(GB) or
            C(T)/C(TB), for example V(32GB). WSL ignores lower-case units.
        type: str
      processors:
        description: Number of logical processors of the WSL VM.
        type: int
      networkingMode:
        description:
          - V(bridged) attaches the VM to the external Hyper-V switch O(wsl2.vmSwitch); it needs WSL 2.5.6 or
            newer. An C(experimental.networkingMode) left from older WSL releases is removed when this is set.
        type: str
        choices: [nat, mirrored, bridged, none, virtioproxy]
      vmSwitch:
        description: Name of the external Hyper-V switch used with V(bridged).
        type: str
      macAddress:
        description:
          - Fixed MAC address of the VM's interface, for a DHCP reservation. Without it WSL picks a random one
            at each VM start in bridged mode.
        type: str
      vmIdleTimeout:
        description: Milliseconds before an idle VM is stopped; V(-1) never stops it.
        type: int
      dhcp:
        description:
          - Whether WSL's init runs a DHCP client in bridged mode. Set V(false) when the distribution configures
            a static address itself.
        type: bool
  experimental:
    description:
      - Keys of the [experimental] section to set, such as C(hostAddressLoopback) or C(autoMemoryReclaim).
        Values are written as given; booleans as V(true)/V(false).
    type: dict
    default: {}
  remove:
    description:
      - Keys to delete, as C(section.key), for example C(wsl2.vmSwitch) when leaving bridged mode. Only the
        [wsl2] keys listed under O(wsl2) and [experimental] keys can be removed.
    type: list
    elements: str
    default: []
  backup:
    description: Keep a timestamped copy of the previous file when it changes.
    type: bool
    default: false
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Reads the file and reports what would change; nothing is written.
  diff_mode:
    support: full
    details: The diff shows the whole file before and after.
  platform:
    platforms: [windows, posix]
requirements:
  - configupdater (Python library on the controller)
notes:
  - The merge runs on the controller, so C(configupdater) is needed there only, not on the Windows host.
  - WSL treats only C(#) as a comment character; lines starting with C(;) are kept as they are.
seealso:
  - name: WSL configuration (.wslconfig)
    description: Microsoft's reference of the keys.
    link: https://learn.microsoft.com/windows/wsl/wsl-config
  - module: ansible.windows.win_copy
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Bridge the WSL VM onto the LAN with a fixed MAC and keep it running
  homelab.gpu_node.wslconfig:
    wsl2:
      memory: 32GB
      processors: 8
      networkingMode: bridged
      vmSwitch: WSLBridge
      macAddress: "02:15:5d:4a:10:35"
      vmIdleTimeout: -1
  register: wslconfig_result

- name: Apply the new settings (stops every running distribution)
  ansible.windows.win_command: wsl.exe --shutdown
  when: wslconfig_result is changed

- name: Leave bridged mode again
  homelab.gpu_node.wslconfig:
    wsl2:
      networkingMode: nat
    remove:
      - wsl2.vmSwitch
      - experimental.hostAddressLoopback

- name: Edit the file from inside a WSL distribution
  homelab.gpu_node.wslconfig:
    path: /mnt/c/Users/gamer/.wslconfig
    wsl2:
      vmIdleTimeout: -1
"""

RETURN = r"""
path:
  description: The path that was read and, on change, written.
  returned: always
  type: str
  sample: '%USERPROFILE%\.wslconfig'
created:
  description: Whether the file did not exist before.
  returned: success
  type: bool
  sample: false
encoding:
  description: Encoding the file was read and written in, V(utf-8), V(utf-8-sig) or V(utf-16-le-bom).
  returned: success
  type: str
  sample: utf-8
changes:
  description: Keys that were (or in check mode would be) added, changed or removed.
  returned: success
  type: list
  elements: dict
  contains:
    section:
      description: Section of the key.
      type: str
      sample: wsl2
    key:
      description: Key as spelled in the file.
      type: str
      sample: memory
    before:
      description: Raw value before, V(null) when the key was absent.
      type: str
      sample: 16GB
    after:
      description: Raw value after, V(null) when the key was removed.
      type: str
      sample: 32GB
settings:
  description: Effective values of the [wsl2] keys this module owns after the merge (V(null) = not set).
  returned: success
  type: dict
  sample: {memory: 32GB, processors: "8", networkingMode: bridged, vmSwitch: WSLBridge,
           macAddress: "02:15:5d:4a:10:35", vmIdleTimeout: "-1", dhcp: null}
backup_file:
  description: Name of the backup, when O(backup=true) and the file changed.
  returned: changed and O(backup=true)
  type: str
  sample: 'C:\Users\gamer\.wslconfig.12345.20260101-120000~'
"""
