# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every role's meta/argument_specs.yml loads and has no entry point `attributes` key.

ansible-core 2.19 deprecates `attributes` in role argument specs and 2.20 removes it
(issue 18 item 8); what it said belongs in the entry point's description.
"""

from __future__ import annotations

import glob
import os

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPECS = sorted(glob.glob(os.path.join(ROOT, "roles", "*", "meta", "argument_specs.yml")))


def test_every_role_has_an_argument_spec():
    roles = sorted(os.path.basename(os.path.dirname(path)) for path in glob.glob(os.path.join(ROOT, "roles", "*", "tasks")))
    assert sorted(p.split(os.sep)[-3] for p in SPECS) == roles


@pytest.mark.parametrize("path", SPECS, ids=lambda p: p.split(os.sep)[-3])
def test_no_attributes_in_role_argument_specs(path):
    with open(path) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    assert specs
    for entry, spec in specs.items():
        assert "attributes" not in spec, "%s: entry point %s still has 'attributes'" % (path, entry)


def _validate(role, entry, params):
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

    with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
        spec = yaml.safe_load(handle)["argument_specs"][entry]["options"]
    return ArgumentSpecValidator(spec).validate(params)


def test_gpu_cluster_default_config_null_means_no_default_key_and_passes_the_spec():
    # documented: "null means no default key"; a dict-typed spec refused null before
    assert not _validate("gpu_cluster", "main", {"gpu_cluster_device_plugin_default_config": None}).error_messages
    assert not _validate("gpu_cluster", "main", {"gpu_cluster_device_plugin_default_config": {}}).error_messages
