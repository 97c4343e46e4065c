# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every ansible.windows / community.windows / kubernetes.core module and option the roles use
exists in the installed collections' docs and was added no later than the floor galaxy.yml
declares (and collections/requirements.yml repeats)."""

from __future__ import annotations

import glob
import os

import pytest
import yaml
from ansible.module_utils.compat.version import LooseVersion

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import sys  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, os.path.join(ROOT, "tests", "windows_standin"))
import gen_specs  # noqa: E402  pylint: disable=wrong-import-position,import-error

COLLECTIONS = ("ansible.windows", "community.windows", "kubernetes.core")
TASK_KEYWORDS = {"block", "rescue", "always"}


def _tasks(items):
    for item in items or []:
        if not isinstance(item, dict):
            continue
        for key in TASK_KEYWORDS:
            if key in item:
                yield from _tasks(item[key])
        yield item


def used_options():
    """{fqcn: {option: [file, ...]}} of every Windows module call in roles/*/tasks and handlers."""
    found = {}
    for path in sorted(glob.glob(os.path.join(ROOT, "roles", "*", "tasks", "*.yml"))
                       + glob.glob(os.path.join(ROOT, "roles", "*", "handlers", "*.yml"))):
        with open(path, encoding="utf-8") as handle:
            for task in _tasks(yaml.safe_load(handle)):
                for key, args in task.items():
                    if key.split(".")[0:2] and ".".join(key.split(".")[:2]) in COLLECTIONS:
                        options = found.setdefault(key, {})
                        for option in (args or {}) if isinstance(args, dict) else {}:
                            options.setdefault(option, []).append(os.path.relpath(path, ROOT))
    return found


def docs(fqcn):
    namespace, collection, name = fqcn.split(".")
    root = gen_specs.installed_collections()
    for ext in (".py", ".yml"):
        path = os.path.join(root, namespace, collection, "plugins", "modules", name + ext)
        if os.path.exists(path):
            doc = gen_specs.documentation(path)
            options = dict(gen_specs.fragment_options(doc, root))
            options.update(doc.get("options") or {})
            for option in list(options.values()):
                for alias in option.get("aliases") or []:
                    options.setdefault(alias, option)
            return doc, options
    raise AssertionError("%s is not in the installed collections" % fqcn)


def floors():
    with open(os.path.join(ROOT, "galaxy.yml"), encoding="utf-8") as handle:
        galaxy = yaml.safe_load(handle)["dependencies"]
    with open(os.path.join(ROOT, "collections", "requirements.yml"), encoding="utf-8") as handle:
        requirements = dict((c["name"], c["version"]) for c in yaml.safe_load(handle)["collections"])
    return galaxy, requirements


def _version(value):
    return LooseVersion(str(value).rsplit(":", maxsplit=1)[-1])


def test_the_roles_use_windows_modules():
    assert "ansible.windows.win_powershell" in used_options()


@pytest.mark.parametrize("fqcn", sorted(used_options()))
def test_every_option_exists_and_is_within_the_declared_floor(fqcn):
    galaxy, requirements = floors()
    collection = ".".join(fqcn.split(".")[:2])
    floor = galaxy[collection]
    assert floor.startswith(">="), floor
    assert requirements[collection] == floor, "collections/requirements.yml and galaxy.yml disagree on %s" % collection
    doc, options = docs(fqcn)
    problems = []
    if doc.get("version_added") and _version(doc["version_added"]) > _version(floor[2:]):
        problems.append("%s itself was added in %s" % (fqcn, doc["version_added"]))
    for option, where in used_options()[fqcn].items():
        if option not in options:
            problems.append("%s has no option %r (used in %s)" % (fqcn, option, ", ".join(where)))
        elif options[option].get("version_added") and _version(options[option]["version_added"]) > _version(floor[2:]):
            problems.append("%s option %r was added in %s, but galaxy.yml accepts %s %s (used in %s)"
                            % (fqcn, option, options[option]["version_added"], collection, floor, ", ".join(where)))
    assert not problems, "\n".join(problems)
