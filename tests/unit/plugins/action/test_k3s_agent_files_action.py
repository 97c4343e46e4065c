# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The action's check of the controller's file before anything is sent (real files, the real digest cache)."""

from __future__ import annotations

import hashlib

from ansible_collections.homelab.gpu_node.plugins.action.k3s_agent_files import source_problem


def test_the_verified_artifact_passes(tmp_path):
    path = tmp_path / "k3s"
    path.write_bytes(b"k3s")
    digest = hashlib.sha256(b"k3s").hexdigest()
    assert source_problem(str(path), digest.upper(), digest=lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()) is None


def test_a_file_that_changed_since_the_plan_is_refused(tmp_path):
    path = tmp_path / "k3s"
    path.write_bytes(b"other")
    problem = source_problem(str(path), "0" * 64, digest=lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest())
    assert "has sha256 %s" % hashlib.sha256(b"other").hexdigest() in problem and "nothing was changed" in problem


def test_a_missing_file_or_checksum_is_refused(tmp_path):
    assert "cannot read binary_source" in source_problem(str(tmp_path / "missing"), "0" * 64)
    assert source_problem(str(tmp_path / "missing"), "") == "binary_source needs binary_sha256"
