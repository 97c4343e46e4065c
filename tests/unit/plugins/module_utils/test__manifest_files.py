# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugins/module_utils/_manifest_files.py: what a render writes and removes."""

from __future__ import annotations

from ansible_collections.homelab.gpu_node.plugins.module_utils._manifest_files import changes, directories, is_ours

MARK = "# Rendered by homelab[.]gpu_node[.]gpu_cluster[.]"
OURS = "# Rendered by homelab.gpu_node.gpu_cluster. Do not edit.\nold: 1\n"


def test_writes_only_what_differs_and_removes_only_ours():
    files = [{"file": "a.yaml", "content": "a\n"}, {"file": "t/b.yaml", "content": "b\n"}]
    found = {"a.yaml": {"content": "a\n", "mode": 0o644}, "t/b.yaml": {"content": "a\n", "mode": 0o644},
             "old.yaml": {"content": OURS, "mode": 0o644}, "theirs.yaml": {"content": "mine: 1\n", "mode": 0o644},
             "bin.yaml": {"content": None, "mode": 0o644}}
    assert changes(files, found, MARK) == {"write": ["t/b.yaml"], "remove": ["old.yaml"]}
    found["a.yaml"]["mode"] = 0o600
    assert changes(files, found, MARK)["write"] == ["a.yaml", "t/b.yaml"]


def test_marker_matches_at_a_line_start_only():
    assert is_ours("x: 1\n" + OURS, MARK)
    assert not is_ours("note: '# Rendered by homelab.gpu_node.gpu_cluster. '\n", MARK)


def test_directories():
    assert directories([{"file": "b/x.yaml"}, {"file": "a.yaml"}, {"file": "a/y.yaml"}, {"file": "b/z.yaml"}]) == ["a", "b"]
