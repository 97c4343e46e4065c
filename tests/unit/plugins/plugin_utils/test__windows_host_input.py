# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_windows_host_input.py: roles/windows_host's settings checks."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._windows_host_input import (
    windows_host_problems,
    wsl_version_check,
)

# The role's defaults plus what the Windows gaming desktop with a WSL2 node sets.
GOOD = dict(
    windows_host_networking_mode="bridged", windows_host_vswitch_name="WSLBridge", windows_host_vswitch_manage=True,
    windows_host_vswitch_adapter="Ethernet", windows_host_wsl_distro_name="k3s-gpu-node",
    windows_host_wsl_address_mode="static", windows_host_wsl_address="192.168.10.35/24",
    windows_host_wsl_gateway="192.168.10.1", windows_host_wsl_dns=["192.168.1.1"], windows_host_wsl_mac_address="",
    windows_host_keepalive=True, windows_host_wsl_user="gamer", windows_host_wsl_manage_ssh=True,
    windows_host_wsl_ssh_authorized_keys=["ssh-ed25519 AAAA ansible@controller"], windows_host_wsl_rootfs_url="",
    windows_host_wsl_rootfs_checksum="", windows_host_wsl_rootfs="", windows_host_firewall_manage=True,
    windows_host_firewall_rules=[{"name": "K3s API", "protocol": "tcp", "port": "6443"},
                                 {"name": "NodePorts", "protocol": "tcp", "port": "30000-32767"}],
    windows_host_reboot_timeout=1800, windows_host_wsl_vm_idle_timeout=-1, windows_host_wsl_processors=8,
    windows_host_wsl_memory="32GB",
)


def problems(**changes):
    settings = dict(GOOD)
    settings.update(changes)
    return windows_host_problems(settings)


def test_the_good_settings_pass():
    assert problems() == []


@pytest.mark.parametrize("changes, message", [
    (dict(windows_host_wsl_address="999.1.1.1/99"), "windows_host_wsl_address=\"999.1.1.1/99\" is not an IPv4 address"),
    (dict(windows_host_wsl_address="192.168.10.35/33"), "a prefix 1-32"),
    (dict(windows_host_wsl_address="192.168.10.35"), "as address/prefix"),
    (dict(windows_host_wsl_gateway="10.0.0.1"), "is not in the network of windows_host_wsl_address"),
    (dict(windows_host_wsl_gateway="192.168.10.35"), "is the node's own address"),
    (dict(windows_host_wsl_gateway="192.168.10.256"), "needs windows_host_wsl_gateway"),
    (dict(windows_host_wsl_dns=["dns.example"]), "windows_host_wsl_dns entry \"dns.example\" is not an IP address"),
    (dict(windows_host_networking_mode="nat", windows_host_vswitch_adapter=""),
     "windows_host_wsl_address_mode=static needs windows_host_networking_mode=bridged"),
    (dict(windows_host_vswitch_adapter=""), "needs windows_host_vswitch_adapter"),
    (dict(windows_host_vswitch_name=""), "needs windows_host_vswitch_name"),
    (dict(windows_host_wsl_mac_address="01:15:5d:4a:10:35"), "must be a unicast MAC"),
    (dict(windows_host_wsl_mac_address="02:15:5d:4a:10"), "must be a unicast MAC"),
    (dict(windows_host_wsl_user=""), "WSL refuses to run as SYSTEM"),
    (dict(windows_host_wsl_ssh_authorized_keys=[]), "needs windows_host_wsl_ssh_authorized_keys"),
    (dict(windows_host_wsl_distro_name="k3s gpu node"), "is not a name WSL accepts"),
    (dict(windows_host_wsl_distro_name="Legacy"), "is not a name WSL accepts"),
    (dict(windows_host_wsl_rootfs_url="https://example.invalid/r.tar", windows_host_wsl_rootfs="C:\\r.tar"),
     "without windows_host_wsl_rootfs_checksum"),
    (dict(windows_host_wsl_rootfs_url="https://example.invalid/r.tar", windows_host_wsl_rootfs="C:\\r.tar",
          windows_host_wsl_rootfs_checksum="sha256:abc"), "must be <algorithm>:<hex digest>"),
    (dict(windows_host_wsl_rootfs_url="https://example.invalid/r.tar", windows_host_wsl_rootfs_checksum="sha1:" + "a" * 40),
     "needs windows_host_wsl_rootfs, the path on Windows"),
    (dict(windows_host_firewall_rules=[{"name": "x", "protocol": "sctp", "port": "1"}]), "protocol (tcp or udp)"),
    (dict(windows_host_firewall_rules=[{"name": "x", "protocol": "tcp", "port": "70000"}]), "a number 1-65535"),
    (dict(windows_host_firewall_rules=[{"name": "x", "protocol": "tcp", "port": "200-100"}]), "a number 1-65535"),
    (dict(windows_host_firewall_rules=["6443"]), "must be a mapping"),
    (dict(windows_host_reboot_timeout=-5), "windows_host_reboot_timeout=-5 must be a whole number >= 1"),
    (dict(windows_host_reboot_timeout=0), "windows_host_reboot_timeout=0 must be a whole number >= 1"),
    (dict(windows_host_wsl_vm_idle_timeout=-2), "windows_host_wsl_vm_idle_timeout=-2 must be a whole number >= -1"),
    (dict(windows_host_wsl_processors=-1), "windows_host_wsl_processors=-1 must be a whole number >= 0"),
    (dict(windows_host_wsl_memory="32gb"), "upper-case suffix"),
])
def test_each_problem_is_named(changes, message):
    found = problems(**changes)
    assert len(found) == 1, found
    assert message in found[0]


