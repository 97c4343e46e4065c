# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""gpu_cluster_manifest_yaml: byte-stable, readable YAML for manifests."""

from __future__ import annotations

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.gpu_node.plugins.filter.gpu_cluster_manifest_yaml import FilterModule, manifest_yaml

CONFIG_MAP = {
    "data": {"b": "version: v1\nsharing:\n  timeSlicing: {}\n", "a": "version: v1"},
    "metadata": {"namespace": "ns", "name": "cm", "labels": {"z": "1", "a": "2"}},
    "kind": "ConfigMap",
    "apiVersion": "v1",
}


def test_kubernetes_keys_first_then_sorted():
    text = manifest_yaml(CONFIG_MAP)
    assert text.splitlines()[:4] == ["---", "apiVersion: v1", "kind: ConfigMap", "metadata:"]
    assert text.index("  labels:") < text.index("  name: cm") < text.index("  namespace: ns")
    assert text.index("    a: '2'") < text.index("    z: '1'")
    assert text.index("metadata:") < text.index("data:")


def test_multiline_strings_are_literal_blocks_and_round_trip():
    text = manifest_yaml(CONFIG_MAP)
    assert "  b: |\n    version: v1\n    sharing:\n" in text
    assert yaml.safe_load(text) == CONFIG_MAP


def test_same_data_same_bytes_whatever_the_dict_order():
    shuffled = {"apiVersion": "v1", "metadata": dict(reversed(list(CONFIG_MAP["metadata"].items()))),
                "kind": "ConfigMap", "data": dict(reversed(list(CONFIG_MAP["data"].items())))}
    assert manifest_yaml(shuffled) == manifest_yaml(CONFIG_MAP)


def test_sequences_are_indented_and_no_aliases():
    shared = {"key": "nvidia.com/gpu", "operator": "Exists"}
    text = manifest_yaml({"spec": {"tolerations": [shared, shared]}})
    assert "  tolerations:\n    - key: nvidia.com/gpu\n" in text
    assert "&" not in text and "*" not in text


def test_header_and_several_documents():
    text = manifest_yaml([{"kind": "A"}, {"kind": "B"}], "line one\nline two")
    assert text.startswith("# line one\n# line two\n---\nkind: A\n---\nkind: B\n")
    assert [d["kind"] for d in yaml.safe_load_all(text)] == ["A", "B"]


def test_types_are_kept():
    text = manifest_yaml({"value": 1000, "globalDefault": False, "ratio": 0.5, "empty": None, "s": "true"})
    assert yaml.safe_load(text) == {"value": 1000, "globalDefault": False, "ratio": 0.5, "empty": None, "s": "true"}
    assert "s: 'true'" in text


@pytest.mark.parametrize("bad", ["text", 3, [1]], ids=["string", "int", "list-of-int"])
def test_bad_input(bad):
    with pytest.raises(AnsibleFilterError):
        manifest_yaml(bad)


def test_unrepresentable_value():
    with pytest.raises(AnsibleFilterError, match="spec.x"):
        manifest_yaml({"spec": {"x": object()}})


def test_filter_is_registered():
    assert FilterModule().filters()["gpu_cluster_manifest_yaml"] is manifest_yaml
