# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Every device plugin config this collection writes, read by upstream's own start-up code.

dpconfigcheck (NVIDIA k8s-device-plugin v0.20.0: loadConfig, DisableResourceNamingInConfig,
validateFlags) loads:

* every entry of the ConfigMap that gpu_cluster's render mode writes, for several variable
  sets (defaults, every optional part with the per-model profiles, profiles only, full
  configs, the GPU operator path; the role's default configs are in the first), each under the environment of the rendered DaemonSet's
  device plugin container (MIG_STRATEGY, FAIL_ON_INIT_ERROR, MPS_ROOT), as the kubelet starts it;
  apply mode sends the same ConfigMap object (roles/gpu_cluster/vars/main.yml
  __gpu_cluster_config_map_manifest), checked as the API server stores it in
  tests/integration/test_gpu_cluster_apply.yml;
* docs/examples/time-slicing-*.yaml, with and without that environment;
* the per-model profiles for every memory size and share size (plugin_utils/_gpu_profiles.py
  through the module's build_config_map, as gpu_cluster plans them).

Any config upstream refuses fails the test with upstream's message.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.homelab.gpu_node.plugins.module_utils import _device_plugin as dp
from ansible_collections.homelab.gpu_node.plugins.plugin_utils import _gpu_profiles as profiles

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONVERGE = os.path.join(ROOT, "tests", "integration", "gpu_cluster", "converge.yml")
CONFIG_MAP_FILE = "configmap-nvidia-device-plugin-configs.yaml"
DAEMONSET_FILE = "daemonset-nvidia-device-plugin.yaml"

RTX3090 = "NVIDIA GeForce RTX 3090"
RENDERS = {
    "every-part-with-profiles": {
        "gpu_cluster_talos": True, "gpu_cluster_gfd_enabled": True, "gpu_cluster_dcgm_exporter_enabled": True,
        "gpu_cluster_device_plugin_profiles": True, "gpu_cluster_device_plugin_mig_strategy": "single",
        "gpu_cluster_node_taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}],
    },
    "profiles-only": {
        "gpu_cluster_device_plugin_configs": [], "gpu_cluster_device_plugin_profiles": True,
        "gpu_cluster_device_plugin_profile_share_gib": 3, "gpu_cluster_device_plugin_profile_max_replicas": 16,
    },
    "full-configs": {
        "gpu_cluster_device_plugin_configs": [
            {"model": RTX3090, "config": {
                "version": "v1", "flags": {"migStrategy": "none", "failOnInitError": True,
                                           "plugin": {"deviceIDStrategy": "index"}},
                "sharing": {"timeSlicing": {"renameByDefault": True, "failRequestsGreaterThanOne": True,
                                            "resources": [{"name": "nvidia.com/gpu", "devices": "all",
                                                           "replicas": 3}]}}}},
            {"model": "NVIDIA A2", "key": "a2-two", "time_slicing": {
                "replicas": 2, "resources": [{"name": "gpu"}, {"name": "mig-1g.5gb", "replicas": 4}]}},
        ],
        "gpu_cluster_device_plugin_default_config": {"version": "v1", "flags": {"gdsEnabled": False}},
    },
    "gpu-operator": {"gpu_cluster_distribution": "k3s", "gpu_cluster_deploy": "gpu_operator"},
}


def ansible_env():
    env = dict(os.environ)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", os.path.join(ROOT, ".cache", "collections"))
    env.setdefault("ANSIBLE_CONFIG", os.path.join(ROOT, "ansible.cfg"))
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """Render each variable set once with the role (tests/integration/gpu_cluster/converge.yml)."""
    out = {}
    playbook = os.path.join(os.path.dirname(sys.executable), "ansible-playbook")
    for name, variables in RENDERS.items():
        base = tmp_path_factory.mktemp(name)
        variables = dict(variables, gpu_cluster_mode="render", gpu_cluster_render_dir=str(base / "out"))
        varfile = base / "vars.json"
        varfile.write_text(json.dumps(variables))
        proc = subprocess.run([playbook, "-i", "localhost,", "-c", "local", CONVERGE, "-e", "@%s" % varfile],
                              capture_output=True, text=True, env=ansible_env(), check=False, cwd=ROOT)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
        out[name] = str(base / "out")
    return out


def config_map_of(directory):
    """The device plugin's ConfigMap among the rendered files (by kind and by the DaemonSet's volume)."""
    found = []
    for path in sorted(glob.glob(os.path.join(directory, "**", "*.yaml"), recursive=True)):
        with open(path) as handle:
            for doc in yaml.safe_load_all(handle):
                if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
                    found.append((path, doc))
    return found


@pytest.mark.parametrize("name", sorted(RENDERS))
def test_upstream_loads_every_rendered_config_map_entry(checker, rendered, name):
    directory = rendered[name]
    maps = [(p, d) for p, d in config_map_of(directory) if os.path.basename(p) == CONFIG_MAP_FILE]
    assert len(maps) == 1, "no device plugin ConfigMap in %s: %s" % (directory, os.listdir(directory))
    path, doc = maps[0]
    daemonset = os.path.join(directory, DAEMONSET_FILE)
    proc = checker.files([path], daemonset=daemonset if os.path.exists(daemonset) else None)
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(("ok ", "FAIL "))]
    assert len(lines) == len(doc["data"]) > 0, proc.stdout
    assert all(ln.startswith("ok ") for ln in lines), proc.stdout
    if os.path.exists(daemonset):
        assert "MIG_STRATEGY=" in proc.stdout and "MPS_ROOT=" in proc.stdout, proc.stdout


def test_the_renders_cover_what_they_claim(rendered):
    """Profiles, full configs and the default key really are in the ConfigMaps checked above."""
    def data(name):
        return [d for p, d in config_map_of(rendered[name]) if os.path.basename(p) == CONFIG_MAP_FILE][0]["data"]
    assert "default" in data("every-part-with-profiles") and "nvidia-a2" in data("every-part-with-profiles")
    assert "nvidia-geforce-rtx-4090" in data("every-part-with-profiles")  # from the profile, 24 GiB -> 4
    assert "replicas: 4" in data("every-part-with-profiles")["nvidia-geforce-rtx-4090"]
    assert "replicas: 8" in data("profiles-only")["nvidia-geforce-rtx-3090"]
    assert "renameByDefault: true" in data("full-configs")["nvidia-geforce-rtx-3090"]
    assert "mig-1g.5gb" in data("full-configs")["a2-two"]
    with open(os.path.join(rendered["every-part-with-profiles"], DAEMONSET_FILE)) as handle:
        assert "single" in handle.read()


def test_upstream_loads_the_examples(checker, rendered):
    examples = sorted(glob.glob(os.path.join(ROOT, "docs", "examples", "time-slicing-*.yaml")))
    assert examples
    plain = checker.files(examples)
    assert plain.returncode == 0, plain.stdout + plain.stderr
    as_deployed = checker.files(examples, daemonset=os.path.join(rendered["full-configs"], DAEMONSET_FILE))
    print(plain.stdout + as_deployed.stdout)
    assert as_deployed.returncode == 0, as_deployed.stdout + as_deployed.stderr
    assert plain.stdout.count("\nok ") + plain.stdout.startswith("ok ") == len(examples)


def test_upstream_loads_every_profile(checker):
    """Each profile config (replicas 1 = not shared .. max) for memory 1..96 GiB and shares of 1..24 GiB."""
    entries = {}
    for share in range(1, 25):
        for max_replicas in (2, 8, 16):
            for gib in range(1, 97):
                entry = profiles.profile("GPU %d GiB" % gib, gib * 1024, share, max_replicas)
                key = json.dumps(entry.get("config") or entry.get("time_slicing"), sort_keys=True)
                entries.setdefault(key, dict(entry, model="GPU %d" % len(entries)))
    built = dp.build_config_map(list(entries.values()))
    assert len(built["config_map"]) == len(entries) >= 16
    cases = [(key, text, {"MIG_STRATEGY": "none", "FAIL_ON_INIT_ERROR": "true", "MPS_ROOT": "/run/nvidia/mps"})
             for key, text in built["config_map"].items()]
    results = checker.load(cases)
    refused = dict((k, r["error"]) for k, r in results.items() if r["error"])
    assert not refused
