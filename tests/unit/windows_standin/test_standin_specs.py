# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The Windows stand-in's argument specs are the installed real modules' options (test-only code)."""

from __future__ import annotations

import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
sys.path.insert(0, os.path.join(ROOT, "tests", "windows_standin"))
import gen_specs  # noqa: E402  pylint: disable=wrong-import-position,import-error


def test_committed_specs_match_the_installed_collections():
    with open(gen_specs.OUT, encoding="utf-8") as handle:
        committed = handle.read()
    assert committed == gen_specs.build(), "run .venv/bin/python tests/windows_standin/gen_specs.py"


def test_specs_carry_the_options_the_stdin_defect_depends_on():
    spec = importlib.util.spec_from_file_location("standin_specs", gen_specs.OUT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    specs = module.SPECS
    command = specs["ansible.windows.win_command"]["options"]
    assert command["stdin"]["type"] == "str"
    assert command["argv"] == {"type": "list", "elements": "str", "version_added": "1.11.0"}
    assert specs["ansible.windows.win_powershell"]["options"]["path"]["version_added"] == "3.1.0"
    task = specs["community.windows.win_scheduled_task"]["options"]
    assert "path" in task["actions"]["options"] and "user_id" in task["triggers"]["options"]
