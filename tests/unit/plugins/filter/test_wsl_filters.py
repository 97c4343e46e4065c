# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/filter/wsl_list.py, wsl_version.py and windows_host_problems.py's windows_host_wsl_version.

The filters inside the role are exercised by molecule/windows_host_standin (the role's entry point
against the wsl.exe stand-in, an old WSL included) and molecule/windows_host_controller_only_no_winrm.
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter import windows_host_problems as windows_host_filter
from ansible_collections.homelab.gpu_node.plugins.filter import wsl_list as wsl_list_filter
from ansible_collections.homelab.gpu_node.plugins.filter import wsl_version as wsl_version_filter
from ansible_collections.homelab.gpu_node.tests.unit.plugins.plugin_utils.wsl_output_cases import (
    LIST_TWO_DISTROS_EXPECTED,
    LIST_TWO_DISTROS_UTF16LE,
    TAILSCALE_3170_FR_USAGE,
    wsl_version_bytes,
)


def test_filter_maps():
    assert set(wsl_list_filter.FilterModule().filters()) == {"wsl_list"}
    assert set(wsl_version_filter.FilterModule().filters()) == {"wsl_version"}


def test_wsl_list_on_win_command_stdout_without_wsl_utf8():
    # win_command's stdout when wsl.exe ignored WSL_UTF8: UTF-16LE bytes decoded as UTF-8.
    stdout = LIST_TWO_DISTROS_UTF16LE.decode("utf-8")
    assert wsl_list_filter.wsl_list(stdout) == LIST_TWO_DISTROS_EXPECTED


def test_wsl_list_bad_output_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="^wsl_list: this does not look like"):
        wsl_list_filter.wsl_list(TAILSCALE_3170_FR_USAGE)


def test_wsl_version_filter():
    assert wsl_version_filter.wsl_version(wsl_version_bytes("de-DE", utf8=True).decode("utf-8"))["wsl"] == "2.5.9.0"


def test_wsl_version_filter_rejects_non_text():
    with pytest.raises(AnsibleFilterError, match="^wsl_version: expected the text or bytes"):
        wsl_version_filter.wsl_version({"stdout": "x"})


def test_windows_host_wsl_version_reads_a_registered_win_command_result():
    # UTF-16LE read as UTF-8 by win_command: a NUL after every character
    stdout = wsl_version_bytes("en-US").decode("utf-8")
    settings = {"windows_host_networking_mode": "bridged", "windows_host_wsl_bridged_min_version": "2.5.6",
                "windows_host_wsl_user": "gamer"}
    found = windows_host_filter.windows_host_wsl_version({"rc": 0, "stdout": stdout, "stderr": ""}, settings, "desktop")
    assert found["version"] is not None and found["problems"] == []
    # a skipped or missing result counts as no version at all
    assert windows_host_filter.windows_host_wsl_version(None, settings, "desktop")["problems"][0].startswith(
        "`wsl.exe --version` did not report a version on desktop")
    assert set(windows_host_filter.FilterModule().filters()) == {"windows_host_problems", "windows_host_wsl_version"}


def test_windows_host_wsl_version_wants_settings():
    with pytest.raises(AnsibleFilterError, match="windows_host_wsl_version expects a dict"):
        windows_host_filter.windows_host_wsl_version({"rc": 0}, None, "desktop")
