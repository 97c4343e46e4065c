# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive package_record.main() against this machine's real dpkg database (Debian): coreutils and dpkg are
installed, the made-up names are not."""

from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
)

from ansible_collections.homelab.gpu_node.plugins.modules import package_record as module

pytestmark = pytest.mark.skipif(shutil.which("dpkg-query") is None, reason="needs dpkg-query (Debian)")

WANTED = ["coreutils", "dpkg", "homelab-no-such-package"]


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def test_before_reads_only(tmp_path):
    path = tmp_path / "state" / "packages.json"
    result = run_main(module, {"packages": WANTED, "phase": "before", "path": str(path)})
    assert result["installed"] == ["coreutils", "dpkg"]
    assert not result["changed"] and result["record"] == {"packages": []}
    assert not path.exists()


def test_after_records_what_was_not_there_before_then_is_idempotent(tmp_path):
    path = tmp_path / "state" / "packages.json"
    args = {"packages": WANTED, "phase": "after", "installed_before": ["coreutils"], "path": str(path),
            "_ansible_diff": True}
    first = run_main(module, args)
    assert first["changed"] and first["record"] == {"packages": ["dpkg"]}
    assert json.loads(path.read_text()) == {"packages": ["dpkg"]}
    assert first["diff"]["before"] == "" and '"dpkg"' in first["diff"]["after"]
    # a rerun: everything was there before; the earlier record keeps dpkg, nothing changes
    again = run_main(module, dict(args, installed_before=["coreutils", "dpkg"]))
    assert not again["changed"] and again["record"] == {"packages": ["dpkg"]}


def test_no_file_for_an_empty_record_and_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "packages.json"
    nothing = run_main(module, {"packages": WANTED, "phase": "after", "installed_before": ["coreutils", "dpkg"],
                                "path": str(path)})
    assert not nothing["changed"] and not path.exists()
    check = run_main(module, {"packages": WANTED, "phase": "after", "installed_before": [], "path": str(path),
                              "_ansible_check_mode": True})
    assert check["changed"] and check["record"] == {"packages": ["coreutils", "dpkg"]} and not path.exists()


def test_a_broken_record_fails_naming_the_file(tmp_path):
    path = tmp_path / "packages.json"
    path.write_text('{"packages": "dpkg"}')
    result = run_main(module, {"packages": WANTED, "phase": "before", "path": str(path)}, expect=FailJson)
    assert str(path) in result["msg"]


def test_after_needs_installed_before(tmp_path):
    result = run_main(module, {"packages": WANTED, "phase": "after", "path": str(tmp_path / "p.json")},
                      expect=FailJson)
    assert "installed_before" in result["msg"]
