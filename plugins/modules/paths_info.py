#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: paths_info
short_description: Look at many paths in one call, and tell whether a service still runs older versions of them
version_added: 0.1.0
description:
  - Reports for each of O(paths) whether it exists, its type, mode, owner and modification time, and returns the
    text of the small files listed in O(read). One module call replaces a loop of C(ansible.builtin.stat) and
    C(ansible.builtin.slurp) tasks, one remote round trip each; the roles of this collection use it for their probes.
  - With O(service), also reads the unit's state from systemd and lists in RV(stale) the files of O(watch) changed
    after the unit last started. A run interrupted between writing a config file and restarting the service
    (Ctrl-C, a cancelled AWX job) leaves the service on the old config while the file is already right; the next
    run sees RV(restart_pending) and restarts it.
  - Read only; never changes the node.
  - Symbolic links are reported as links, not followed; a checksum is computed only for a regular file.
options:
  paths:
    description:
      - Absolute paths to look at. Symbolic links are reported as links, not followed.
    type: list
    elements: path
    default: []
  read:
    description:
      - Files whose text to return in RV(contents) (UTF-8, at most O(read_max_bytes) each). Missing files are left out.
    type: list
    elements: path
    default: []
  checksum:
    description:
      - Regular files whose SHA-256 to return in RV(paths) (key C(checksum)), for example to compare a binary with its
        published checksum, or a file with the content a task would write, without another remote call.
    type: list
    elements: path
    default: []
  expect_sha256:
    description:
      - Regular files to compare with a SHA-256 (hex) the caller expects, keyed by path; RV(paths) gets
        C(content_matches) (true/false) for them and never their checksum. Meant for files holding a secret, a join
        token for example, so that no derived form of the secret reaches the output; the option's values are hidden
        (no_log).
    type: dict
    default: {}
    version_added: 0.1.0
  read_max_bytes:
    description:
      - Largest file O(read) returns; a bigger one fails the module (it is not a small state file).
    type: int
    default: 65536
  service:
    description:
      - A systemd unit (for example V(k3s-agent) or V(containerd)) whose start time is compared with O(watch).
    type: str
  watch:
    description:
      - Files the O(service) reads at start. Defaults to every path in O(paths).
    type: list
    elements: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - A file counts as changed after the start when its modification time is more than one second later than the
    start time systemd reports (C(ExecMainStartTimestampMonotonic)). A service that is not active has no stale
    files, because it reads them when it starts.
seealso:
  - module: ansible.builtin.stat
  - module: ansible.builtin.slurp
  - module: homelab.gpu_node.gpu_node_doctor
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Look at the k3s agent's files and whether it runs them
  homelab.gpu_node.paths_info:
    paths:
      - /usr/local/bin/k3s
      - /etc/rancher/k3s/config.yaml
      - /etc/systemd/system/k3s-agent.service
    read: [/var/lib/homelab-gpu-node/cluster_join.json]
    service: k3s-agent
  register: probe

- name: Restart k3s-agent when an earlier run stopped before doing so
  ansible.builtin.debug:
    msg: "{{ probe.stale | join(', ') }} changed after k3s-agent started"
  changed_when: true
  notify: Restart k3s-agent
  when: probe.restart_pending
"""

RETURN = r"""
paths:
  description:
    - One entry per path of O(paths), O(checksum) and O(watch), keyed by the path; C(checksum) (SHA-256, hex) for the
      regular files of O(checksum).
  returned: always
  type: dict
  sample:
    /etc/rancher/k3s/config.yaml: {exists: true, type: file, mode: "0600", uid: 0, gid: 0, size: 230,
                                   mtime: 1795000000.5,
                                   checksum: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08}
    /etc/rancher/k3s/missing: {exists: false}
contents:
  description: The text of each existing file of O(read), keyed by the path.
  returned: always
  type: dict
  sample: {/var/lib/homelab-gpu-node/cluster_join.json: '{"distribution": "k3s"}'}
service:
  description:
    - The state of O(service) (C(unit), C(active), C(sub), C(started) in epoch seconds); V(null) without O(service),
      without systemd, or when the unit is not loaded.
  returned: always
  type: dict
  sample: {unit: k3s-agent.service, active: active, sub: running, enabled: enabled, started: 1795000000.1}
stale:
  description: Files of O(watch) changed after O(service) last started (sorted).
  returned: always
  type: list
  elements: str
  sample: [/etc/rancher/k3s/config.yaml]
restart_pending:
  description: Whether O(service) runs older versions of some O(watch) files and should be restarted.
  returned: always
  type: bool
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._service_state import (
    path_state,
    read_service,
    stale_paths,
)


def argument_spec():
    return dict(
        paths=dict(type="list", elements="path", default=[]),
        read=dict(type="list", elements="path", default=[]),
        checksum=dict(type="list", elements="path", default=[]),
        expect_sha256=dict(type="dict", default={}, no_log=True),
        read_max_bytes=dict(type="int", default=65536),
        service=dict(type="str"),
        watch=dict(type="list", elements="path"),
    )


def read_small(module, path, limit):
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except FileNotFoundError:
        return None
    except (OSError, IOError) as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)))
    if len(data) > limit:
        module.fail_json(msg="%s is larger than read_max_bytes (%d bytes)" % (path, limit))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        module.fail_json(msg="%s is not UTF-8 text: %s" % (path, exc))


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    for option in ("paths", "read", "checksum", "watch"):
        relative = [p for p in params[option] or [] if not os.path.isabs(p)]
        if relative:
            module.fail_json(msg="%s must hold absolute paths; got %s" % (option, ", ".join(relative)))
    if params["read_max_bytes"] < 1:
        module.fail_json(msg="read_max_bytes must be a positive number of bytes, got %d" % params["read_max_bytes"])
    watch = params["watch"] if params["watch"] is not None else params["paths"]

    paths = {}
    for path in list(params["paths"]) + list(params["checksum"]) + list(watch):
        if path not in paths:
            paths[path] = path_state(path)
    for path in params["checksum"]:
        if paths[path].get("type") == "file":
            try:
                paths[path]["checksum"] = module.digest_from_file(path, "sha256")
            except (OSError, IOError) as exc:
                module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)))
    for path, expected in (params["expect_sha256"] or {}).items():
        if not os.path.isabs(path):
            module.fail_json(msg="expect_sha256 must be keyed by absolute paths; got %s" % path)
        if path in params["checksum"]:
            module.fail_json(msg="%s is in both checksum and expect_sha256; a file compared in secret must not have "
                                 "its checksum returned" % path)
        if path not in paths:
            paths[path] = path_state(path)
        matches = False
        if paths[path].get("type") == "file":
            try:
                matches = module.digest_from_file(path, "sha256") == str(expected).lower()
            except (OSError, IOError) as exc:
                module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)))
        paths[path]["content_matches"] = matches
    contents = {}
    for path in params["read"]:
        text = read_small(module, path, params["read_max_bytes"])
        if text is not None:
            contents[path] = text

    service = None
    if params["service"]:
        service = read_service(module.run_command, module.get_bin_path("systemctl"), params["service"],
                               time.time(), time.monotonic())
    stale = stale_paths(dict((p, paths[p].get("mtime")) for p in watch), service)
    module.exit_json(changed=False, paths=paths, contents=contents, service=service, stale=stale,
                     restart_pending=bool(stale))


if __name__ == "__main__":
    main()
