# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_microk8s.py (snap list / microk8s status readers)."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._microk8s import (
    MicroK8sOutputError,
    gpu_addon,
    parse_channel,
    parse_snap_list,
    parse_status,
    snap_action,
)

SNAP_LIST = (
    "Name      Version  Rev   Tracking     Publisher   Notes\n"
    "microk8s  v1.31.9  7394  1.31/stable  canonical✓  classic\n"
)
NOT_INSTALLED = "error: no matching snaps installed\n"

STATUS = """microk8s:
  running: true
high-availability:
  enabled: false
  nodes:
  - address: 127.0.0.1:19001
    role: voter
addons:
- name: dns
  repository: core
  description: CoreDNS
  version: 1.10.1
  status: enabled
- name: nvidia
  repository: core
  description: NVIDIA hardware (GPU and network) support
  version: v24.6.2
  status: %s
"""
STATUS_OLD = STATUS.replace("name: nvidia", "name: gpu") % "disabled"


@pytest.mark.parametrize("channel, expected", [
    ("1.31/stable", (1, 31, "stable")),
    ("1.28/edge", (1, 28, "edge")),
    ("1.31-strict/stable", (1, 31, "stable")),
], ids=["stable", "edge", "strict"])
def test_parse_channel(channel, expected):
    assert parse_channel(channel) == expected


@pytest.mark.parametrize("channel", ["latest/stable", "stable", "", None, "1.31"], ids=["latest", "risk-only", "empty", "none", "no-risk"])
def test_unpinned_channels_are_refused(channel):
    with pytest.raises(MicroK8sOutputError, match="not a pinned MicroK8s channel"):
        parse_channel(channel)


def test_parse_snap_list():
    assert parse_snap_list(SNAP_LIST) == [{
        "name": "microk8s", "version": "v1.31.9", "rev": "7394", "tracking": "1.31/stable",
        "publisher": "canonical✓", "notes": "classic"}]
    assert parse_snap_list("") == []
    with pytest.raises(MicroK8sOutputError, match="not `snap list` output"):
        parse_snap_list("microk8s v1.31\n")


@pytest.mark.parametrize("stdout, rc, channel, action", [
    ("", 1, "1.31/stable", "install"),
    (SNAP_LIST, 0, "1.31/stable", "none"),
    (SNAP_LIST, 0, "1.32/stable", "refresh"),
    ("Name  Version  Rev  Tracking  Publisher  Notes\ncore20  20  1  latest/stable  canonical  base\n", 0, "1.31/stable", "install"),
], ids=["absent", "pinned", "other-channel", "other-snap-only"])
def test_snap_action(stdout, rc, channel, action):
    assert snap_action(stdout, rc, channel)["action"] == action


def test_snap_action_refuses_latest():
    with pytest.raises(MicroK8sOutputError):
        snap_action(SNAP_LIST, 0, "latest/stable")


def test_parse_status():
    assert parse_status(STATUS % "disabled") == {"running": True, "addons": {"dns": "enabled", "nvidia": "disabled"}}
    with pytest.raises(MicroK8sOutputError, match="not `microk8s status"):
        parse_status("microk8s is not running. Use microk8s inspect for a deeper inspection.")
    with pytest.raises(MicroK8sOutputError, match="not YAML"):
        parse_status("a: [")


def test_nvidia_addon_with_the_host_driver():
    assert gpu_addon(STATUS % "disabled", "1.31/stable") == {
        "name": "nvidia", "enabled": False, "argv": ["enable", "nvidia", "--gpu-operator-driver", "host"]}
    assert gpu_addon(STATUS % "enabled", "1.31/stable")["enabled"] is True


def test_older_channels_use_the_gpu_addon():
    assert gpu_addon(STATUS_OLD, "1.27/stable")["argv"] == ["enable", "gpu", "--gpu-operator-driver", "host"]


def test_extra_args_and_no_driver_flag():
    assert gpu_addon(STATUS % "disabled", "1.31/stable", driver="", extra_args=["--gpu-operator-version", "v24.9.0"])["argv"] == [
        "enable", "nvidia", "--gpu-operator-version", "v24.9.0"]


def test_not_running_or_no_addon_is_an_error():
    with pytest.raises(MicroK8sOutputError, match="not running"):
        gpu_addon((STATUS % "disabled").replace("running: true", "running: false"), "1.31/stable")
    with pytest.raises(MicroK8sOutputError, match="neither the nvidia nor the gpu addon"):
        gpu_addon("microk8s:\n  running: true\naddons:\n- name: dns\n  status: enabled\n", "1.31/stable")
