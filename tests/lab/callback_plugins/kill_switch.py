# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: kill_switch
type: aggregate
short_description: TEST ONLY - kill the whole ansible-playbook run when a given task starts
description:
  - Used by tests/lab/test_interrupted_run.py to interrupt C(site.yml) at an exact point, the way a lost
    controller, an OOM kill or a cancelled AWX job does. When a task or handler whose name contains
    E(KILL_SWITCH_TASK) starts (the first one, or the E(KILL_SWITCH_NTH)-th), it waits E(KILL_SWITCH_DELAY)
    seconds, writes the task name to E(KILL_SWITCH_MARK) and sends SIGKILL to its process group (the controller
    and its workers; modules already running on a node carry on there, as they would after a real kill).
  - Does nothing when E(KILL_SWITCH_TASK) is unset.
requirements:
  - enabled in ANSIBLE_CALLBACKS_ENABLED, found through ANSIBLE_CALLBACK_PLUGINS
"""

import os
import signal
import threading
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "kill_switch"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self._match = os.environ.get("KILL_SWITCH_TASK", "")
        self._nth = int(os.environ.get("KILL_SWITCH_NTH", "1"))
        self._delay = float(os.environ.get("KILL_SWITCH_DELAY", "0"))
        self._mark = os.environ.get("KILL_SWITCH_MARK", "")
        self._seen = 0

    def _kill(self, name):
        if self._mark:
            with open(self._mark, "w") as handle:
                handle.write("%s\n%f\n" % (name, time.time()))
        os.killpg(os.getpgrp(), signal.SIGKILL)

    def _started(self, task):
        if not self._match:
            return
        name = task.get_name()
        if self._match not in name:
            return
        self._seen += 1
        if self._seen != self._nth:
            return
        if self._delay > 0:
            # the task goes on meanwhile: the kill lands while its module runs on the node
            timer = threading.Timer(self._delay, self._kill, args=(name,))
            timer.daemon = True
            timer.start()
        else:
            self._kill(name)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._started(task)

    def v2_playbook_on_handler_task_start(self, task):
        self._started(task)
