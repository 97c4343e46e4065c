#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: k3s_agent_files
short_description: Write (or remove) the k3s agent's token file, config.yaml, systemd unit and the role's record
version_added: 0.1.0
description:
  - "One call for the files a k3s agent reads when it starts: the join token in O(token_path) (mode 0600),
    C(config.yaml) from O(config) (mode 0600), the C(k3s-agent) systemd unit that k3s's install script writes for an
    agent (mode 0644, running O(binary) C(agent)), and the record of what was added (O(record_path)), so that
    O(state=absent) removes exactly that."
  - Each file is compared with what it should hold (content, owner root, mode) and written only when it differs,
    atomically (a temporary file created with the final mode in the same directory, then renamed over), so the
    token is never readable by others, not even for a moment. Missing directories are created (root, 0755) and
    recorded.
  - The token never appears in the result, the diff or a message; the token file's diff shows a placeholder.
  - "Returns O(service)'s state as found, and whether a restart is owed: because this call changed a file, or
    because O(binary), the config, the token or the unit changed after the service last started (an earlier run
    stopped before restarting it)."
  - Refuses to add an agent where a k3s server is installed (C(/etc/systemd/system/k3s.service)), before anything
    is written.
  - "O(state=absent): removes the unit, config and token file, O(binary) only when the record says the role
    installed it, the record, and the directories the role created and the record's directory when they are empty.
    Stopping the service and deleting the agent's data are the caller's."