def test_all_problems_are_reported_at_once():
    found = problems(windows_host_wsl_address="999.1.1.1/99", windows_host_reboot_timeout=-1,
                     windows_host_wsl_vm_idle_timeout=-10, windows_host_wsl_mac_address="01:00:00:00:00:00")
    assert len(found) == 4
    assert [p.split("=")[0].split()[0] for p in found] == [
        "windows_host_wsl_address", "windows_host_wsl_mac_address", "windows_host_reboot_timeout",
        "windows_host_wsl_vm_idle_timeout"]


def test_dhcp_mode_ignores_the_static_fields_and_firewall_off_ignores_rules():
    assert problems(windows_host_wsl_address_mode="dhcp", windows_host_wsl_address="999.1.1.1/99",
                    windows_host_firewall_manage=False, windows_host_firewall_rules=[{"port": "x"}]) == []


# ---------------------------------------------------------------- wsl_version_check (the role's WSL version step)

NUL = "\0"
OLD_WSL_TEXT = "WSL version: 2.4.13.0\r\r\nKernel version: 5.15.167.4-1\r\r\n"
# `wsl --version` as win_command returns it when wsl.exe ignored WSL_UTF8: UTF-16LE read as UTF-8.
OLD_WSL = "".join(c + NUL for c in OLD_WSL_TEXT)
NEW_WSL_DE = "WSL-Version: 2.5.9.0\r\r\nKernelversion: 6.6.87.2-1\r\r\n"
INBOX = "Copyright (c) Microsoft Corporation. All rights reserved.\r\r\nUsage: wsl.exe [Argument]"


def wsl_check(out, **changes):
    settings = dict(GOOD, windows_host_wsl_bridged_min_version="2.5.6")
    settings.update(changes)
    return wsl_version_check(out, settings, "desktop")


def test_a_current_wsl_passes_with_localised_labels():
    assert wsl_check({"rc": 0, "stdout": NEW_WSL_DE, "stderr": ""}) == {"version": "2.5.9.0", "problems": []}


@pytest.mark.parametrize("mode", ["nat", "mirrored"])
def test_an_older_wsl_will_do_without_bridged_networking(mode):
    assert wsl_check({"rc": 0, "stdout": OLD_WSL, "stderr": ""}, windows_host_networking_mode=mode) == {
        "version": "2.4.13.0", "problems": []}


def test_bridged_networking_needs_the_minimum_version():
    found = wsl_check({"rc": 0, "stdout": OLD_WSL, "stderr": ""})
    assert found["version"] == "2.4.13.0"
    assert found["problems"] == [
        "desktop runs WSL 2.4.13.0; bridged networking needs WSL 2.5.6 or newer (it was dropped in 2.4.5 and came back "
        "in 2.5.6). Run `wsl --update` as gamer, then run the play again."]


def test_versions_compare_as_numbers_not_text():
    assert wsl_check({"rc": 0, "stdout": "WSL version: 2.10.1.0\n"})["problems"] == []
    assert wsl_check({"rc": 0, "stdout": "WSL version: 2.5.6.0\n"})["problems"] == []
    assert len(wsl_check({"rc": 0, "stdout": "WSL version: 2.5.5.9\n"})["problems"]) == 1


@pytest.mark.parametrize("out", [
    {"rc": -1, "stdout": INBOX, "stderr": ""},
    {"rc": 0, "stdout": INBOX, "stderr": ""},
    {"rc": 1, "stdout": "", "stderr": "wsl.exe not found"},
    {},
], ids=["inbox-usage-rc-1", "inbox-usage-rc-0", "no-wsl", "no-result"])
def test_no_version_asks_for_the_store_wsl(out):
    found = wsl_check(out, windows_host_networking_mode="nat")
    assert found["version"] is None
    assert len(found["problems"]) == 1
    assert "did not report a version on desktop" in found["problems"][0]
    assert "Run `wsl --update` as gamer on desktop" in found["problems"][0]
    assert NUL not in found["problems"][0]
