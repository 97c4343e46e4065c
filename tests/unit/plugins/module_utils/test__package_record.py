# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/_package_record.py: which packages a role installed."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.module_utils._package_record import (
    PackageRecordError,
    installed_from_dpkg,
    installed_from_rpm,
    new_record,
    read_record,
    record_text,
)

TOOLKIT = ["nvidia-container-toolkit", "nvidia-container-toolkit-base", "libnvidia-container-tools",
           "libnvidia-container1"]


def test_new_record_names_only_what_the_install_added():
    """The user had libnvidia-container1 before: it is not the role's, ever."""
    assert new_record(TOOLKIT, ["libnvidia-container1"], TOOLKIT) == {
        "packages": ["libnvidia-container-tools", "nvidia-container-toolkit", "nvidia-container-toolkit-base"]}


def test_new_record_keeps_earlier_runs_and_is_stable():
    first = new_record(TOOLKIT, [], TOOLKIT)
    assert first == {"packages": sorted(TOOLKIT)}
    # the second run finds them installed "before": the record of the first run keeps them
    assert new_record(TOOLKIT, TOOLKIT, TOOLKIT, first) == first


def test_new_record_a_failed_install_records_only_what_arrived():
    assert new_record(TOOLKIT, [], ["nvidia-container-toolkit-base"]) == {"packages": ["nvidia-container-toolkit-base"]}
    assert new_record(TOOLKIT, [], [], None) == {"packages": []}


def test_dpkg_output_counts_only_installed_packages():
    # dpkg-query --show --showformat='${Status} ${Package}\n' (a package removed with its config kept, one on hold)
    stdout = ("install ok installed nvidia-container-toolkit\n"
              "deinstall ok config-files libnvidia-container1\n"
              "hold ok installed libnvidia-container-tools\n"
              "install ok unpacked nvidia-container-toolkit-base\n")
    assert installed_from_dpkg(stdout, TOOLKIT) == ["libnvidia-container-tools", "nvidia-container-toolkit"]
    assert installed_from_dpkg("", TOOLKIT) == []


def test_rpm_output_ignores_not_installed_lines():
    stdout = "nvidia-container-toolkit\npackage libnvidia-container1 is not installed\n"
    assert installed_from_rpm(stdout, TOOLKIT) == ["nvidia-container-toolkit"]


def test_record_round_trip_and_bad_records():
    record = {"packages": ["a", "b"]}
    assert read_record(record_text(record)) == record
    assert read_record(None) is None and read_record("") is None
    for bad in ('{"packages": "a"}', '["a"]', "not json"):
        with pytest.raises(PackageRecordError):
            read_record(bad)
