# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This module_utils file is private to homelab.gpu_node; its API may change at any time.
"""Read an engine's config files and plan with :mod:`._runtime_config`; write one file atomically.

Shared by the modules containerd_nvidia_runtime and container_engine_restart.
"""

from __future__ import annotations

import glob
import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    containerd_dropin_path,
    containerd_import_order,
    k3s_paths,
    plan_containerd,
    plan_docker,
    plan_k3s,
    plan_microk8s,
)


def read_text(path):
    """The file's text, or None when it does not exist."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RuntimeConfigError("%s is not UTF-8 text: %s" % (path, exc))


def make_plan(engine, config_path, options, warn):
    if engine == "containerd":
        main_text = read_text(config_path)
        dropin = containerd_dropin_path(config_path)
        imported = []
        for path in containerd_import_order(config_path, main_text, glob.glob):
            text = read_text(path)
            if text is None and path != dropin and "*" not in path:
                warn("%s imports %s, which does not exist: containerd will not start" % (config_path, path))
            imported.append((path, text))
        return plan_containerd(config_path, main_text, read_text(dropin), options, imported)
    if engine == "k3s":
        texts = dict((path, read_text(path)) for path in k3s_paths(config_path))
        return plan_k3s(config_path, texts, options)
    if engine == "microk8s":
        return plan_microk8s(config_path, read_text(config_path), options)
    return plan_docker(config_path, read_text(config_path), options)


def write_text(module, path, text):
    """Write ``text`` to ``path`` atomically; every failure is an OSError (the caller reports what was done)."""
    directory = os.path.dirname(path)
    if directory and not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    creating = not os.path.exists(path)
    fd, tmp = tempfile.mkstemp(dir=module.tmpdir)
    with os.fdopen(fd, "wb") as handle:
        handle.write(to_bytes(text, errors="surrogate_or_strict"))
    with raise_instead_of_fail(module):
        module.atomic_move(tmp, path)
        if creating:
            module.set_mode_if_different(path, "0644", False)


class raise_instead_of_fail(object):
    """While active, failures of AnsibleModule helpers (atomic_move, backup_local, set_mode_if_different) raise
    OSError instead of ending the module: older cores call fail_json, ansible-core 2.19 raises a plain Exception
    (e.g. "Unable to make ... failed final rename ..." from an OSError). The caller then reports every file it
    already changed."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        def fail(msg=None, **_kwargs):
            raise OSError(msg)
        self.module.fail_json = fail
        return self

    def __exit__(self, exc_type, exc, _tb):
        del self.module.fail_json
        if exc is None or isinstance(exc, OSError) or not isinstance(exc, Exception):
            return False
        cause = exc.__cause__
        raise OSError("%s%s" % (exc, (" (%s)" % cause) if cause is not None else "")) from exc
