# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which way the toolkit hands GPUs to containers: legacy, jit-cdi or cdi."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils import _toolkit_mode as tm

# the top of /etc/nvidia-container-runtime/config.toml as the toolkit's packages ship it
RUNTIME_CONFIG = """#accept-nvidia-visible-devices-as-volume-mounts = false
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"

[nvidia-container-cli]
environment = []
ldconfig = "@/sbin/ldconfig.real"

[nvidia-container-runtime]
log-level = "info"
mode = "%s"
runtimes = ["runc", "crun"]

[nvidia-container-runtime.modes.cdi]
annotation-prefixes = ["cdi.k8s.io/"]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]
"""


@pytest.mark.parametrize("stdout,version", [
    ("NVIDIA Container Toolkit CLI version 1.20.0\ncommit: 5505e2f\n", "1.20.0"),
    ("NVIDIA Container Toolkit CLI version 1.18.0-rc.1\ncommit: x\n", "1.18.0"),
    ("nvidia-ctk version 1.1\n", None),
    ("", None),
], ids=["release", "rc", "other", "empty"])
def test_parse_ctk_version(stdout, version):
    assert tm.parse_ctk_version(stdout) == version


@pytest.mark.parametrize("text,mode", [
    (None, "auto"), ("", "auto"), (RUNTIME_CONFIG % "auto", "auto"), (RUNTIME_CONFIG % "legacy", "legacy"),
    (RUNTIME_CONFIG % "cdi", "cdi"), ("[nvidia-container-runtime]\nlog-level = 'info'\n", "auto"),
    ("not = [toml", "auto"),
], ids=["no-file", "empty", "auto", "legacy", "cdi", "unset", "broken"])
def test_runtime_config_mode(text, mode):
    assert tm.runtime_config_mode(text) == mode


def test_runtime_config_mode_without_a_toml_library(monkeypatch):
    monkeypatch.setattr(tm, "_toml", None)
    assert tm.runtime_config_mode(RUNTIME_CONFIG % "legacy") == "legacy"
    # a mode key in another section is not the runtime's
    assert tm.runtime_config_mode("[nvidia-container-cli]\nmode = 'cdi'\n[nvidia-container-runtime]\n") == "auto"


@pytest.mark.parametrize("requested,version,config_mode,mode", [
    ("cdi", "1.17.8", "auto", "cdi"),
    ("auto", "1.17.8", "auto", "legacy"),
    ("auto", "1.18.0", "auto", "jit-cdi"),
    ("auto", "1.20.0", "legacy", "legacy"),
    ("auto", None, "auto", "unknown"),
    ("auto", None, "cdi", "cdi"),
], ids=["cdi", "legacy-before-1.18", "jit-cdi-from-1.18", "configured-legacy", "no-toolkit", "configured-cdi"])
def test_effective_mode(requested, version, config_mode, mode):
    assert tm.effective_mode(requested, version, config_mode) == mode


def test_record_round_trip_and_foreign_records():
    record = tm.build_record("cdi", "1.20.0", "auto", "/var/run/cdi/nvidia.yaml", True, "containerd", True)
    assert tm.read_record(tm.record_text(record)) == record
    assert record["mode"] == "cdi" and record["cdi_spec"] == "/var/run/cdi/nvidia.yaml"
    assert tm.build_record("auto", "1.20.0", "auto", "/x", False, "", False)["cdi_spec"] is None
    assert tm.read_record("{broken") == {}
    assert tm.read_record('{"schema": 99}') == {}


def test_only_our_own_spec_is_removed_outside_cdi_mode():
    ours = {"cdi_spec": "/var/run/cdi/nvidia.yaml"}
    assert tm.spec_to_remove("auto", ours, "/var/run/cdi/nvidia.yaml", True)
    assert not tm.spec_to_remove("cdi", ours, "/var/run/cdi/nvidia.yaml", True)
    assert not tm.spec_to_remove("auto", {}, "/var/run/cdi/nvidia.yaml", True)  # someone else's spec
    assert not tm.spec_to_remove("auto", ours, "/var/run/cdi/nvidia.yaml", False)
