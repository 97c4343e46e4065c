# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the repository importable as ``ansible_collections.homelab.gpu_node``.

The repository root *is* the collection. For plain ``pytest`` runs we link it
into ``.cache/collections/ansible_collections/homelab/gpu_node`` and put that
tree first on ``sys.path``. ``ansible-test units`` needs none of this.
"""

from __future__ import annotations

import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "nvidia-smi")


def _link_collection():
    if os.sep + os.path.join("ansible_collections", "homelab", "gpu_node") in ROOT:
        return  # already inside an ansible_collections tree (ansible-test, sanity copy)
    base = os.path.join(ROOT, ".cache", "collections")
    ns = os.path.join(base, "ansible_collections", "homelab")
    os.makedirs(ns, exist_ok=True)
    link = os.path.join(ns, "gpu_node")
    if not os.path.islink(link):
        os.symlink(ROOT, link)
    if base not in sys.path:
        sys.path.insert(0, base)


_link_collection()


# --- nvidia-smi captures (shared/fixtures/nvidia-smi) -------------------------

import pytest  # noqa: E402  (kept beside the fixture that needs it)


def _smi_capture_dirs():
    """SHARED_FIXTURES, plus the same place seen through a symlinked ansible_collections tree."""
    alternative = os.path.join(os.path.dirname(os.path.realpath(ROOT)), "shared", "fixtures", "nvidia-smi")
    return [SHARED_FIXTURES] if alternative == SHARED_FIXTURES else [SHARED_FIXTURES, alternative]


def read_smi_capture(relpath):
    """Text of a real nvidia-smi capture; fails the test loudly when it is missing (never skips)."""
    for base in _smi_capture_dirs():
        path = os.path.join(base, relpath)
        if os.path.isfile(path):
            with open(path, encoding="utf-8") as handle:
                return handle.read()
    pytest.fail("nvidia-smi capture %r not found under %s" % (relpath, " or ".join(_smi_capture_dirs())))


@pytest.fixture
def smi_capture():
    """Function reading a capture by its path relative to shared/fixtures/nvidia-smi."""
    return read_smi_capture
