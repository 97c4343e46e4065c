# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Which files of a rendered directory to write and which to remove (gpu_cluster's render mode).

Plain Python (3.8+), no Ansible imports: the module manifest_files reads the directory and writes,
this decides. A file is written when its content or mode differs; a file an earlier render wrote
(one of its lines matches the role's marker) that is no longer rendered is removed; every other
file in the directory (the user's) is left alone.
"""

from __future__ import annotations

import re

#: Files read below the directory: ``*.yaml`` in it and in its direct subdirectories.
PATTERN = re.compile(r"[^/]+[.]yaml\Z")
MODE = 0o644


def is_ours(text, marker):
    """Whether ``text`` (a file's content) carries the marker (a regular expression matched at a line's start)."""
    rx = re.compile(marker)
    return any(rx.match(line) for line in text.splitlines())


def changes(files, found, marker):
    """``{write: [file names], remove: [relative paths]}``.

    ``files``: the rendered ``{file, content}`` (``file`` relative to the directory); ``found``: the
    ``*.yaml`` files below the directory as ``{relative path: {"content": text or None, "mode": int}}``
    (``content`` None when it is not UTF-8 text, which is then never ours).
    """
    write = []
    for f in files:
        now = found.get(f["file"])
        if now is None or now.get("content") != f["content"] or now.get("mode") != MODE:
            write.append(f["file"])
    expected = set(f["file"] for f in files)
    remove = sorted(rel for rel, now in found.items()
                    if rel not in expected and now.get("content") is not None and is_ours(now["content"], marker))
    return {"write": write, "remove": remove}


def directories(files):
    """The subdirectories the files need, relative, sorted."""
    return sorted(set(f["file"].rpartition("/")[0] for f in files if "/" in f["file"]))
