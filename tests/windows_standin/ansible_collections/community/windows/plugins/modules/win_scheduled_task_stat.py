# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""TEST-ONLY stand-in for community.windows.win_scheduled_task_stat: a task of the stand-in's state,
answered in the real module's shape (its RETURN documentation).

The task is what community.windows.win_scheduled_task (stand-in) stored; what the Task Scheduler
would fill in is filled in the same way: ExecutionTimeLimit PT72H when none was given (its
default, microsoft/WSL#10708), enabled unless disabled, TASK_LOGON_* / TASK_TRIGGER_* names.
"""

from __future__ import annotations

from ansible_collections.ansible.windows.plugins.module_utils._standin import load_state, new_module, record, save_state

DOCUMENTATION = r"""
module: win_scheduled_task_stat
short_description: TEST-ONLY stand-in for community.windows.win_scheduled_task_stat
description: [Reads a scheduled task from a JSON file on the Linux node that plays Windows.]
author: homelab.gpu_node contributors
options: {}
"""

TASK_DEFAULT_LIMIT = "PT72H"


def stat(task):
    triggers = []
    for trigger in task.get("triggers") or []:
        triggers.append({"type": "TASK_TRIGGER_%s" % str(trigger.get("type", "")).upper(),
                         "enabled": trigger.get("enabled", True), "delay": trigger.get("delay"),
                         "user_id": trigger.get("user_id")})
    actions = [{"Type": "TASK_ACTION_EXEC", "Path": a.get("path"), "Arguments": a.get("arguments"),
                "WorkingDirectory": a.get("working_directory"), "Id": None} for a in task.get("actions") or []]
    logon = task.get("logon_type") or ("interactive_token" if task.get("username") else "none")
    return {
        "task_exists": True,
        "actions": actions,
        "principal": {"logon_type": "TASK_LOGON_%s" % logon.upper(), "user_id": task.get("username"),
                      "run_level": "TASK_RUNLEVEL_HIGHEST" if task.get("run_level") == "highest" else "TASK_RUNLEVEL_LUA"},
        "settings": {"enabled": task.get("enabled", True),
                     "execution_time_limit": task.get("execution_time_limit") or TASK_DEFAULT_LIMIT,
                     "multiple_instances": task.get("multiple_instances", 1)},
        "state": {"status": "TASK_STATE_%s" % str(task.get("_state") or "Ready").upper()},
        "triggers": triggers,
        "registration_info": {"description": task.get("description")},
    }


def main():
    module = new_module("community.windows.win_scheduled_task_stat")
    state = load_state()
    record(state, "community.windows.win_scheduled_task_stat", module.params, module.check_mode)
    save_state(state)
    tasks = state["scheduled_tasks"]
    result = {"changed": False, "folder_exists": True, "folder_task_count": len(tasks),
              "folder_task_names": sorted(tasks)}
    name = module.params.get("name")
    if name:
        if name in tasks:
            result.update(stat(tasks[name]))
        else:
            result["task_exists"] = False
    module.exit_json(**result)


if __name__ == "__main__":
    main()
