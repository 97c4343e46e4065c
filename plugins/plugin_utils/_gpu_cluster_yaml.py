# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
#
# This plugin_utils file is private to homelab.gpu_node; its API may change at any time.
"""Byte-stable YAML for Kubernetes manifests (controller only; the gpu_cluster role's render mode).

``to_nice_yaml`` sorts keys but writes multi-line strings (ConfigMap entries) as escaped
one-liners and cannot put ``apiVersion``/``kind``/``metadata`` first. :func:`manifest_yaml`:

- puts ``apiVersion``, ``kind``, ``metadata`` first in every mapping that has them, then the
  other keys sorted; all nested mappings sorted;
- writes multi-line strings as literal blocks (``|`` / ``|-``);
- indents sequences under their key (yamllint's default style);
- never emits anchors/aliases, and starts each document with ``---``.

The same data always gives the same bytes: no timestamps, no dict-order dependence.
"""

from __future__ import annotations

from collections.abc import Mapping


class ManifestYamlError(ValueError):
    """Data YAML cannot represent, or not a manifest."""


try:
    import yaml

    HAS_YAML = True
except ImportError:  # pragma: no cover - PyYAML ships with ansible-core
    HAS_YAML = False

FIRST_KEYS = ("apiVersion", "kind", "metadata")


def _plain(value, path="value"):
    """Turn tagged/templated values into plain Python types, keeping order rules for later."""
    if value is None or isinstance(value, bool):
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                key = str(key)
            out[str(key)] = _plain(item, "%s.%s" % (path, key))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(item, "%s[%d]" % (path, i)) for i, item in enumerate(value)]
    raise ManifestYamlError("gpu_cluster_manifest_yaml: %s has a value of type %s that YAML cannot represent"
                            % (path, type(value).__name__))


def _ordered_items(mapping):
    first = [(k, mapping[k]) for k in FIRST_KEYS if k in mapping]
    rest = sorted((k, v) for k, v in mapping.items() if k not in FIRST_KEYS)
    return first + rest


if HAS_YAML:

    class _ManifestDumper(yaml.SafeDumper):
        """SafeDumper with indented sequences and no aliases."""

        def increase_indent(self, flow=False, indentless=False):
            return super().increase_indent(flow, False)

        def ignore_aliases(self, data):
            return True

    def _represent_dict(dumper, data):
        return dumper.represent_mapping("tag:yaml.org,2002:map", _ordered_items(data))

    def _represent_str(dumper, data):
        if "\n" in data:
            return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", data)

    _ManifestDumper.add_representer(dict, _represent_dict)
    _ManifestDumper.add_representer(str, _represent_str)


def manifest_yaml(data, header=None):
    """Dump one manifest (dict) or several (list of dicts) as YAML documents.

    ``header``: optional text put first as ``#`` comment lines.
    """
    if not HAS_YAML:  # pragma: no cover
        raise ManifestYamlError("gpu_cluster_manifest_yaml needs PyYAML on the controller")
    if isinstance(data, Mapping):
        docs = [data]
    elif isinstance(data, (list, tuple)):
        docs = list(data)
    else:
        raise ManifestYamlError("gpu_cluster_manifest_yaml expects a dict or a list of dicts, got %s"
                                % type(data).__name__)
    parts = []
    if header:
        for line in str(header).splitlines():
            parts.append(("# " + line).rstrip() + "\n")
    for i, doc in enumerate(docs):
        if not isinstance(doc, Mapping):
            raise ManifestYamlError("gpu_cluster_manifest_yaml: document %d is a %s, not a dict"
                                    % (i, type(doc).__name__))
        text = yaml.dump(_plain(doc, "document %d" % i), Dumper=_ManifestDumper, default_flow_style=False,
                         allow_unicode=True, width=4096, explicit_start=True, sort_keys=False)
        parts.append(text)
    return "".join(parts)
