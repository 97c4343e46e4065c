# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Make the repository importable as ``ansible_collections.homelab.gpu_node`` for plain pytest runs.

The repository root *is* the collection. tests/unit/conftest.py and tests/deviceplugin/conftest.py
run this file (``runpy.run_path``) and call :func:`link_collection`: it links the root into
``.cache/collections/ansible_collections/homelab/gpu_node`` and puts that tree first on ``sys.path``.
``ansible-test units`` (already inside an ansible_collections tree) needs none of this.
"""

from __future__ import annotations

import os
import sys


def link_collection(root):
    """Link ``root`` (the repository) as the collection and make it importable."""
    if os.sep + os.path.join("ansible_collections", "homelab", "gpu_node") in root:
        return  # already inside an ansible_collections tree (ansible-test, sanity copy)
    base = os.path.join(root, ".cache", "collections")
    ns = os.path.join(base, "ansible_collections", "homelab")
    os.makedirs(ns, exist_ok=True)
    link = os.path.join(ns, "gpu_node")
    if not os.path.islink(link):
        os.symlink(root, link)
    if base not in sys.path:
        sys.path.insert(0, base)
