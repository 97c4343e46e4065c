# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tests for plugins/plugin_utils/_node_labels.py (the one label/taint merge, issue 18 item 2)."""

from __future__ import annotations

import pytest

from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _node_labels as nl


@pytest.mark.parametrize("model, expected", [
    ("NVIDIA GeForce RTX 4090", "rtx4090"),
    ("Tesla T4", "tesla-t4"),
    ("NVIDIA A2", "a2"),
    ("NVIDIA GeForce RTX 3060 Ti", "rtx3060-ti"),
    ("NVIDIA RTX A4000", "rtx-a4000"),
    ("Quadro RTX 5000", "quadro-rtx5000"),
    ("NVIDIA H100 80GB HBM3", "h100-80gb-hbm3"),
    ("NVIDIA GeForce GTX 1080", "gtx1080"),
    ("  NVIDIA  ", ""),
    (None, ""),
    ("X" * 80, "x" * 63),
    ("NVIDIA A100-SXM4-40GB", "a100-sxm4-40gb"),
], ids=lambda v: str(v)[:20])
def test_gpu_type_spells_models_as_the_homelab_labels_them(model, expected):
    assert nl.gpu_type(model) == expected
    if expected:
        assert nl.label_value_problem("gpu-type", expected) is None


RTX = {"present": True, "wsl": True, "gpus": [{"name": "NVIDIA GeForce RTX 4090"}],
       "labels": {"nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1", "gpu": "from-gfd"}}


def test_gpu_node_labels_from_facts():
    labels = nl.gpu_node_labels(RTX)
    assert labels == {"gpu": "from-gfd", "gpu-type": "rtx4090", "node-type": "wsl",
                      "nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1"}
    bare = dict(RTX, wsl=False, gpus=[{"name": "Tesla T4"}], labels={})
    assert nl.gpu_node_labels(bare) == {"gpu": "nvidia", "gpu-type": "tesla-t4"}
    assert nl.gpu_node_labels(bare, kernel="5.15.167.4-microsoft-standard-WSL2")["node-type"] == "wsl"
    assert nl.gpu_node_labels(bare, gpu_type_override="t4")["gpu-type"] == "t4"
    assert nl.gpu_node_labels(RTX, gpu_labels=False) == {
        "nvidia.com/gpu.present": "true", "nvidia.com/gpu.count": "1", "gpu": "from-gfd"}
    assert "nvidia.com/gpu.present" not in nl.gpu_node_labels(RTX, gfd_labels=False)


@pytest.mark.parametrize("facts", [None, {}, {"present": False}, {"present": True, "gpus": []},
                                   {"present": False, "gpus": [{"name": "Tesla T4"}]}])
def test_no_gpu_no_derived_labels(facts):
    assert nl.gpu_node_labels(facts) == {}


def test_merge_labels_later_wins_and_values_are_strings():
    assert nl.merge_labels({"a": "1", "b": True}, None, {"a": 2, "c": False, "d": None}) == \
        {"a": "2", "b": "true", "c": "false", "d": ""}


@pytest.mark.parametrize("name, allowed", [
    ("gpu", True),
    ("gpu-type", True),
    ("nvidia.com/gpu.present", True),
    ("example.com/anything", True),
    ("kubernetes.io/hostname", True),
    ("kubernetes.io/arch", True),
    ("beta.kubernetes.io/instance-type", True),
    ("topology.kubernetes.io/zone", True),
    ("failure-domain.beta.kubernetes.io/region", True),
    ("node.kubernetes.io/instance-type", True),
    ("node.kubernetes.io/gpu", True),
    ("kubelet.kubernetes.io/anything", True),
    ("team.node.kubernetes.io/gpu", True),
    ("node-role.kubernetes.io/gpu", False),
    ("node-role.kubernetes.io/worker", False),
    ("kubernetes.io/role", False),
    ("topology.kubernetes.io/rack", False),
    ("k8s.io/thing", False),
    ("sub.k8s.io/thing", False),
    ("node-restriction.kubernetes.io/gpu", False),
    ("team.node-restriction.kubernetes.io/gpu", False),
    ("notkubernetes.io/x", True),
], ids=str)
def test_which_labels_a_kubelet_may_set_at_registration(name, allowed):
    assert nl.kubelet_may_set(name) is allowed


def test_split_registration_labels():
    kubelet, api_only = nl.split_registration_labels(
        {"gpu": "nvidia", "node-role.kubernetes.io/gpu": "", "node-restriction.kubernetes.io/x": "y",
         "node.kubernetes.io/pool": "gpu"})
    assert kubelet == {"gpu": "nvidia", "node.kubernetes.io/pool": "gpu"}
    assert api_only == ["node-restriction.kubernetes.io/x", "node-role.kubernetes.io/gpu"]


