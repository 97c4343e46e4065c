# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""The collection's one version matrix (meta/version_matrix.yml), read on the controller.

:func:`load` reads and checks the file; :func:`pin` gives a component's pinned version;
:func:`known_bad` lists the known-bad entries a version falls under and
:func:`known_bad_problems` turns them into sentences naming the issue and the override.
Versions compare numerically part by part ("v1.35.6+k3s1", "1.20.0", "4.5.3-4.8.2-distroless").
"""

from __future__ import annotations

import os
import re

import yaml

MATRIX_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "meta", "version_matrix.yml")

_CACHE = {}
_FIELDS = ("version", "role_variable", "source", "lab", "notes", "known_bad")


class VersionMatrixError(Exception):
    """The matrix file is missing or malformed, or a component is unknown."""


def version_key(version):
    """Numeric parts of a version: 'v1.35.6+k3s1' -> (1, 35, 6); suffixes after '+', '-' or '~' are ignored."""
    text = str(version).strip()
    text = text[1:] if text[:1] in ("v", "V") else text
    text = re.split(r"[+~-]", text, maxsplit=1)[0]
    parts = text.split(".")
    if not text or not all(part.isdigit() for part in parts):
        raise VersionMatrixError("%r is not a version such as 1.20.0 or v1.35.6+k3s1" % (version,))
    return tuple(int(part) for part in parts)


def _check(data, path):
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict) or not data["components"]:
        raise VersionMatrixError("%s: needs a 'components' mapping" % path)
    for name, entry in data["components"].items():
        if not isinstance(entry, dict) or not entry.get("version"):
            raise VersionMatrixError("%s: component %s needs a version" % (path, name))
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise VersionMatrixError("%s: component %s has unknown keys %s" % (path, name, ", ".join(unknown)))
        version_key(entry["version"])
        for bad in entry.get("known_bad") or []:
            if not isinstance(bad, dict) or not bad.get("id") or not bad.get("url") or not bad.get("why"):
                raise VersionMatrixError("%s: %s known_bad entries need id, url and why" % (path, name))
            if ("versions" in bad) == ("below" in bad):
                raise VersionMatrixError("%s: %s known_bad %s needs exactly one of versions, below"
                                         % (path, name, bad["id"]))
            for version in bad.get("versions") or [bad.get("below")]:
                version_key(version)
            if matches(bad, entry["version"]):
                raise VersionMatrixError("%s: the pinned %s %s is on its own known-bad list (%s)"
                                         % (path, name, entry["version"], bad["id"]))
    return data


def load(path=None):
    """The matrix as a dict (read once per path and process)."""
    path = path or MATRIX_PATH
    if path not in _CACHE:
        try:
            with open(path) as handle:
                data = yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            raise VersionMatrixError("cannot read the version matrix %s: %s" % (path, exc))
        _CACHE[path] = _check(data, path)
    return _CACHE[path]


def component(name, matrix=None):
    components = (matrix or load())["components"]
    if name not in components:
        raise VersionMatrixError("the version matrix has no component %r (it has %s)"
                                 % (name, ", ".join(sorted(components))))
    return components[name]


def pin(name, matrix=None):
    """The pinned version of component ``name``, as a string."""
    return str(component(name, matrix)["version"])


def matches(bad, version):
    key = version_key(version)
    if "below" in bad:
        return key < version_key(bad["below"])
    return any(key == version_key(item) for item in bad["versions"])


def known_bad(name, version, matrix=None):
    """The known-bad entries of component ``name`` that ``version`` falls under."""
    return [bad for bad in component(name, matrix).get("known_bad") or [] if matches(bad, version)]


def known_bad_problems(name, version, accepted=(), variable=None, accept_variable=None, matrix=None):
    """One sentence per known-bad entry ``version`` falls under and the user did not accept."""
    problems = []
    accepted = [str(item) for item in (accepted or [])]
    label = variable or component(name, matrix).get("role_variable") or name
    for bad in known_bad(name, version, matrix):
        if str(bad["id"]) in accepted:
            continue
        release = ("releases before %s" % bad["below"]) if "below" in bad else (
            "release%s %s" % ("s" if len(bad["versions"]) > 1 else "", ", ".join(str(v) for v in bad["versions"])))
        problem = "%s=%s is on the known-bad list (%s: %s): %s; see %s. Use the pinned %s" % (
            label, version, bad["id"], release, " ".join(str(bad["why"]).split()), bad["url"],
            pin(name, matrix))
        if accept_variable:
            problem += ", or accept the risk with %s: [%r]" % (accept_variable, str(bad["id"]))
        problems.append(problem + ".")
    return problems
