# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""third_party/k8s-device-plugin holds upstream's v0.20.0 files unmodified (blob ids in its README)."""

from __future__ import annotations

import hashlib
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
VENDORED = os.path.join(HERE, "third_party", "k8s-device-plugin")


def git_blob_id(path):
    with open(path, "rb") as handle:
        data = handle.read()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def test_vendored_files_are_upstreams():
    with open(os.path.join(VENDORED, "README.md")) as handle:
        listed = dict(re.findall(r"^\| `([^`]+)` \| `([0-9a-f]{40})` \|", handle.read(), re.M))
    present = set()
    for dirpath, _dirs, files in os.walk(VENDORED):
        for name in files:
            rel = os.path.relpath(os.path.join(dirpath, name), VENDORED)
            if rel != "README.md":
                present.add(rel)
    assert present == set(listed), "files not listed in README.md, or listed but missing"
    assert "LICENSE" in present and "api/config/v1/replicas.go" in present
    for rel, blob in sorted(listed.items()):
        assert git_blob_id(os.path.join(VENDORED, rel)) == blob, rel


def test_go_module_uses_the_vendored_copy():
    with open(os.path.join(HERE, "go.mod")) as handle:
        text = handle.read()
    assert "github.com/NVIDIA/k8s-device-plugin v0.20.0" in text
    assert "replace github.com/NVIDIA/k8s-device-plugin => ./third_party/k8s-device-plugin" in text
