# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/filter/wsl_list.py and wsl_version.py.

The filters inside real Jinja expressions (with `is version(...)`) are exercised by
molecule/windows_host_controller_only, which runs ansible-playbook on the controller.
"""

from __future__ import annotations

import pytest

from ansible.errors import AnsibleFilterError

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