options:
  state:
    description: V(present) writes the files, V(absent) removes what the record says was added.
    type: str
    choices: [present, absent]
    default: present
  token:
    description: The join token (the server's node token). Required with O(state=present).
    type: str
  config:
    description:
      - The keys of C(config.yaml), in the order to write them (for example C(server), C(token-file), C(node-name),
        C(node-label), C(node-taint)). Values are strings, numbers, booleans or lists of them.
      - Must not hold the token itself (C(token), C(agent-token)); point C(token-file) at O(token_path).
      - Required with O(state=present).
    type: dict
  binary:
    description: The k3s binary the unit runs; installed by the caller.
    type: path
    default: /usr/local/bin/k3s
  binary_source:
    description:
      - Path B(on the controller) of the k3s binary to install at O(binary) (root, mode 0755), for example an airgap
        artifact. Requires O(binary_sha256).
      - The action plugin first lets the module compare the node's O(binary) with O(binary_sha256) and sends the file
        only when it differs, in the same task; the module checks the sent copy's sha256 and renames it into place
        atomically. A change of the binary owes a restart like a change of the other files.
      - The controller's file is checked against O(binary_sha256) before it is sent; its sha256 is cached by path,
        size, inode, mtime and ctime (C(~/.cache/homelab.gpu_node/sha256.json)), so an unchanged artifact is not read
        again on the next run.
      - When omitted, O(binary) is installed by the caller (for example downloaded with M(ansible.builtin.get_url)).
    type: path
  binary_sha256:
    description: The sha256 (64 hex digits) of O(binary_source). Required with O(binary_source).
    type: str
  binary_sent:
    description:
      - Set by the action plugin, not by users; the temporary copy of O(binary_source) on the node.
    type: path
  binary_missing:
    description:
      - Whether O(binary) was missing when the caller started (it installs it right after this call, or did just
        before); recorded as C(binary_installed), so O(state=absent) removes the binary only when the role added it.
      - When omitted, whether O(binary) exists now.
    type: bool
  service:
    description: The systemd unit name of the agent, read to tell whether it runs older versions of its files.
    type: str
    default: k3s-agent
  config_path:
    description: Where C(config.yaml) goes.
    type: path
    default: /etc/rancher/k3s/config.yaml
  token_path:
    description: Where the token file goes.
    type: path
    default: /etc/rancher/k3s/agent-token
  unit_path:
    description: Where the unit goes.
    type: path
    default: /etc/systemd/system/k3s-agent.service
  record_path:
    description: The role's record (JSON) of what it added.
    type: path
    default: /var/lib/homelab-gpu-node/cluster_join.json
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per file; the token file's content is a placeholder on both sides.
  platform:
    platforms: posix
notes:
  - The caller restarts the service (a handler) when RV(restart_pending) is true.
seealso:
  - name: K3s configuration file
    description: The keys of C(config.yaml).
    link: https://docs.k3s.io/installation/configuration#configuration-file
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Write the k3s agent's files
  homelab.gpu_node.k3s_agent_files:
    token: "{{ cluster_join_token }}"
    config:
      server: https://192.168.10.30:6443
      token-file: /etc/rancher/k3s/agent-token
      node-name: wsl-gpu-node
      node-label: [gpu=nvidia, gpu-type=rtx4090]
  register: agent_files
  changed_when: agent_files.restart_pending
  notify: Restart k3s-agent

- name: Remove what was added
  homelab.gpu_node.k3s_agent_files:
    state: absent
"""

RETURN = r"""
files:
  description: The files written, created or whose owner/mode was fixed (or, with O(state=absent), removed).
  returned: always
  type: list
  elements: dict
  sample: [{path: /etc/rancher/k3s/config.yaml, action: update}]
created_dirs:
  description: Directories this call created (O(state=present)).
  returned: always
  type: list
  elements: str
  sample: [/etc/rancher, /etc/rancher/k3s]
removed:
  description: Paths removed (O(state=absent)), directories included.
  returned: always
  type: list
  elements: str
record:
  description: The record after this call (C(distribution), C(binary_installed), C(created_dirs)); what was found with O(state=absent).
  returned: always
  type: dict
  sample: {distribution: k3s, binary_installed: true, created_dirs: [/etc/rancher, /etc/rancher/k3s]}
restart_pending:
  description: Whether O(service) must be restarted to run the files on disk (O(state=present)).
  returned: always
  type: bool
binary_needed:
  description: Set by the module when O(binary) differs from O(binary_sha256) and the file was not sent yet; the action
    plugin sends it and calls the module again (nothing was written by that first call).
  returned: always
  type: bool
stale_files:
  description: Files that changed after O(service) last started.
  returned: always
  type: list
  elements: str
service:
  description: O(service) as found before any change (C(active), C(enabled)); V(null) when systemd does not know it.
  returned: always
  type: dict
  sample: {active: active, enabled: enabled}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils import _k3s_agent as agent
from ansible_collections.homelab.gpu_node.plugins.module_utils._service_state import (
    read_service,
    stale_paths,
)

_TOKEN_KEYS = ("token", "agent-token")


def argument_spec():
    return dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        token=dict(type="str", no_log=True),
        config=dict(type="dict"),
        binary=dict(type="path", default=agent.BINARY),
        binary_source=dict(type="path"),
        binary_sha256=dict(type="str"),
        binary_sent=dict(type="path"),
        binary_missing=dict(type="bool"),
        service=dict(type="str", default=agent.SERVICE),
        config_path=dict(type="path", default=agent.CONFIG_PATH),
        token_path=dict(type="path", default=agent.TOKEN_PATH),
        unit_path=dict(type="path", default=agent.UNIT_PATH),
        record_path=dict(type="path", default=agent.RECORD_PATH),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True,
                           required_if=[("state", "present", ("token", "config"))],
                           required_together=[("binary_source", "binary_sha256")])
    p = module.params
    files = (p["unit_path"], p["config_path"], p["token_path"])
    result = dict(changed=False, files=[], created_dirs=[], removed=[], record={}, restart_pending=False,
                  stale_files=[], service=None, binary_needed=False)
    done = []
    try:
        if p["state"] == "present":
            present(module, p, files, result, done)
        else:
            absent(module, p, files, result, done)
    except agent.K3sAgentError as exc:
        module.fail_json(msg=str(exc), **result)
    except OSError as exc:
        # never the token: OSError messages name paths only
        result["changed"] = bool(done)
        module.fail_json(msg="k3s agent files: %s (done before the error: %s)"
                         % (to_native(exc), ", ".join(done) or "nothing"), **result)
    module.exit_json(**result)


