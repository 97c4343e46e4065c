# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The sha256 of a file on the controller, cached by what identifies its content.

An airgap artifact (the k3s binary, ~60 MB) is checked on every run, once per node: reading it
each time costs more than the rest of a no-change rerun. The cache keys a digest by the file's
real path, device, inode, size, mtime and ctime (ns): any write to the file, and any
``touch``/``utime`` that tries to hide one, changes ctime, so a changed file is read again.
The cache is a small JSON file (``~/.cache/homelab.gpu_node/sha256.json``, or under
``$XDG_CACHE_HOME``); when it cannot be read or written the digest is simply computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile

_MAX_ENTRIES = 64


def default_cache_path(environ=None):
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "homelab.gpu_node", "sha256.json")


def identity(path, stat_fn=os.stat):
    """The key under which the digest of ``path`` is cached (raises OSError when it cannot be stat'ed)."""
    info = stat_fn(path)
    fields = (os.path.realpath(path), info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    return "%s|%d|%d|%d|%d|%d" % fields


def compute_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _load(cache_path):
    try:
        with open(cache_path) as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store(cache_path, data):
    try:
        directory = os.path.dirname(cache_path)
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".sha256.", dir=directory)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp, cache_path)
    except OSError:
        pass


def cached_sha256(path, cache_path=None, compute=compute_sha256, stat_fn=os.stat):
    """The sha256 (hex) of the file ``path``; read from the cache when its identity is unchanged."""
    cache_path = cache_path or default_cache_path()
    key = identity(path, stat_fn)
    data = _load(cache_path)
    if isinstance(data.get(key), str):
        return data[key]
    digest = compute(path)
    # the file may have changed while it was read: cache only what was read from an unchanged file
    if identity(path, stat_fn) == key:
        data = _load(cache_path)
        prefix = key.split("|", 1)[0] + "|"
        data = dict((k, v) for k, v in data.items() if not k.startswith(prefix))
        data[key] = digest
        if len(data) > _MAX_ENTRIES:
            data = dict(sorted(data.items())[-_MAX_ENTRIES:])
        _store(cache_path, data)
    return digest
