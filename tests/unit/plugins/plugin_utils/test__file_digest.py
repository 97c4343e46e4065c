# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's sha256 cache: real files, a real cache file in tmp_path."""

from __future__ import annotations

import hashlib
import os

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _file_digest as fd


def counting():
    calls = []

    def compute(path):
        calls.append(path)
        return fd.compute_sha256(path)
    return compute, calls


def test_an_unchanged_file_is_read_once(tmp_path):
    path, cache = tmp_path / "k3s", str(tmp_path / "cache" / "sha256.json")
    path.write_bytes(b"k3s binary")
    compute, calls = counting()
    first = fd.cached_sha256(str(path), cache, compute)
    assert first == hashlib.sha256(b"k3s binary").hexdigest()
    assert fd.cached_sha256(str(path), cache, compute) == first
    assert len(calls) == 1


def test_a_rewrite_that_keeps_size_and_mtime_is_read_again(tmp_path):
    path, cache = tmp_path / "k3s", str(tmp_path / "sha256.json")
    path.write_bytes(b"aaaa")
    before = os.stat(str(path))
    compute, calls = counting()
    fd.cached_sha256(str(path), cache, compute)
    path.write_bytes(b"bbbb")
    # hide the write: same size, the old mtime (ctime still moves)
    os.utime(str(path), ns=(before.st_atime_ns, before.st_mtime_ns))
    assert fd.cached_sha256(str(path), cache, compute) == hashlib.sha256(b"bbbb").hexdigest()
    assert len(calls) == 2


def test_an_unwritable_cache_still_gives_the_digest(tmp_path):
    path = tmp_path / "k3s"
    path.write_bytes(b"x")
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    assert fd.cached_sha256(str(path), str(blocker / "sub" / "sha256.json")) == hashlib.sha256(b"x").hexdigest()


def test_the_default_cache_follows_xdg_cache_home():
    assert fd.default_cache_path({"XDG_CACHE_HOME": "/c"}) == "/c/homelab.gpu_node/sha256.json"