@pytest.mark.parametrize("text, parsed", [
    ("nvidia.com/gpu=present:NoSchedule", {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}),
    ("dedicated:NoExecute", {"key": "dedicated", "value": "", "effect": "NoExecute"}),
    ("gpu=:PreferNoSchedule", {"key": "gpu", "value": "", "effect": "PreferNoSchedule"}),
    ({"key": "gpu", "effect": "NoSchedule", "timeAdded": None}, {"key": "gpu", "value": "", "effect": "NoSchedule"}),
])
def test_parse_taint(text, parsed):
    assert nl.parse_taint(text) == parsed
    assert nl.parse_taint(nl.taint_string(parsed)) == parsed


@pytest.mark.parametrize("text, why", [
    ("gpu=true", "not key=value:Effect"),
    ("gpu=true:Sometimes", "effect must be one of NoSchedule, PreferNoSchedule, NoExecute"),
    ("Bad_Prefix/gpu=true:NoSchedule", "prefix"),
    ("gpu=va lue:NoSchedule", "label value"),
    ("-gpu:NoSchedule", "the name must be"),
    ("a:b:NoSchedule", "not key=value:Effect"),
])
def test_bad_taints_are_refused_with_the_reason(text, why):
    with pytest.raises(nl.NodeLabelError, match=why):
        nl.parse_taint(text)
    (problem,) = nl.taint_problems([text])
    assert problem.startswith("cluster_join_node_taints: taint") and text in problem


def test_taint_problems_lists_every_problem_and_refuses_a_string():
    assert nl.taint_problems(["gpu:NoSchedule", "x", "y:Never"]) and len(nl.taint_problems(["x", "y:Never"])) == 2
    assert "must be a list" in nl.taint_problems("gpu:NoSchedule", "gpu_cluster_node_taints")[0]
    assert nl.taint_problems([]) == []


def test_label_problems_lists_every_problem():
    problems = nl.label_problems({"gpu": "nvidia", "Bad Name": "x", "ok/name": "v" * 64, "UPPER.com/x": "1",
                                  "a" * 64: "1", "fine.example.com/gpu": True})
    assert len(problems) == 4
    assert all(p.startswith("cluster_join_node_labels: label ") for p in problems)
    assert nl.label_problems(["gpu=nvidia"])[0].startswith("cluster_join_node_labels must be a mapping")


def test_normalise_taints_dedups_by_key_and_effect_the_last_value_in_the_first_place():
    assert nl.normalise_taints(["gpu=a:NoSchedule", "gpu=a:NoExecute", "gpu=b:NoSchedule"]) == [
        {"key": "gpu", "value": "b", "effect": "NoSchedule"}, {"key": "gpu", "value": "a", "effect": "NoExecute"}]


CURRENT = [
    {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"},
    {"key": "nvidia.com/gpu", "value": "old", "effect": "NoSchedule"},
    {"key": "nvidia.com/gpu", "value": "x", "effect": "NoExecute"},
]


def test_merge_taints_keeps_foreign_taints_and_replaces_ours_by_key_and_effect():
    merged = nl.merge_taints(CURRENT, ["nvidia.com/gpu=present:NoSchedule"])
    assert merged == [CURRENT[0], CURRENT[2], {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]
    # the same taint already there keeps its fields (timeAdded etc.)
    same = [{"key": "gpu", "value": "", "effect": "NoSchedule", "timeAdded": "t"}]
    assert nl.merge_taints(same, ["gpu:NoSchedule"]) == same
    assert nl.merge_taints(None, []) == []


def test_node_update_says_only_what_is_missing():
    node = {"metadata": {"name": "n", "labels": {"gpu": "nvidia", "kubernetes.io/hostname": "n"}},
            "spec": {"taints": CURRENT}}
    assert nl.node_update(node, {"gpu": "nvidia"}, ["nvidia.com/gpu=x:NoExecute"]) == {"labels": None, "taints": None}
    update = nl.node_update(node, {"gpu": "nvidia", "gpu-type": "rtx4090"}, ["nvidia.com/gpu=present:NoSchedule"])
    assert update["labels"] == {"gpu": "nvidia", "gpu-type": "rtx4090"}
    assert update["taints"][-1] == {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}
    assert CURRENT[0] in update["taints"] and CURRENT[1] not in update["taints"]
    assert nl.node_update({}, {"a": True}, []) == {"labels": {"a": "true"}, "taints": None}
    assert nl.node_update({"metadata": {"labels": {"a": "true"}}}, {"a": True}, []) == {"labels": None, "taints": None}


def test_registration_settings_for_k3s_config():
    assert nl.registration_settings({"gpu": "nvidia", "b": True}, [nl.GPU_TAINT, "gpu:NoExecute", nl.GPU_TAINT]) == {
        "node-label": ["b=true", "gpu=nvidia"],
        "node-taint": ["nvidia.com/gpu=present:NoSchedule", "gpu:NoExecute"]}
    assert nl.registration_settings({}, []) == {}


@pytest.mark.parametrize("args, name", [
    (("gpu-box", "Desktop-1", "desk"), "gpu-box"),
    (("", "Desktop-1", "desk"), "desktop-1"),
    (("", "", "Desk"), "desk"),
    ((None, None, None), ""),
])
def test_node_name(args, name):
    assert nl.node_name(*args) == name
