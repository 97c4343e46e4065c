# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Fixtures for the upstream device plugin checks (docs/device-plugin-upstream.md).

``dpconfigcheck`` is the Go program in this directory: NVIDIA k8s-device-plugin v0.20.0's own
config loading (api/config/v1, vendored) and start-up checks. It is built once by
scripts/deviceplugin.sh and cached under .cache/deviceplugin/<hash>.
"""

from __future__ import annotations

import json
import os
import runpy
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# Make the repository importable as ansible_collections.homelab.gpu_node (as tests/unit does).
runpy.run_path(os.path.join(ROOT, "tests", "collection_link.py"))["link_collection"](ROOT)


class Checker(object):
    """Runs dpconfigcheck."""

    def __init__(self, path):
        self.path = path

    def load(self, cases):
        """[(id, config text, env dict)] -> {id: {"error": str, "config": dict or None, ...}}."""
        payload = [{"id": cid, "config": text, "env": env or {}} for cid, text, env in cases]
        proc = subprocess.run([self.path, "json"], input=json.dumps(payload), capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return dict((r["id"], r) for r in json.loads(proc.stdout))

    def files(self, paths, daemonset=None, env=None):
        argv = [self.path, "files"]
        if daemonset:
            argv += ["-daemonset", daemonset]
        for key, value in sorted((env or {}).items()):
            argv += ["-env", "%s=%s" % (key, value)]
        return subprocess.run(argv + list(paths), capture_output=True, text=True, check=False)


@pytest.fixture(scope="session")
def checker():
    proc = subprocess.run([os.path.join(ROOT, "scripts", "deviceplugin.sh"), "bin"], capture_output=True,
                          text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return Checker(proc.stdout.strip().splitlines()[-1])