def present(module, p, files, result, done):
    if os.path.exists(agent.SERVER_UNIT):
        raise agent.K3sAgentError(
            "a k3s server runs here (%s); a server is already a node, do not add an agent on it. Nothing was changed."
            % agent.SERVER_UNIT)
    bad = [key for key in p["config"] if key in _TOKEN_KEYS]
    if bad:
        raise agent.K3sAgentError("config must not hold the token (%s): point token-file at %s"
                                  % (", ".join(bad), p["token_path"]))
    if not p["token"] or "\n" in p["token"].strip("\n"):
        raise agent.K3sAgentError("token must be one non-empty line; its value is not shown")
    desired = {
        p["token_path"]: (p["token"], 0o600),
        p["config_path"]: (agent.config_yaml(p["config"]), 0o600),
        p["unit_path"]: (agent.agent_unit(p["binary"]), 0o644),
    }
    parents = sorted(set(os.path.dirname(path) for path in files + (p["record_path"],)))
    state = agent.read_state(list(files) + [p["binary"], p["record_path"]] + parents,
                             text_paths=set(files) | set([p["record_path"]]))
    new_dirs = agent.missing_parents(files, lambda d: state.get(d) or agent.read_state([d], ())[d])
    record_dirs = agent.missing_parents([p["record_path"]], lambda d: state.get(d) or agent.read_state([d], ())[d])
    changes = agent.plan_present(desired, state, secret_paths=(p["token_path"],))
    if p["binary_sha256"]:
        want = p["binary_sha256"].lower()
        if not agent.SHA256.match(want):
            raise agent.K3sAgentError("binary_sha256 must be 64 hex digits, not %r" % p["binary_sha256"])
        binary_state = state[p["binary"]]
        have_sha = agent.file_sha256(p["binary"]) if binary_state.get("type") == "file" else None
        binary = agent.binary_change(p["binary"], binary_state, want, have_sha, p["binary_sent"])
        if binary and "sha256" in binary and not p["binary_sent"] and not module.check_mode:
            # the action plugin sends the file and calls again; nothing is written before that
            result["binary_needed"] = True
            return
        changes = ([binary] if binary else []) + changes

    previous_text = state[p["record_path"]].get("text") if state[p["record_path"]].get("exists") else None
    binary_missing = p["binary_missing"] if p["binary_missing"] is not None else not state[p["binary"]]["exists"]
    record = agent.merge_record(agent.load_record(previous_text), binary_missing, new_dirs)
    record_change = agent.plan_record(previous_text, record, state[p["record_path"]], p["record_path"])

    service = read_service(module.run_command, module.get_bin_path("systemctl"), p["service"], time.time(),
                           time.monotonic())
    watched = dict((path, state[path].get("mtime")) for path in (p["binary"],) + files)
    stale = stale_paths(watched, service)

    result["record"] = record
    result["service"] = dict(active=service["active"], enabled=service["enabled"]) if service else None
    result["stale_files"] = stale
    # a new owner or mode alone does not change what the agent reads
    content_changed = any("text" in c or "sha256" in c for c in changes)
    result["restart_pending"] = content_changed or bool(stale)
    result["changed"] = bool(changes or record_change or new_dirs)
    all_changes = changes + ([record_change] if record_change else [])
    result["files"] = [dict(path=c["path"], action=c["action"]) for c in all_changes]
    result["created_dirs"] = new_dirs
    if module._diff:
        result["diff"] = agent.diff_entries(all_changes)
    if stale and not content_changed:
        module.warn("%s changed after %s last started (an earlier run may have stopped before restarting it): "
                    "the agent still runs the previous files" % (", ".join(stale), p["service"]))
    if result["changed"] and not module.check_mode:
        agent.apply_present(new_dirs + [d for d in record_dirs if d not in new_dirs], all_changes, done=done)


def absent(module, p, files, result, done):
    state = agent.read_state([p["record_path"]], text_paths=(p["record_path"],))
    record_text = state[p["record_path"]].get("text") if state[p["record_path"]].get("exists") else None
    record = agent.load_record(record_text)
    candidates = list(files) + [p["binary"], p["record_path"]] + list(record.get("created_dirs") or []) \
        + [os.path.dirname(p["record_path"])]
    state = agent.read_state(candidates, text_paths=(p["config_path"], p["unit_path"]))
    remove_files, dirs = agent.plan_absent(record, state, p["binary"], files, p["record_path"])
    removed_dirs = []
    for directory in dirs:
        if agent.empty_after(directory, set(remove_files) | set(removed_dirs)):
            removed_dirs.append(directory)
    result["record"] = record
    result["files"] = [dict(path=path, action="delete") for path in remove_files]
    result["removed"] = remove_files + removed_dirs
    result["changed"] = bool(result["removed"])
    if module._diff:
        result["diff"] = agent.diff_entries(
            [], [(path, state[path].get("text"), path == p["token_path"]) for path in remove_files
                 if path != p["binary"]])
    if result["changed"] and not module.check_mode:
        agent.apply_absent(remove_files, removed_dirs, removed=done)


if __name__ == "__main__":
    main()
