# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The version matrix (meta/version_matrix.yml): the one source the roles, the README and the tests read."""

from __future__ import annotations

import os
import re

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _versions as v

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
COMPONENTS = ("k3s", "nvidia_container_toolkit", "nvidia_device_plugin", "gpu_feature_discovery", "dcgm_exporter",
              "gpu_operator")


def write(tmp_path, data):
    path = tmp_path / "matrix.yml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_the_matrix_loads_and_has_every_component():
    matrix = v.load()
    assert set(COMPONENTS) <= set(matrix["components"])
    for name in COMPONENTS:
        entry = matrix["components"][name]
        assert entry["lab"] and entry["source"].startswith("https://")
        v.version_key(entry["version"])


@pytest.mark.parametrize("text,key", [
    ("1.20.0", (1, 20, 0)), ("v1.35.6+k3s1", (1, 35, 6)), ("4.5.3-4.8.2-distroless", (4, 5, 3)),
    ("v26.7.0", (26, 7, 0)), ("1.18.0~rc.1", (1, 18, 0)),
], ids=["toolkit", "k3s", "dcgm", "operator", "tilde"])
def test_version_key(text, key):
    assert v.version_key(text) == key


@pytest.mark.parametrize("text", ["", "latest", "v1.x", None], ids=["empty", "latest", "letters", "none"])
def test_version_key_refuses_what_is_not_a_version(text):
    with pytest.raises(v.VersionMatrixError, match="is not a version"):
        v.version_key(text)


@pytest.mark.parametrize("version,ids", [
    ("1.17.7", ["CVE-2025-23266"]),
    ("1.17.8", []),
    ("1.18.0", ["NVIDIA/nvidia-container-toolkit#1404", "NVIDIA/nvidia-container-toolkit#1555"]),
    ("1.18.1", ["NVIDIA/nvidia-container-toolkit#1555"]),
    ("1.18.2", []),
    ("1.19.0", []),
    ("1.19.1", ["NVIDIA/nvidia-container-toolkit#1967"]),
    ("1.20.0", []),
], ids=str)
def test_known_bad_toolkit_releases(version, ids):
    assert [bad["id"] for bad in v.known_bad("nvidia_container_toolkit", version)] == ids


def test_problem_names_the_issue_the_url_the_pin_and_the_override():
    problems = v.known_bad_problems("nvidia_container_toolkit", "1.19.1", accept_variable="accept_me")
    assert len(problems) == 1
    text = problems[0]
    assert text.startswith("gpu_runtime_toolkit_version=1.19.1 is on the known-bad list "
                           "(NVIDIA/nvidia-container-toolkit#1967: release 1.19.1)")
    assert "https://github.com/NVIDIA/nvidia-container-toolkit/issues/1967" in text
    assert "Use the pinned %s" % v.pin("nvidia_container_toolkit") in text
    assert "accept_me: ['NVIDIA/nvidia-container-toolkit#1967']" in text
    assert v.known_bad_problems("nvidia_container_toolkit", "1.19.1",
                                accepted=["NVIDIA/nvidia-container-toolkit#1967"]) == []


def test_a_range_entry_reads_as_releases_before():
    text = v.known_bad_problems("nvidia_container_toolkit", "1.16.2")[0]
    assert "(CVE-2025-23266: releases before 1.17.8)" in text


def test_pins_are_never_on_their_own_known_bad_list(tmp_path):
    data = {"components": {"t": {"version": "1.19.1", "known_bad": [
        {"id": "x#1", "versions": ["1.19.1"], "url": "https://example.invalid", "why": "broken"}]}}}
    with pytest.raises(v.VersionMatrixError, match="pinned t 1.19.1 is on its own known-bad list"):
        v.load(write(tmp_path, data))


@pytest.mark.parametrize("data,match", [
    ({}, "needs a 'components' mapping"),
    ({"components": {"t": {}}}, "component t needs a version"),
    ({"components": {"t": {"version": "1.0.0", "pinned": 1}}}, "unknown keys pinned"),
    ({"components": {"t": {"version": "1.0.0", "known_bad": [{"id": "x"}]}}}, "need id, url and why"),
    ({"components": {"t": {"version": "1.0.0", "known_bad": [
        {"id": "x", "url": "u", "why": "w", "versions": ["0.9"], "below": "0.9"}]}}}, "exactly one of versions, below"),
], ids=["no-components", "no-version", "unknown-key", "incomplete-bad", "both-forms"])
def test_malformed_matrices_are_refused(tmp_path, data, match):
    with pytest.raises(v.VersionMatrixError, match=match):
        v.load(write(tmp_path, data))


def test_unknown_component():
    with pytest.raises(v.VersionMatrixError, match="has no component 'k8s'"):
        v.pin("k8s")


def test_role_defaults_read_their_pin_from_the_matrix():
    """No role keeps a literal copy of a pinned version: each role_variable's default is the lookup."""
    matrix = v.load()
    for name, entry in matrix["components"].items():
        role = entry["role_variable"].split("_")[0] + "_" + entry["role_variable"].split("_")[1]
        role = {"gpu_runtime": "gpu_runtime", "cluster_join": "cluster_join", "gpu_cluster": "gpu_cluster"}[role]
        with open(os.path.join(ROOT, "roles", role, "defaults", "main.yml")) as handle:
            defaults = yaml.safe_load(handle)
        value = defaults[entry["role_variable"]]
        assert "lookup('homelab.gpu_node.version_matrix'" in value, (name, value)


def test_argument_spec_defaults_document_the_pins():
    for entry in v.load()["components"].values():
        role = "_".join(entry["role_variable"].split("_")[:2])
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            spec = yaml.safe_load(handle)
        option = spec["argument_specs"]["main"]["options"][entry["role_variable"]]
        assert str(option["default"]) == str(entry["version"]), entry["role_variable"]


def test_readme_table_matches_the_matrix():
    """README.md's version matrix table is the matrix: one row per component, same version and known-bad ids."""
    with open(os.path.join(ROOT, "README.md")) as handle:
        readme = handle.read()
    section = readme.split("## Version matrix", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    table = {}
    for row in rows:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        table[cells[0].strip("`")] = cells
    matrix = v.load()["components"]
    assert set(table) == set(matrix)
    for name, entry in matrix.items():
        cells = table[name]
        assert cells[1] == "`%s`" % entry["version"], name
        assert cells[2] == "`%s`" % entry["role_variable"], name
        ids = re.findall(r"\[([^\]]+)\]\(", cells[-1])
        assert ids == [bad["id"] for bad in entry.get("known_bad") or []], name
