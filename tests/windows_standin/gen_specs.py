# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the Windows stand-in's argument specs from the INSTALLED real collections' docs.

Usage: .venv/bin/python tests/windows_standin/gen_specs.py [--check]

The stand-in modules (tests/windows_standin/ansible_collections/...) validate their
arguments with these specs, so an option the real module does not have, or one put in
the wrong place, fails the test as it would fail on Windows. --check exits 1 when the
committed file differs from what the installed collections document
(tests/unit/windows_standin/test_standin_specs.py runs it).
"""

from __future__ import annotations

import ast
import glob
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "ansible_collections", "ansible", "windows", "plugins", "module_utils", "_standin_specs.py")

# The real modules the stand-in replaces (documentation file in the installed collection).
MODULES = {
    "ansible.windows.win_command": "ansible/windows/plugins/modules/win_command.py",
    "ansible.windows.win_shell": "ansible/windows/plugins/modules/win_shell.py",
    "ansible.windows.win_powershell": "ansible/windows/plugins/modules/win_powershell.py",
    "ansible.windows.win_optional_feature": "ansible/windows/plugins/modules/win_optional_feature.py",
    "ansible.windows.win_reboot": "ansible/windows/plugins/modules/win_reboot.py",
    "ansible.windows.win_get_url": "ansible/windows/plugins/modules/win_get_url.py",
    "ansible.windows.slurp": "ansible/windows/plugins/modules/slurp.yml",
    "community.windows.win_firewall_rule": "community/windows/plugins/modules/win_firewall_rule.py",
    "community.windows.win_scheduled_task": "community/windows/plugins/modules/win_scheduled_task.py",
    "community.windows.win_scheduled_task_stat": "community/windows/plugins/modules/win_scheduled_task_stat.py",
}
_TYPES = {"path": "str", "sid": "str", "string": "str", "boolean": "bool", "integer": "int", "dictionary": "dict"}


def installed_collections():
    import sysconfig

    # the PyPI `ansible` package's collections, beside ansible-core in site-packages
    return os.path.join(sysconfig.get_paths()["purelib"], "ansible_collections")


def documentation(path):
    if path.endswith(".yml"):
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)["DOCUMENTATION"]
    with open(path, encoding="utf-8") as handle:
        tree = ast.parse(handle.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
            return yaml.safe_load(node.value.value)
    raise ValueError("no DOCUMENTATION in %s" % path)


def fragment_options(doc, root):
    options = {}
    for name in doc.get("extends_documentation_fragment") or []:
        namespace, collection, fragment = name.split(".", 2) if name.count(".") >= 2 else (None, None, name)
        if namespace is None:
            continue
        path = os.path.join(root, namespace, collection, "plugins", "doc_fragments", fragment.split(".")[0] + ".py")
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as handle:
            tree = ast.parse(handle.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DOCUMENTATION":
                options.update((yaml.safe_load(node.value.value) or {}).get("options") or {})
    return options


def to_spec(options):
    spec = {}
    for name, opt in sorted(options.items()):
        entry = {"type": _TYPES.get(opt.get("type", "str"), opt.get("type", "str"))}
        for key in ("required", "choices", "aliases", "elements", "no_log"):
            if opt.get(key) not in (None, False, []):
                entry[key] = opt[key]
        if "elements" in entry:
            entry["elements"] = _TYPES.get(entry["elements"], entry["elements"])
        if "default" in opt and opt["default"] is not None:
            entry["default"] = opt["default"]
        if opt.get("suboptions"):
            entry["options"] = to_spec(opt["suboptions"])
        if opt.get("version_added") is not None:
            entry["version_added"] = str(opt["version_added"])
        spec[name] = entry
    return spec


def build():
    root = installed_collections()
    specs = {}
    for fqcn, rel in MODULES.items():
        doc = documentation(os.path.join(root, rel))
        options = dict(fragment_options(doc, root))
        options.update(doc.get("options") or {})
        specs[fqcn] = {"version_added": str(doc.get("version_added", "")), "options": to_spec(options)}
    versions = {}
    for name in ("ansible/windows", "community/windows"):
        for manifest in glob.glob(os.path.join(root, name, "MANIFEST.json")):
            with open(manifest, encoding="utf-8") as handle:
                versions[name.replace("/", ".")] = json.load(handle)["collection_info"]["version"]
    text = (
        "# -*- coding: utf-8 -*-\n"
        "# GENERATED by tests/windows_standin/gen_specs.py from the installed collections' docs\n"
        "# (%s); do not edit by hand.\n"
        "# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)\n"
        "# SPDX-License-Identifier: GPL-3.0-or-later\n"
        "from __future__ import annotations\n\n"
        "import json\n\n"
        "SPECS = json.loads(r\"\"\"\n%s\n\"\"\")\n"
        % (", ".join("%s %s" % kv for kv in sorted(versions.items())), json.dumps(specs, indent=1, sort_keys=True))
    )
    return text


def main():
    text = build()
    if "--check" in sys.argv:
        with open(OUT, encoding="utf-8") as handle:
            if handle.read() != text:
                print("%s is out of date: run %s" % (OUT, __file__))
                return 1
        return 0
    with open(OUT, "w", encoding="utf-8") as handle:
        handle.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
