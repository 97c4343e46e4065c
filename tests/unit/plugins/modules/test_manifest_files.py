# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive manifest_files.main() on a real directory in tmp_path."""

from __future__ import annotations

import os

import pytest

from ansible_collections.homelab.gpu_node.tests.unit.plugins.modules.module_harness import (
    FailJson,
    patch_exits,
    run_main,
)

from ansible_collections.homelab.gpu_node.plugins.modules import manifest_files as module

HEAD = "# Rendered by homelab.gpu_node.gpu_cluster. Do not edit: change the role's variables and render again.\n"


@pytest.fixture(autouse=True)
def module_exits(monkeypatch):
    patch_exits(monkeypatch)


def files(*pairs):
    return [{"file": f, "content": c} for f, c in pairs]


def test_writes_then_changes_nothing_then_removes_only_its_own_stale_file(tmp_path):
    out = tmp_path / "gpu"
    first = files(("kustomization.yaml", HEAD + "resources: []\n"), ("talos/node-a.yaml", HEAD + "machine: {}\n"))
    result = run_main(module, {"path": str(out), "files": first, "_ansible_diff": True})
    assert result["changed"] and result["written"] == ["kustomization.yaml", "talos/node-a.yaml"]
    assert (out / "talos" / "node-a.yaml").read_text() == HEAD + "machine: {}\n"
    assert oct(os.stat(out / "kustomization.yaml").st_mode & 0o777) == "0o644"
    assert oct(os.stat(out / "talos").st_mode & 0o777) == "0o755"
    assert [d["after_header"] for d in result["diff"]] == [str(out / "kustomization.yaml"), str(out / "talos" / "node-a.yaml")]
    again = run_main(module, {"path": str(out), "files": first})
    assert not again["changed"] and again["written"] == [] and again["removed"] == []
    # the user's own file next to ours stays; ours that is no longer rendered goes
    (out / "talos" / "mine.yaml").write_text("my: patch\n")
    (out / "kustomization.yaml").chmod(0o600)
    second = files(("kustomization.yaml", HEAD + "resources: []\n"))
    check = run_main(module, {"path": str(out), "files": second, "_ansible_check_mode": True})
    assert check["changed"] and check["removed"] == ["talos/node-a.yaml"] and check["written"] == ["kustomization.yaml"]
    assert (out / "talos" / "node-a.yaml").exists()
    real = run_main(module, {"path": str(out), "files": second})
    assert real["removed"] == ["talos/node-a.yaml"] and not (out / "talos" / "node-a.yaml").exists()
    assert (out / "talos" / "mine.yaml").read_text() == "my: patch\n"
    assert oct(os.stat(out / "kustomization.yaml").st_mode & 0o777) == "0o644"


def test_refuses_a_path_outside_the_directory(tmp_path):
    result = run_main(module, {"path": str(tmp_path), "files": files(("../x.yaml", "x"))}, expect=FailJson)
    assert "../x.yaml" in result["msg"]
