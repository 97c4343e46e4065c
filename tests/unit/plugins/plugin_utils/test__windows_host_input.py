# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_windows_host_input.py: roles/windows_host's settings checks."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils._windows_host_input import windows_host_problems

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
