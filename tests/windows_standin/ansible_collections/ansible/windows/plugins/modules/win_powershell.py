# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for ansible.windows.win_powershell (tests/windows_standin; docs/windows-standin.md).

PowerShell scripts CANNOT run on the Linux node that plays the Windows host. This
stand-in checks the task's options against the real module's, binds the script's
parameters as PowerShell would (a mandatory one missing or an unknown one fails),
records them in the stand-in's state file, and answers with a MODEL of the script:
the changes the script documents, applied to the JSON state (switches, Hyper-V
firewall rules, scheduled tasks), in the result shape win_powershell returns
($Ansible.Changed, $Ansible.Result). The import script's `wsl.exe --import` runs for
real through the wsl.exe stand-in. A script without a model fails.
"""

from __future__ import annotations

import os
import subprocess

from ansible_collections.ansible.windows.plugins.module_utils._standin import (
    load_state, new_module, record, save_state, win_path,
)

DOCUMENTATION = r"""
module: win_powershell
short_description: TEST-ONLY stand-in for ansible.windows.win_powershell
description: [Models the role's PowerShell scripts on a Linux node.]
author: homelab.gpu_node contributors
options: {}
"""


class ScriptError(Exception):
    pass


def _hyperv_available(state):
    return state["features"].get("Microsoft-Hyper-V-All") == "Enabled" and not state["pending_reboot"]


def model_set_wsl_bridge_switch(params, state, check):
    """Set-WslBridgeSwitch.ps1: an external switch on the named NIC."""
    if not _hyperv_available(state):
        raise ScriptError("The Hyper-V PowerShell module is missing on %s." % state["env"]["COMPUTERNAME"])
    name, adapter_name = params["Name"], params["AdapterName"]
    allow = params.get("AllowManagementOS", True)
    adapter = next((a for a in state["adapters"] if a["name"].lower() == adapter_name.lower()), None)
    if adapter is None:
        listing = "; ".join("'%s' (%s, %s)" % (a["name"], a["description"], a["status"]) for a in state["adapters"])
        raise ScriptError("Network adapter '%s' does not exist on %s. Adapters that do exist: %s. Set "
                          "windows_host_vswitch_adapter to one of these names."
                          % (adapter_name, state["env"]["COMPUTERNAME"], listing or "(none)"))
    switch = state["vm_switches"].get(name)
    actions = []
    wanted = {"type": "External", "adapter_description": adapter["description"], "allow_management_os": allow}
    if switch is None:
        actions.append("create external switch '%s' on '%s'" % (name, adapter_name))
    elif switch["type"] != "External":
        raise ScriptError("A Hyper-V switch named '%s' exists but is %s, not External." % (name, switch["type"]))
    elif switch["adapter_description"] != adapter["description"]:
        actions.append("bind '%s' to '%s' (was '%s')" % (name, adapter_name, switch["adapter_description"]))
    elif switch["allow_management_os"] != allow:
        actions.append("set AllowManagementOS of '%s' to %s" % (name, allow))
    if actions and not check:
        state["vm_switches"][name] = wanted
    return bool(actions), {"name": name, "adapter": adapter_name, "adapter_description": adapter["description"],
                           "actions": actions}


def model_import_wsl_distribution(params, state, check):
    """Import-WslDistribution.ps1: checks as the script does, then runs `wsl.exe --import` for real."""
    name, install_dir, rootfs = params["Name"], params["InstallDir"], params["RootFs"]
    result = {"name": name, "install_dir": install_dir, "rootfs": rootfs}
    if not os.path.isfile(win_path(rootfs, state)):
        if check:
            return True, result
        raise ScriptError("The root file system tarball '%s' does not exist on %s." % (rootfs, state["env"]["COMPUTERNAME"]))
    target = win_path(install_dir, state)
    if os.path.isdir(target) and any(f.lower().endswith(".vhdx") for f in os.listdir(target)):
        raise ScriptError("'%s' already holds a virtual disk, but no distribution '%s' is registered" % (install_dir, name))
    if check:
        return True, result
    env = dict(os.environ, WSL_UTF8="1")
    proc = subprocess.run(["wsl.exe", "--import", name, install_dir, rootfs, "--version", "2"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    output = proc.stdout.decode("utf-8", errors="replace").strip()
    if proc.returncode != 0:
        raise ScriptError("wsl --import %s failed (exit code %d): %s" % (name, proc.returncode, output))
    # wsl.exe registered the distribution in the state file: take it over (saved again below)
    state["distributions"] = load_state()["distributions"]
    result["output"] = output
    return True, result


def model_start_keepalive_task(params, state, check):
    """Start-KeepAliveTask.ps1: Start-ScheduledTask unless absent or already running."""
    task = state["scheduled_tasks"].get(params["TaskName"])
    if task is None:
        return False, None
    result = {"state_before": task.get("_state", "Ready")}
    if task.get("_state") == "Running":
        return False, result
    if not check:
        task["_state"] = "Running"
        task["_starts"] = task.get("_starts", 0) + 1
    return True, result


def model_set_wsl_hyperv_firewall(params, state, check):
    """Set-WslHyperVFirewall.ps1: inbound Hyper-V firewall rules for the WSL VM creator id."""
    rules = state["hyperv_firewall_rules"]
    actions = []
    wanted_names = set()
    for raw in params["Rules"]:
        rule = dict((str(k).lower(), v) for k, v in raw.items())  # PowerShell hashtable keys ignore case
        if rule.get("state") == "absent":
            continue
        display = "%s %s" % (params["Group"], rule.get("name"))
        wanted_names.add(display)
        remote = rule.get("remote_addresses") or params.get("RemoteAddresses", "Any").split(",")
        want = {"vm_creator_id": params["VMCreatorId"], "direction": "Inbound", "action": "Allow",
                "protocol": str(rule.get("protocol")).upper(), "local_ports": str(rule.get("port")).split(","),
                "remote_addresses": list(remote)}
        if rules.get(display) != want:
            actions.append("%s Hyper-V firewall rule '%s'" % ("replace" if display in rules else "create", display))
            if not check:
                rules[display] = want
    for display in sorted(rules):
        if display.startswith(params["Group"] + " ") and display not in wanted_names:
            actions.append("remove Hyper-V firewall rule '%s'" % display)
            if not check:
                del rules[display]
    return bool(actions), {"actions": actions}


# script file name -> (model, mandatory parameters, optional parameters with their type)
MODELS = {
    "Set-WslBridgeSwitch.ps1": (model_set_wsl_bridge_switch, {"Name": str, "AdapterName": str},
                                {"AllowManagementOS": bool}),
    "Import-WslDistribution.ps1": (model_import_wsl_distribution,
                                   {"Name": str, "InstallDir": str, "RootFs": str}, {}),
    "Start-KeepAliveTask.ps1": (model_start_keepalive_task, {"TaskName": str}, {}),
    "Set-WslHyperVFirewall.ps1": (model_set_wsl_hyperv_firewall,
                                  {"Rules": list, "Group": str, "VMCreatorId": str}, {"RemoteAddresses": str}),
}


def bind(script, params):
    _model, mandatory, optional = MODELS[script]
    for key in params:
        if key not in mandatory and key not in optional:
            raise ScriptError("A parameter cannot be found that matches parameter name '%s'." % key)
    for key, kind in list(mandatory.items()) + list(optional.items()):
        if key not in params:
            if key in mandatory:
                raise ScriptError("Cannot bind argument to parameter '%s' because it is missing." % key)
            continue
        if not isinstance(params[key], kind) or (kind is str and not params[key]):
            raise ScriptError("Cannot process argument transformation on parameter '%s': %r is not a %s"
                              % (key, params[key], kind.__name__))


def main():
    module = new_module("ansible.windows.win_powershell", supports_check_mode=True,
                        extra={"_standin_script_name": {"type": "str"}})
    script = module.params.pop("_standin_script_name")
    params = module.params.get("parameters") or {}
    base = dict(changed=False, result={}, host_out="", host_err="", output=[], error=[], warning=[],
                verbose=[], debug=[], information=[])
    if not script or script not in MODELS:
        module.fail_json(msg="the Windows stand-in has no model of the script %r (PowerShell cannot run on the "
                             "Linux node); add one to tests/windows_standin/.../win_powershell.py" % script, **base)
    state = load_state()
    record(state, "ansible.windows.win_powershell", {"script": script, "parameters": params}, module.check_mode)
    try:
        bind(script, params)
        changed, result = MODELS[script][0](params, state, module.check_mode)
    except ScriptError as exc:
        save_state(state)
        base["error"] = [{"output": str(exc)}]
        module.fail_json(msg=str(exc), **base)
    save_state(state)
    base.update(changed=changed, result=result if result is not None else {})
    module.exit_json(**base)


if __name__ == "__main__":
    main()
