# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the repository importable as ``ansible_collections.homelab.gpu_node`` (tests/collection_link.py),
and give tests the real nvidia-smi captures."""

from __future__ import annotations

import os
import runpy

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHARED_FIXTURES = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "nvidia-smi")


runpy.run_path(os.path.join(ROOT, "tests", "collection_link.py"))["link_collection"](ROOT)


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
