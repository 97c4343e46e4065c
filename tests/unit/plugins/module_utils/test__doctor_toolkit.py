# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Doctor v2, node side: the installed toolkit version (what dpkg-query, rpm and nvidia-ctk answer)
and when the runtime binary arrived (k3s started before the toolkit). The known-bad comparison is
controller side: tests/unit/plugins/plugin_utils/test__doctor_v2.py."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _doctor as doctor
from ansible_collections.homelab.gpu_node.tests.unit.plugins.module_utils.test__doctor import (
    by_id,
    k3s_probe_without_nvidia,
)

# dpkg-query -W -f '${Package}\t${Version}\t${db:Status-Abbrev}\n' with both packages installed,
# and with the toolkit removed but its base package left as config files only (rc)
DPKG_BOTH = "nvidia-container-toolkit\t1.19.1-1\tii \nnvidia-container-toolkit-base\t1.19.1-1\tii \n"
DPKG_REMOVED = "nvidia-container-toolkit-base\t1.18.0-1\trc \n"
# rpm -q --qf '%{NAME}\t%{VERSION}-%{RELEASE}\n': one installed, one not (rpm's own words, rc 1)
RPM_ONE = "nvidia-container-toolkit\t1.17.8-1\npackage nvidia-container-toolkit-base is not installed\n"
CTK = "NVIDIA Container Toolkit CLI version 1.18.1\ncommit: 3e1bd3e3d3d3f7b0f0b2ed8e0b0d4d6f0b1c2d3e\n"


@pytest.mark.parametrize("kwargs, version, source", [
    ({"dpkg": (0, DPKG_BOTH)}, "1.19.1", "dpkg nvidia-container-toolkit"),
    ({"dpkg": (1, DPKG_REMOVED), "ctk": (0, CTK, "/usr/local/nvidia/toolkit/nvidia-ctk")}, "1.18.1",
     "/usr/local/nvidia/toolkit/nvidia-ctk --version"),
    ({"rpm": (1, RPM_ONE)}, "1.17.8", "rpm nvidia-container-toolkit"),
    ({"dpkg": (1, "")}, None, None),
    ({"ctk": (2, "unknown flag", "/usr/bin/nvidia-ctk")}, None, None),
], ids=["dpkg", "dpkg-rc-then-ctk", "rpm", "nothing", "ctk-fails"])
def test_toolkit_version_from_the_package_manager_or_nvidia_ctk(kwargs, version, source):
    found = doctor.toolkit_version(**kwargs)
    assert (found["version"], found["source"]) == (version, source)


def test_upstream_version_drops_epoch_and_release():
    assert doctor.upstream_version("1:1.17.8-1.el9") == "1.17.8"
    assert doctor.upstream_version("1.20.0-1") == "1.20.0"
    assert doctor.upstream_version("garbage") is None


def test_toolkit_reaches_the_node_entry(smi_capture):
    probe = k3s_probe_without_nvidia(smi_capture, 1000.0, 2000.0)
    probe["toolkit"] = doctor.toolkit_version(dpkg=(0, DPKG_BOTH))
    assert doctor.diagnose_node(probe)["node"]["toolkit"]["version"] == "1.19.1"


def test_k3s_started_before_a_packaged_toolkit_uses_the_install_time(smi_capture):
    """dpkg keeps a package's file mtimes (its build date), so only the inode change time says when
    apt installed nvidia-container-runtime: built at 500, k3s started at 1000, installed at 2000.
    Before the fix the doctor compared the mtime and gave the general advice."""
    probe = k3s_probe_without_nvidia(smi_capture, 1000.0, 500.0)
    probe["runtime_binary_ctime"] = 2000.0
    item = by_id(doctor.diagnose_node(probe)["checks"], "engine_runtime")
    assert item["status"] == "fail"
    assert "started 1970-01-01 00:16:40Z, before /usr/bin/nvidia-container-runtime was installed (1970-01-01 00:33:20Z)" \
        in item["detail"]
    assert item["fix"].startswith("systemctl restart k3s-agent")
