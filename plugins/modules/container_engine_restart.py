#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: container_engine_restart
short_description: Restart a container engine, check it came back with the nvidia runtime, else roll back
version_added: 0.1.0
description:
  - Restarts O(service) with systemd and checks that it came back - C(ActiveState=active) with the same main process
    and restart count for a few seconds - and, for O(engine=containerd), that C(containerd config dump) of
    O(config_path) has runtime O(runtime_name) with C(BinaryName) O(runtime_path).
  - When it did, clears the list of unverified changes in O(record) (written by
    M(homelab.gpu_node.containerd_nvidia_runtime)) and returns.
  - When it did not, puts back the last config seen working, from what is on the node. Each file of the record with a
    backup is restored, the files the record says were created are removed, and files changed without a backup (or
    with no record at all) lose the runtime and its import as with
    O(homelab.gpu_node.containerd_nvidia_runtime#module:state=absent), the import first.
  - Then restarts the engine again, checks it the same way and fails with a message that says what was put back and
    whether the engine is up, as systemd and containerd report it after the rollback.
options:
  service:
    description: The engine's systemd unit.
    type: str
    required: true
  engine:
    description: The engine whose config O(config_path) is.
    type: str
    required: true
    choices: [containerd, k3s, microk8s, docker]
  config_path:
    description: The engine's configuration file (defaults as in M(homelab.gpu_node.containerd_nvidia_runtime)).
    type: path
  runtime_name:
    description: Name of the runtime that must be live after the restart.
    type: str
    default: nvidia
  runtime_path:
    description: Its C(BinaryName).
    type: path
    default: /usr/bin/nvidia-container-runtime
  record:
    description: The record M(homelab.gpu_node.containerd_nvidia_runtime) writes (O(record) there).
    type: path
    default: /var/lib/homelab-gpu-node/gpu_runtime.json
  runtime_state:
    description:
      - V(present) (the default) - the runtime O(runtime_name) must be live after the restart, else the module rolls
        back as described above.
      - V(absent) - the runtime was just removed (the C(absent) entry point of the gpu_runtime role). The engine must
        be active and, for containerd, the live config must not have O(runtime_name). Nothing is rolled back; when the
        engine did not come back the module fails and says whether it is up.
    type: str
    default: present
    choices: [present, absent]
  timeout:
    description: Seconds to wait for the engine to be active after a restart.
    type: int
    default: 30
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is restarted; the module reports the restart it would do.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - C(containerd config dump) reads the files on disk; together with an engine that (re)started after they were
    written and stayed active, that is the config it runs. For engines other than containerd the runtime is not
    looked up after the restart (RV(live) is V(null)).
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Restart containerd, check the nvidia runtime is live, roll back otherwise
  homelab.gpu_node.container_engine_restart:
    service: containerd
    engine: containerd
"""

RETURN = r"""
up:
  description: Whether the engine is active (after the rollback, when there was one).
  returned: always
  type: bool
unit:
  description: What systemd said last (ActiveState, SubState, Result, NRestarts, ExecMainPID).
  returned: always
  type: dict
live:
  description:
    - What C(containerd config dump) said last - C(has_runtime), C(binary), C(error) - or V(null) when not checked.
  returned: always
  type: dict
rolled_back:
  description: The rollback steps done, as sentences (empty when the restart worked).
  returned: always
  type: list
  elements: str
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._engine_rollback import (
    DEFAULT_RECORD_PATH,
    UNIT_PROPERTIES,
    clear_pending,
    describe,
    dump_has_runtime,
    dump_record,
    load_record,
    parse_show,
    removal_words,
    rollback_steps,
    step_text,
    wait_for_unit,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    DEFAULT_CONFIG_PATHS,
    DEFAULT_RUNTIME_NAME,
    DEFAULT_RUNTIME_PATH,
    ENGINES,
    RuntimeOptions,
    parse_toml,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_files import make_plan, read_text, write_text

JOURNAL_LINES = 15


def argument_spec():
    return dict(
        service=dict(type="str", required=True),
        engine=dict(type="str", required=True, choices=list(ENGINES)),
        config_path=dict(type="path"),
        runtime_name=dict(type="str", default=DEFAULT_RUNTIME_NAME),
        runtime_path=dict(type="path", default=DEFAULT_RUNTIME_PATH),
        record=dict(type="path", default=DEFAULT_RECORD_PATH),
        runtime_state=dict(type="str", default="present", choices=["present", "absent"]),
        timeout=dict(type="int", default=30),
    )


class Node(object):
    """systemctl, journalctl and containerd on the node."""

    def __init__(self, module, service):
        self.module = module
        self.service = service
        self.systemctl = module.get_bin_path("systemctl", required=True)

    def restart(self):
        self.module.run_command([self.systemctl, "reset-failed", self.service])
        rc, out, err = self.module.run_command([self.systemctl, "restart", self.service])
        return rc, (err or out).strip()

    def show(self):
        _rc, out, _err = self.module.run_command(
            [self.systemctl, "show", "--property=" + ",".join(UNIT_PROPERTIES), self.service])
        return parse_show(out)

    def journal(self, since):
        journalctl = self.module.get_bin_path("journalctl")
        if not journalctl:
            return []
        _rc, out, _err = self.module.run_command(
            [journalctl, "-u", self.service, "--since", "@%d" % int(since), "-n", str(JOURNAL_LINES),
             "--no-pager", "-o", "cat"])
        return [line for line in out.splitlines() if line.strip()]

    def live(self, engine, config_path, runtime_name):
        if engine != "containerd":
            return None
        containerd = self.module.get_bin_path("containerd")
        if not containerd:
            return {"error": "containerd is not on PATH", "has_runtime": False, "binary": None,
                    "runtime_name": runtime_name}
        rc, out, err = self.module.run_command([containerd, "--config", config_path, "config", "dump"])
        if rc != 0:
            return {"error": (err or out).strip()[-500:], "has_runtime": False, "binary": None,
                    "runtime_name": runtime_name}
        try:
            has, binary = dump_has_runtime(out, runtime_name, lambda text: parse_toml(text, "containerd config dump"))
        except RuntimeConfigError as exc:
            return {"error": str(exc), "has_runtime": False, "binary": None, "runtime_name": runtime_name}
        return {"error": None, "has_runtime": has, "binary": binary, "runtime_name": runtime_name}


def check(node, params, config_path, timeout):
    rc, error = node.restart()
    state = node.show()
    if rc != 0:
        up = False
    else:
        up, state = wait_for_unit(node.show, time.sleep, timeout=timeout)
    live = node.live(params["engine"], config_path, params["runtime_name"]) if up else None
    return rc, error, up, state, live


def run_steps(module, steps):
    done, errors = [], []
    for step in steps:
        kind, path, arg = step
        try:
            if kind == "restore":
                with open(arg, "rb") as handle:
                    data = handle.read()
                write_text(module, path, data.decode("utf-8", "surrogateescape"))
            elif kind == "remove":
                if os.path.lexists(path):
                    os.remove(path)
            else:
                write_text(module, path, arg)
            done.append(step)
        except (OSError, IOError, UnicodeError) as exc:
            errors.append("%s: %s" % (step_text(step), to_native(exc)))
    return done, errors


def _why_not_up(rc, error, up, state, live, service):
    """Why the engine is not usable after the restart (systemd's or containerd's words); None when it is up and its
    live config could be read (the caller says what the config holds)."""
    if rc != 0:
        return "systemctl restart %s failed: %s" % (service, error)
    if not up:
        return "it did not stay active: ActiveState=%s, SubState=%s" % (state.get("ActiveState"), state.get("SubState"))
    if live.get("error"):
        return "`containerd config dump` failed: %s" % live["error"]
    return None


def removed(module, node, result, service, started, checked):
    """runtime_state=absent: the engine must be up without the runtime; nothing is rolled back."""
    rc, error, up, state, live = checked
    result.update(up=up, unit=state, live=live)
    if up and (live is None or (not live.get("error") and not live.get("has_runtime"))):
        module.exit_json(**result)
    why = _why_not_up(rc, error, up, state, live, service) or (
        "the live config still has runtime %s (another file of the engine's config defines it)" % live["runtime_name"])
    journal = node.journal(started - 1)
    module.fail_json(msg=removal_words(service, why, journal, up, state, live), journal=journal, **result)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    engine = params["engine"]
    config_path = params["config_path"] or DEFAULT_CONFIG_PATHS[engine]
    service = params["service"]
    result = dict(changed=True, up=False, unit={}, live=None, rolled_back=[])
    if module.check_mode:
        module.exit_json(**result)

    node = Node(module, service)
    started = time.time()
    rc, error, up, state, live = check(node, params, config_path, params["timeout"])
    if params["runtime_state"] == "absent":
        removed(module, node, result, service, started, (rc, error, up, state, live))
    runtime_ok = live is None or (live.get("has_runtime") and live.get("binary") == params["runtime_path"])
    record_text = read_text(params["record"]) if os.path.exists(params["record"]) else None
    record = load_record(record_text)
    if up and runtime_ok:
        if record.get("pending"):
            write_text(module, params["record"], dump_record(clear_pending(record)))
        result.update(up=True, unit=state, live=live)
        module.exit_json(**result)

    # It did not come back with the runtime: why, from systemd, containerd and the journal.
    why = _why_not_up(rc, error, up, state, live, service) or "the live config has %s" % (
        "runtime %s with BinaryName %s, not %s" % (params["runtime_name"], live.get("binary"), params["runtime_path"])
        if live.get("has_runtime") else "no runtime %s" % params["runtime_name"])
    journal = node.journal(started - 1)

    try:
        absent = make_plan(engine, config_path, RuntimeOptions(runtime_name=params["runtime_name"],
                                                               runtime_path=params["runtime_path"], state="absent"),
                           module.warn)
    except (RuntimeConfigError, OSError) as exc:
        absent = None
        module.warn("cannot plan the removal of the runtime: %s" % to_native(exc))
    steps = rollback_steps(record, absent, os.path.exists)
    done, errors = run_steps(module, steps)
    if not errors:
        write_text(module, params["record"], dump_record(clear_pending(record)))
    _rc2, error2, up2, state2, live2 = check(node, params, config_path, params["timeout"])
    if not up2 and _rc2 != 0:
        state2 = dict(state2, RestartError=error2)
    msg = describe(service, why, journal, done, errors, up2, state2, live2)
    result.update(up=up2, unit=state2, live=live2, rolled_back=[step_text(step) for step in done],
                  rollback_errors=errors, journal=journal)
    module.fail_json(msg=msg, **result)


if __name__ == "__main__":
    main()
