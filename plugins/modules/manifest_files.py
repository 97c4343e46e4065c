#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: manifest_files
short_description: Write a directory of rendered files in one call, and remove the ones an earlier render left
version_added: 0.1.0
description:
  - "The render mode of the C(gpu_cluster) role in one call: each of O(files) is compared with the file in O(path)
    (content and mode 0644) and written only when it differs, atomically; missing directories are created (0755).
    A C(*.yaml) file in O(path) or one of its direct subdirectories that is not in O(files) is removed only when a
    line of it matches O(marker) at its start (an earlier render wrote it); every other file stays."
  - A render that changes nothing writes nothing and reports no change.
options:
  path:
    description: The directory.
    type: path
    required: true
  files:
    description: The files, in the order to write them.
    type: list
    elements: dict
    required: true
    suboptions:
      file:
        description: The file's path relative to O(path) (at most one subdirectory deep).
        type: str
        required: true
      content:
        description: Its content.
        type: str
        required: true
  marker:
    description: A regular expression matched at the start of each line; a file with such a line was rendered.
    type: str
    default: '# Rendered by homelab[.]gpu_node[.]gpu_cluster[.]'
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per written or removed file.
  platform:
    platforms: posix
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Write the rendered manifests
  homelab.gpu_node.manifest_files:
    path: /srv/gitops/gpu
    files:
      - file: kustomization.yaml
        content: "# Rendered by homelab.gpu_node.gpu_cluster. Do not edit.\nresources: []\n"
"""

RETURN = r"""
written:
  description: The files written (or, in check mode, that would be), relative to O(path).
  returned: always
  type: list
  elements: str
removed:
  description: The files removed (or that would be), relative to O(path).
  returned: always
  type: list
  elements: str
"""

import os
import stat

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._manifest_files import (
    MODE,
    PATTERN,
    changes,
    directories,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_files import write_text


def read_found(path):
    """``{relative path: {content, mode}}`` of the ``*.yaml`` files in ``path`` and its direct subdirectories."""
    found = {}
    if not os.path.isdir(path):
        return found
    for top in [""] + sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d))):
        base = os.path.join(path, top)
        for name in sorted(os.listdir(base)):
            full = os.path.join(base, name)
            if not PATTERN.match(name) or not os.path.isfile(full) or os.path.islink(full):
                continue
            with open(full, "rb") as handle:
                data = handle.read()
            try:
                content = data.decode("utf-8")
            except UnicodeDecodeError:
                content = None
            rel = (top + "/" + name) if top else name
            found[rel] = {"content": content, "mode": stat.S_IMODE(os.stat(full).st_mode)}
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="list", elements="dict", required=True, options=dict(
                file=dict(type="str", required=True), content=dict(type="str", required=True))),
            marker=dict(type="str", default="# Rendered by homelab[.]gpu_node[.]gpu_cluster[.]"),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"].rstrip("/") or "/"
    files = module.params["files"]
    for f in files:
        parts = f["file"].split("/")
        if len(parts) > 2 or any(p in ("", ".", "..") for p in parts):
            module.fail_json(msg="files: %r is not a file name or subdir/name below path" % f["file"])
    try:
        found = read_found(path)
    except OSError as exc:
        module.fail_json(msg="cannot read %s: %s" % (path, to_native(exc)))
    todo = changes(files, found, module.params["marker"])
    content = dict((f["file"], f["content"]) for f in files)
    diff = []
    for rel in todo["write"]:
        before = (found.get(rel) or {}).get("content") or ""
        diff.append(dict(before_header=os.path.join(path, rel), after_header=os.path.join(path, rel),
                         before=before, after=content[rel]))
    for rel in todo["remove"]:
        diff.append(dict(before_header=os.path.join(path, rel), after_header=os.path.join(path, rel),
                         before=found[rel]["content"], after=""))
    if not module.check_mode:
        try:
            for d in [path] + [os.path.join(path, d) for d in directories(files)]:
                if not os.path.isdir(d):
                    os.makedirs(d, 0o755)
            for rel in todo["write"]:
                target = os.path.join(path, rel)
                write_text(module, target, content[rel])
                os.chmod(target, MODE)
            for rel in todo["remove"]:
                os.remove(os.path.join(path, rel))
        except OSError as exc:
            module.fail_json(msg="cannot write below %s: %s" % (path, to_native(exc)),
                             written=todo["write"], removed=todo["remove"])
    result = dict(changed=bool(todo["write"] or todo["remove"]), written=todo["write"], removed=todo["remove"])
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
