# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY Windows stand-in: shared code of the fake ansible.windows / community.windows modules.

The modules run on a Linux lab node that plays the Windows desktop. Windows state
(optional features, firewall rules, scheduled tasks, Hyper-V switches, pending reboot,
registered WSL distributions, environment variables) lives in one JSON file on the node,
so idempotence and check mode are real assertions. Windows paths map into a directory:
``C:\\X\\Y`` -> ``/var/lib/windows-standin/c/X/Y``; ``%VAR%`` expands from the state's env.
The same file is imported by the wsl.exe stand-in (tests/windows_standin/bin/wsl.exe).
"""

from __future__ import annotations

import copy
import json
import os
import re
import tempfile

ROOT = os.environ.get("WINDOWS_STANDIN_ROOT", "/var/lib/windows-standin")
STATE_PATH = os.path.join(ROOT, "state.json")

DEFAULT_STATE = {
    "env": {
        "USERNAME": "gamer",
        "COMPUTERNAME": "GAMING-PC",
        "USERPROFILE": "C:\\Users\\gamer",
        "LOCALAPPDATA": "C:\\Users\\gamer\\AppData\\Local",
    },
    "wsl_version": "2.5.9.0",
    # Windows 11 Pro: these exist (disabled); reboot needed after enabling them
    "features": {
        "Microsoft-Windows-Subsystem-Linux": "Disabled",
        "VirtualMachinePlatform": "Disabled",
        "Microsoft-Hyper-V-All": "Disabled",
    },
    "features_needing_reboot": ["Microsoft-Windows-Subsystem-Linux", "VirtualMachinePlatform", "Microsoft-Hyper-V-All"],
    "pending_reboot": False,
    "reboots": 0,
    "adapters": [{"name": "Ethernet", "description": "Intel(R) Ethernet Controller I225-V", "status": "Up"}],
    "vm_switches": {},
    "firewall_rules": {},
    "hyperv_firewall_rules": {},
    "scheduled_tasks": {},
    "distributions": {},
    "wsl_vm_running": False,
    "wsl_shutdowns": 0,
    "wsl_terminates": [],
    "calls": [],
}


def load_state():
    try:
        with open(STATE_PATH, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        state = {}
    merged = copy.deepcopy(DEFAULT_STATE)
    merged.update(state)
    return merged


def save_state(state):
    os.makedirs(ROOT, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=ROOT, prefix=".state.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
    os.replace(tmp, STATE_PATH)


def expand_env(path, state):
    def repl(match):
        return state["env"].get(match.group(1), match.group(0))

    return re.sub(r"%([A-Za-z_][A-Za-z0-9_]*)%", repl, path)


def win_path(path, state):
    """Map a Windows path (C:\\..., %VAR%\\...) to the node's directory tree; POSIX paths pass through."""
    path = expand_env(path, state)
    match = re.match(r"^([A-Za-z]):[\\/]?(.*)$", path)
    if not match:
        if path.startswith("/"):
            return path
        raise ValueError("not an absolute Windows path: %r" % path)
    rest = match.group(2).replace("\\", "/")
    return os.path.join(ROOT, match.group(1).lower(), rest)


def _strip(spec):
    out = {}
    for name, entry in spec.items():
        entry = dict(entry)
        entry.pop("version_added", None)
        if "options" in entry:
            entry["options"] = _strip(entry["options"])
        out[name] = entry
    return out


def argument_spec(fqcn):
    from ansible_collections.ansible.windows.plugins.module_utils._standin_specs import SPECS

    return _strip(SPECS[fqcn]["options"])


def new_module(fqcn, supports_check_mode=True, extra=None, **kwargs):
    """An AnsibleModule with the real module's options (unknown options fail as on Windows)."""
    from ansible.module_utils.basic import AnsibleModule

    spec = argument_spec(fqcn)
    spec.update(extra or {})
    return AnsibleModule(argument_spec=spec, supports_check_mode=supports_check_mode, **kwargs)


def record(state, module_name, params, check_mode, **extra):
    entry = {"module": module_name, "params": params, "check_mode": check_mode}
    entry.update(extra)
    state["calls"].append(entry)


def run_named_object_module(fqcn, key, secret=()):
    """A state-type module whose objects are kept by name in the stand-in's JSON state.

    The object's options are stored as given (secrets left out), so a second identical
    run reports no change and check mode writes nothing; ``state: absent`` removes it.
    Keys starting with ``_`` are the stand-in's own bookkeeping and survive updates.
    """
    module = new_module(fqcn)
    params = dict((k, v) for k, v in module.params.items() if v is not None and k not in secret)
    state = load_state()
    record(state, fqcn, params, module.check_mode)
    objects = state[key]
    name = params["name"]
    before = objects.get(name)
    if params.get("state", "present") == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            del objects[name]
    else:
        wanted = dict((k, v) for k, v in params.items() if k != "state")
        current = dict((k, v) for k, v in (before or {}).items() if not k.startswith("_"))
        changed = current != wanted
        if changed and not module.check_mode:
            wanted.update((k, v) for k, v in (before or {}).items() if k.startswith("_"))
            objects[name] = wanted
    save_state(state)
    module.exit_json(changed=changed)
