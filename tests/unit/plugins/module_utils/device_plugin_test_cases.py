# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Case tables for test__device_plugin.py.

Each expected message is upstream's literal text (NVIDIA/k8s-device-plugin v0.20.0, see
shared/reference/device-plugin-config-rules.md for file:line). GPU lists have the shape of
ansible_facts.nvidia.gpus; they are hand-written, not captures.
"""

from __future__ import annotations

import copy


def _uuid(n, prefix="GPU"):
    return "%s-%08x-1111-2222-3333-%012x" % (prefix, n, n)


def gpu(index, name="NVIDIA GeForce RTX 3090", cc="8.6", mig_mode=None, migs=()):
    return {
        "index": index,
        "uuid": _uuid(index),
        "name": name,
        "pci_bus_id": "00000000:%02X:00.0" % (index + 1),
        "memory_total_mib": 24576,
        "memory_used_mib": 1,
        "compute_capability": cc,
        "mig_mode": mig_mode,
        "mig_devices": [
            {"index": "%d:%d" % (index, j), "uuid": _uuid(index * 16 + j, "MIG"), "profile": profile}
            for j, profile in enumerate(migs)
        ],
    }


RTX3090_X2 = [gpu(0), gpu(1)]  # the Talos homelab
A2 = [gpu(0, "NVIDIA A2", "8.6")]  # the RHEL 9 A2 homelab
GTX1080 = [gpu(0, "NVIDIA GeForce GTX 1080", "6.1")]
NO_CC = [gpu(0, "NVIDIA Mystery", None)]
A100_MIG_1G = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1g.10gb"] * 7)]
A100_MIG_MIXED = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1g.10gb", "1g.10gb", "3g.40gb"]),
                  gpu(1, "NVIDIA A100-SXM4-80GB", "8.0", "Disabled")]
A100_MIG_ME = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1g.10gb+me", "1g.10gb"])]
A100_MIG_TWO_PROFILES = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1g.10gb", "2g.20gb"])]
A100_MIG_EMPTY = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", [])]
A100_MIG_AND_FULL = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1g.10gb"]),
                     gpu(1, "NVIDIA A100-SXM4-80GB", "8.0", "Disabled")]
A100_MIG_CI = [gpu(0, "NVIDIA A100-SXM4-80GB", "8.0", "Enabled", ["1c.3g.40gb"])]
MIXED_MODELS = [gpu(0, "NVIDIA GeForce RTX 3090"), gpu(1, "NVIDIA GeForce RTX 3060")]

GPU_UUID = _uuid(0)
MIG_UUID = _uuid(1, "MIG")
GPU = "nvidia.com/gpu"
SHARED = "nvidia.com/gpu.shared"


def ts(*entries, **block):
    """A config with sharing.timeSlicing holding ``entries``."""
    out = dict(block)
    out["resources"] = list(entries)
    return {"version": "v1", "sharing": {"timeSlicing": out}}


def mps(*entries, **block):
    out = dict(block)
    out["resources"] = list(entries)
    return {"version": "v1", "flags": {"mpsRoot": "/run/nvidia/mps"}, "sharing": {"mps": out}}


def entry(name="nvidia.com/gpu", replicas=4, **kw):
    out = {"name": name, "replicas": replicas}
    out.update(kw)
    return out


def with_(config, path, value):
    """Copy of config with a dotted path set."""
    config = copy.deepcopy(config)
    keys = path.split(".")
    node = config
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value
    return config


SEED001 = ts(entry(replicas=4), renameByDefault=False, failRequestsGreaterThanOne=False)
# The RHEL 9 A2 homelab as written: replicas on the block, resources at top level (upstream rejects it).
SEED003_LITERAL = {
    "version": "v1",
    "sharing": {"timeSlicing": {"replicas": 2, "renameByDefault": False}},
    "resources": [{"name": "nvidia.com/gpu", "devices": "all"}],
}
SEED003_FIXED = ts(entry(replicas=2, devices="all"), renameByDefault=False)

LONG52 = "a" * 52
LONG53 = "a" * 53

# (id, config, gpus, mig_strategy, expected substring of the message, expected path prefix)
INVALID = [
    ("version-v2", {"version": "v2"}, None, None, "unknown version: v2", "version: "),
    ("version-uppercase", {"version": "V1"}, None, None, "unknown version: V1", "version: "),
    ("version-int", {"version": 1}, None, None, "unknown version: 1", "version: "),
    ("version-float", {"version": 1.0}, None, None, "unknown version: 1", "version: "),
    ("version-bool", {"version": True}, None, None, "unknown version: true", "version: "),
    ("not-a-mapping", ["version", "v1"], None, None,
     "json: cannot unmarshal array into Go value of type v1.Config", ""),
    ("ts-empty-block", {"sharing": {"timeSlicing": {}}}, None, None, "no resources specified", "sharing.timeSlicing: "),
    ("ts-null-block", {"sharing": {"timeSlicing": None}}, None, None, "no resources specified", "sharing.timeSlicing: "),
    ("ts-empty-resources", ts(), None, None, "no resources specified", "sharing.timeSlicing.resources: "),
    ("ts-null-resources", {"sharing": {"timeSlicing": {"resources": None}}}, None, None, "no resources specified",
     "sharing.timeSlicing: "),
    ("mps-empty-resources", mps(), None, None, "no resources specified", "sharing.mps.resources: "),
    ("seed003-as-written", SEED003_LITERAL, None, None, "no resources specified", "sharing.timeSlicing: "),
    ("resources-not-a-list", {"sharing": {"timeSlicing": {"resources": {"name": "gpu"}}}}, None, None,
     "json: cannot unmarshal object into Go value of type []v1.ReplicatedResource",
     "sharing.timeSlicing.resources: "),
    ("entry-not-a-mapping", ts("gpu"), None, None,
     "json: cannot unmarshal string into Go value of type map[string]json.RawMessage",
     "sharing.timeSlicing.resources[0]: "),
    ("missing-name", ts({"replicas": 4}), None, None, "no resource name specified",
     "sharing.timeSlicing.resources[0]: "),
    ("null-entry", ts(None), None, None, "no resource name specified", "sharing.timeSlicing.resources[0]: "),
    ("missing-replicas", ts({"name": "gpu"}), None, None, "no replicas specified",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-key-case-sensitive", ts({"name": "gpu", "Replicas": 3}), None, None, "no replicas specified",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-1", ts(entry(replicas=1)), None, None, "number of replicas must be >= 2",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-0", ts(entry(replicas=0)), None, None, "number of replicas must be >= 2",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-negative", ts(entry(replicas=-3)), None, None, "number of replicas must be >= 2",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-null", ts(entry(replicas=None)), None, None, "number of replicas must be >= 2",
     "sharing.timeSlicing.resources[0]: "),
    ("replicas-second-entry", ts(entry(), entry("other", 1)), None, None, "number of replicas must be >= 2",
     "sharing.timeSlicing.resources[1]: "),
    ("replicas-string", ts(entry(replicas="4")), None, None,
     "json: cannot unmarshal string into Go value of type int", "sharing.timeSlicing.resources[0].replicas: "),
    ("replicas-fraction", ts(entry(replicas=2.5)), None, None,
     "json: cannot unmarshal number 2.5 into Go value of type int", "sharing.timeSlicing.resources[0].replicas: "),
    ("replicas-bool", ts(entry(replicas=True)), None, None,
     "json: cannot unmarshal bool into Go value of type int", "sharing.timeSlicing.resources[0].replicas: "),
    ("name-too-long", ts(entry(LONG53)), None, None,
     "fully-qualified resource name must be 63 characters or less: nvidia.com/" + LONG53,
     "sharing.timeSlicing.resources[0].name: "),
    ("name-uppercase", ts(entry("GPU")), None, None, "incorrect format for resource name 'nvidia.com/GPU': [a "
     "lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
     "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
     "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')]",
     "sharing.timeSlicing.resources[0].name: "),
    ("name-underscore", ts(entry("my_gpu")), None, None, "incorrect format for resource name 'nvidia.com/my_gpu'",
     "sharing.timeSlicing.resources[0].name: "),
    ("name-leading-dash", ts(entry("-gpu")), None, None, "incorrect format for resource name 'nvidia.com/-gpu'",
     "sharing.timeSlicing.resources[0].name: "),
    ("name-trailing-dot", ts(entry("gpu.")), None, None, "incorrect format for resource name 'nvidia.com/gpu.'",
     "sharing.timeSlicing.resources[0].name: "),
    ("name-foreign-prefix", ts(entry("example.com/gpu")), None, None,
     "incorrect format for resource name 'nvidia.com/example.com/gpu'", "sharing.timeSlicing.resources[0].name: "),
    ("name-empty", ts(entry("")), None, None, "incorrect format for resource name 'nvidia.com/'",
     "sharing.timeSlicing.resources[0].name: "),
    ("name-number", ts(entry(5)), None, None, "json: cannot unmarshal number into Go value of type string",
     "sharing.timeSlicing.resources[0].name: "),
    ("rename-invalid", ts(entry(rename="Shared_GPU")), None, None,
     "incorrect format for resource name 'nvidia.com/Shared_GPU'", "sharing.timeSlicing.resources[0].rename: "),
    ("rename-too-long", ts(entry(rename=LONG53)), None, None,
     "fully-qualified resource name must be 63 characters or less", "sharing.timeSlicing.resources[0].rename: "),
    ("devices-other-string", ts(entry(devices="some")), None, None,
     "devices set as 'some' but the only valid string input is 'all'", "sharing.timeSlicing.resources[0].devices: "),
    ("devices-All-case", ts(entry(devices="All")), None, None,
     "devices set as 'All' but the only valid string input is 'all'", "sharing.timeSlicing.resources[0].devices: "),
    ("devices-null", ts(entry(devices=None)), None, None,
     "devices set as '' but the only valid string input is 'all'", "sharing.timeSlicing.resources[0].devices: "),
    ("devices-zero", ts(entry(devices=0)), None, None, "devices set as '0' but a count of devices must be > 0",
     "sharing.timeSlicing.resources[0].devices: "),
    ("devices-negative", ts(entry(devices=-2)), None, None, "devices set as '-2' but a count of devices must be > 0",
     "sharing.timeSlicing.resources[0].devices: "),
    ("devices-bool", ts(entry(devices=True)), None, None, "unrecognized type for devices spec: true",
     "sharing.timeSlicing.resources[0].devices: "),
    ("devices-map", ts(entry(devices={"b": 1, "a": "x"})), None, None,
     'unrecognized type for devices spec: {"a":"x","b":1}', "sharing.timeSlicing.resources[0].devices: "),
    ("devices-fraction", ts(entry(devices=1.5)), None, None, "unrecognized type for devices spec: 1.5",
     "sharing.timeSlicing.resources[0].devices: "),
    ("devices-list-negative", ts(entry(devices=[-1])), None, None,
     "unsupported type for device in devices list: , string", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-bool", ts(entry(devices=[0, True])), None, None,
     "unsupported type for device in devices list: , string", "sharing.timeSlicing.resources[0].devices[1]: "),
    ("devices-list-bad-uuid", ts(entry(devices=["GPU-1234"])), None, None,
     "unsupported type for device in devices list: GPU-1234, string", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-lowercase-prefix", ts(entry(devices=[GPU_UUID.replace("GPU-", "gpu-")])), None, None,
     "unsupported type for device in devices list: gpu-", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-mig-index-3-parts", ts(entry(devices=["0:1:2"])), None, None,
     "unsupported type for device in devices list: 0:1:2, string", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-signed-index", ts(entry(devices=["+1"])), None, None,
     "unsupported type for device in devices list: +1, string", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-mig-uuid-short", ts(entry(devices=["MIG-%s/1" % GPU_UUID])), None, None,
     "unsupported type for device in devices list: MIG-%s/1, string" % GPU_UUID,
     "sharing.timeSlicing.resources[0].devices[0]: "),
    ("devices-list-name", ts(entry(devices=["all"])), None, None,
     "unsupported type for device in devices list: all, string", "sharing.timeSlicing.resources[0].devices[0]: "),
    ("rename-by-default-string", ts(entry(), renameByDefault="yes"), None, None,
     "json: cannot unmarshal string into Go value of type bool", "sharing.timeSlicing.renameByDefault: "),
    ("fail-requests-number", ts(entry(), failRequestsGreaterThanOne=1), None, None,
     "json: cannot unmarshal number into Go value of type bool", "sharing.timeSlicing.failRequestsGreaterThanOne: "),
    ("global-resources-no-pattern", {"resources": {"gpus": [{"name": "gpu"}]}}, None, None,
     "resources must have a 'pattern' field set", "resources.gpus[0]: "),
    ("global-resources-no-name", {"resources": {"mig": [{"pattern": "1g.10gb"}]}}, None, None,
     "resources must have a 'name' field set", "resources.mig[0]: "),
    ("global-resources-bad-name", {"resources": {"gpus": [{"pattern": "*", "name": "A_B"}]}}, None, None,
     "incorrect format for resource name 'nvidia.com/A_B'", "resources.gpus[0].name: "),
    ("global-resources-a-list", {"resources": [{"name": "gpu"}]}, None, None,
     "json: cannot unmarshal array into Go struct field Config.resources of type v1.Resources", "resources: "),
    ("flag-bool-type", {"flags": {"failOnInitError": "yes"}}, None, None,
     "json: cannot unmarshal string into Go struct field", "flags.failOnInitError: "),
    # A custom decoder error stops the parse and wins over an earlier (deferred) Go type error.
    ("decoder-error-wins-over-type-error", dict(ts(entry(replicas=1)), flags={"failOnInitError": "yes"}), None, None,
     "number of replicas must be >= 2", "sharing.timeSlicing.resources[0]: "),
    # Parse errors come before the version check.
    ("parse-error-before-version", with_(ts(entry(replicas=0)), "version", "v9"), None, None,
     "number of replicas must be >= 2", "sharing.timeSlicing.resources[0]: "),
    ("device-list-strategy-invalid", {"flags": {"plugin": {"deviceListStrategy": ["envvar", "files"]}}}, None, None,
     "invalid --device-list-strategy option: invalid strategy: files", "flags.plugin.deviceListStrategy: "),
    ("device-list-strategy-type", {"flags": {"plugin": {"deviceListStrategy": 5}}}, None, None,
     "invalid deviceListStrategy: 5", "flags.plugin.deviceListStrategy: "),
    ("device-id-strategy", {"flags": {"plugin": {"deviceIDStrategy": "serial"}}}, None, None,
     "invalid --device-id-strategy option: serial", "flags.plugin.deviceIDStrategy: "),
    ("allocation-policy", {"flags": {"plugin": {"sharedDevicesAllocationPolicy": "spread"}}}, None, None,
     "invalid --shared-devices-allocation-policy option: spread", "flags.plugin.sharedDevicesAllocationPolicy: "),
    ("discovery-strategy-vfio", {"flags": {"deviceDiscoveryStrategy": "vfio"}}, None, None,
     "invalid --device-discovery-strategy option vfio", "flags.deviceDiscoveryStrategy: "),
    ("mig-strategy-case", {"flags": {"migStrategy": "MIXED"}}, None, None, "unknown MIG strategy: MIXED",
     "flags.migStrategy: "),
    ("mig-strategy-empty", {"flags": {"migStrategy": ""}}, None, None, "unknown MIG strategy: ",
     "flags.migStrategy: "),
    ("imex-channels", {"imex": {"channelIDs": [0, 1]}}, None, None,
     "invalid IMEX channel IDs: invalid IMEX config: channelIDs must be [] or [0]; found [0 1]", "imex.channelIDs: "),
    ("sleep-interval-bad", {"flags": {"gfd": {"sleepInterval": "abc"}}}, None, None,
     'time: invalid duration "abc"', "flags.gfd.sleepInterval: "),
    ("sleep-interval-no-unit", {"flags": {"gfd": {"sleepInterval": "10"}}}, None, None,
     'time: missing unit in duration "10"', "flags.gfd.sleepInterval: "),
    ("sleep-interval-unit", {"flags": {"gfd": {"sleepInterval": "5d"}}}, None, None,
     'time: unknown unit "d" in duration "5d"', "flags.gfd.sleepInterval: "),
    ("sleep-interval-bool", {"flags": {"gfd": {"sleepInterval": True}}}, None, None, "invalid duration",
     "flags.gfd.sleepInterval: "),
    ("mps-mixed-option", mps(entry(replicas=4)), RTX3090_X2, "mixed",
     "using --mig-strategy=mixed is not supported with MPS", "sharing.mps: "),
    ("mps-mixed-flag", with_(mps(entry(replicas=4)), "flags.migStrategy", "mixed"), None, None,
     "using --mig-strategy=mixed is not supported with MPS", "sharing.mps: "),
    ("mps-over-48", mps(entry(replicas=49)), RTX3090_X2, None,
     "invalid MPS configuration: invalid device maximum allowed replicas exceeded: 49 > 48",
     "sharing.mps.resources[0]: "),
    ("mps-over-16-pascal", mps(entry(replicas=17)), GTX1080, None,
     "invalid MPS configuration: invalid device maximum allowed replicas exceeded: 17 > 16",
     "sharing.mps.resources[0]: "),
    ("mps-over-48-unknown-cc", mps(entry(replicas=49)), NO_CC, None,
     "maximum allowed replicas exceeded: 49 > 48", "sharing.mps.resources[0]: "),
    ("mps-on-mig-devices", mps(entry(replicas=2)), A100_MIG_1G, "single",
     "sharing using MPS is not supported for MIG devices", "sharing.mps: "),
    # Both blocks: MPS is applied (and validated against the node) even with time-slicing present.
    ("both-blocks-mps-limit", dict(mps(entry(replicas=60)), sharing={"timeSlicing": {"resources": [entry()]},
                                                                     "mps": {"resources": [entry(replicas=60)]}}),
     RTX3090_X2, None, "maximum allowed replicas exceeded: 60 > 48", "sharing.mps.resources[0]: "),
    ("both-blocks-invalid-ts", {"sharing": {"mps": {"resources": [entry()]}, "timeSlicing": {"resources": []}}},
     None, None, "no resources specified", "sharing.timeSlicing.resources: "),
    ("single-mixed-mig-modes", ts(entry()), A100_MIG_AND_FULL, "single",
     "all devices on the node must be configured with the same migEnabled value", "gpus: "),
    ("single-two-profiles", ts(entry()), A100_MIG_TWO_PROFILES, "single",
     "more than one MIG device type present on node", "gpus: "),
    ("single-empty-mig-gpu", ts(entry()), A100_MIG_EMPTY, "single", "device 0 has no MIG devices configured",
     "gpus[0]: "),
    ("mixed-ci-profile", ts(entry()), A100_MIG_CI, "mixed",
     "MIG profile '1c.3g.40gb' does not match any resource patterns", "gpus[0]: "),
]


# (id, config, gpus, mig_strategy, wsl, capacity, labels subset, warning substrings)
VALID = [
    ("seed001-rtx3090-x2", SEED001, RTX3090_X2, None, False, {GPU: 8},
     {"nvidia.com/gpu.replicas": "4", "nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090-SHARED",
      "nvidia.com/gpu.sharing-strategy": "time-slicing", "nvidia.com/gpu.count": "2"},
     ["failRequestsGreaterThanOne is false"]),
    ("seed003-a2", SEED003_FIXED, A2, None, False, {GPU: 2},
     {"nvidia.com/gpu.replicas": "2", "nvidia.com/gpu.product": "NVIDIA-A2-SHARED",
      "nvidia.com/gpu.sharing-strategy": "time-slicing"},
     ["failRequestsGreaterThanOne is unset"]),
    ("empty-config", {}, RTX3090_X2, None, False, {GPU: 2},
     {"nvidia.com/gpu.replicas": "1", "nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090",
      "nvidia.com/gpu.sharing-strategy": "none"}, []),
    ("none-config", None, A2, None, False, {GPU: 1}, {"nvidia.com/gpu.replicas": "1"}, []),
    ("version-empty-is-v1", {"version": ""}, A2, None, False, {GPU: 1}, {}, []),
    ("no-gpus-on-node", SEED001, [], None, False, {}, {}, []),
    ("rename-by-default", ts(entry(), renameByDefault=True, failRequestsGreaterThanOne=True), RTX3090_X2, None,
     False, {SHARED: 8},
     {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090", "nvidia.com/gpu.replicas": "4",
      "nvidia.com/gpu.sharing-strategy": "time-slicing"}, []),
    ("custom-rename-ignored", ts(entry(rename="gpu-shared")), RTX3090_X2, None, False, {GPU: 8},
     {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090-SHARED"},
     ["resources[0].rename: Setting the 'rename' field in sharing.timeSlicing.resources is not yet supported"]),
    ("custom-rename-with-rename-by-default", ts(entry(rename="gpu-shared"), renameByDefault=True), RTX3090_X2, None,
     False, {SHARED: 8}, {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090"},
     ["renameByDefault advertises nvidia.com/gpu as nvidia.com/gpu.shared, not nvidia.com/gpu-shared"]),
    # Two renames onto one target: upstream has no collision check and drops both renames.
    ("rename-collision", ts(entry(rename="shared"), entry("mig-1g.10gb", 2, rename="shared")), RTX3090_X2, None,
     False, {GPU: 8}, {}, ["resources[0].rename:", "resources[1].rename:",
                           "no device on this node is advertised as nvidia.com/mig-1g.10gb"]),
    ("devices-index-list-ignored", ts(entry(devices=[0])), RTX3090_X2, None, False, {GPU: 8}, {},
     ["resources[0].devices: Customizing the 'devices' field in sharing.timeSlicing.resources is not yet supported"]),
    ("devices-count-larger-than-node", ts(entry(devices=5)), A2, None, False, {GPU: 4}, {},
     ["every device of nvidia.com/gpu is replicated"]),
    ("devices-uuid-list", ts(entry(devices=[GPU_UUID, "1", 1])), RTX3090_X2, None, False, {GPU: 8}, {},
     ["Customizing the 'devices' field"]),
    ("devices-unknown-uuid-no-error", ts(entry(devices=[_uuid(99)])), RTX3090_X2, None, False, {GPU: 8}, {},
     ["Customizing the 'devices' field"]),
    # google/uuid forms: canonical, 32 hex digits, {braced}, urn:uuid:; MIG index and both MIG UUID forms.
    ("devices-mig-forms", ts(entry(devices=["0:1", MIG_UUID, "MIG-%s/3/0" % GPU_UUID,
                                            "GPU-" + GPU_UUID[4:].replace("-", ""),
                                            "GPU-{%s}" % GPU_UUID[4:], "GPU-urn:uuid:%s" % GPU_UUID[4:]])),
     RTX3090_X2, None, False, {GPU: 8}, {}, ["Customizing the 'devices' field"]),
    ("devices-null-item-is-index-0", ts(entry(devices=[None])), A2, None, False, {GPU: 4}, {},
     ["Customizing the 'devices' field"]),
    ("duplicate-names-merge", ts(entry(replicas=2), entry("gpu", 4)), RTX3090_X2, None, False, {GPU: 8},
     {"nvidia.com/gpu.replicas": "2"}, ["duplicate resource name nvidia.com/gpu"]),
    ("duplicate-names-merge-rename", ts(entry(replicas=6), entry("gpu", 3), renameByDefault=True), A2, None, False,
     {SHARED: 6}, {"nvidia.com/gpu.replicas": "6"}, ["upstream merges the entries"]),
    ("name-52-chars", ts(entry(LONG52)), A2, None, False, {GPU: 1}, {"nvidia.com/gpu.replicas": "1"},
     ["no device on this node is advertised as nvidia.com/" + LONG52]),
    ("time-slicing-100-replicas", ts(entry(replicas=100)), A2, None, False, {GPU: 100}, {}, []),
    ("mps", mps(entry(replicas=4)), RTX3090_X2, None, False, {GPU: 8},
     {"nvidia.com/gpu.sharing-strategy": "mps", "nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090-SHARED"},
     ["limited to 1/4 of the GPU's memory and compute"]),
    ("mps-48-ampere", mps(entry(replicas=48)), RTX3090_X2, None, False, {GPU: 96}, {}, []),
    ("mps-16-pascal", mps(entry(replicas=16)), GTX1080, None, False, {GPU: 16}, {}, []),
    ("mps-unknown-cc-warns", mps(entry(replicas=20)), NO_CC, None, False, {GPU: 20}, {},
     ["has no known compute capability"]),
    ("mps-without-root-warns", {"sharing": {"mps": {"resources": [entry(replicas=2)]}}}, A2, None, False, {GPU: 2},
     {}, ["using MPS requires --mps-root to be specified"]),
    ("mps-wsl-limit-16-ok", mps(entry(replicas=16)), RTX3090_X2, None, True, {GPU: 16}, {}, []),
    ("both-blocks-mps-wins", {"flags": {"mpsRoot": "/run/nvidia/mps"},
                              "sharing": {"timeSlicing": {"resources": [entry("gpu", 10)]},
                                          "mps": {"resources": [entry("gpu", 3)]}}},
     A2, None, False, {GPU: 3}, {"nvidia.com/gpu.sharing-strategy": "mps", "nvidia.com/gpu.replicas": "3"},
     ["ignores sharing.timeSlicing entirely"]),
    # MPS present for another resource: time-slicing of nvidia.com/gpu is still ignored.
    ("mps-other-resource-drops-ts", {"flags": {"mpsRoot": "/x"},
                                     "sharing": {"timeSlicing": {"resources": [entry("gpu", 10)]},
                                                 "mps": {"resources": [entry("other", 3)]}}},
     A2, None, False, {GPU: 1}, {"nvidia.com/gpu.replicas": "1", "nvidia.com/gpu.sharing-strategy": "none",
                                 "nvidia.com/gpu.product": "NVIDIA-A2"},
     ["upstream supports MPS only for nvidia.com/gpu"]),
    ("wsl-one-device", SEED001, RTX3090_X2, None, True, {GPU: 4}, {}, []),
    ("mig-none-counts-full-gpu", ts(entry(replicas=3)), A100_MIG_1G, None, False, {GPU: 3},
     {"nvidia.com/gpu.replicas": "0", "nvidia.com/gpu.sharing-strategy": "none",
      "nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}, []),
    ("mig-single", ts(entry(replicas=2)), A100_MIG_1G, "single", False, {GPU: 14},
     {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb-SHARED", "nvidia.com/gpu.count": "7",
      "nvidia.com/gpu.replicas": "2", "nvidia.com/mig.strategy": "single"}, []),
    ("mig-single-from-flags", with_(ts(entry(replicas=2)), "flags.migStrategy", "single"), A100_MIG_1G, None,
     False, {GPU: 14}, {"nvidia.com/mig.strategy": "single"}, []),
    ("mig-option-overrides-flags", with_(ts(entry(replicas=2)), "flags.migStrategy", "single"), A100_MIG_1G, "none",
     False, {GPU: 2}, {}, ["is overridden by mig_strategy=none"]),
    ("mig-mixed", ts(entry("mig-1g.10gb", 3)), A100_MIG_MIXED, "mixed", False,
     {GPU: 1, "nvidia.com/mig-1g.10gb": 6, "nvidia.com/mig-3g.40gb": 1},
     {"nvidia.com/mig-1g.10gb.product": "NVIDIA-A100-SXM4-80GB-MIG-1g.10gb-SHARED",
      "nvidia.com/mig-1g.10gb.replicas": "3", "nvidia.com/mig-1g.10gb.count": "2",
      "nvidia.com/mig-3g.40gb.replicas": "1", "nvidia.com/mig-3g.40gb.product": "NVIDIA-A100-SXM4-80GB-MIG-3g.40gb",
      "nvidia.com/gpu.replicas": "1", "nvidia.com/mig.strategy": "mixed"}, []),
    ("mig-mixed-media-extension", ts(entry("mig-1g.10gb.me", 2)), A100_MIG_ME, "mixed", False,
     {"nvidia.com/mig-1g.10gb.me": 2, "nvidia.com/mig-1g.10gb": 1}, {}, []),
    ("mig-mixed-rename", ts(entry("mig-1g.10gb", 2), renameByDefault=True), A100_MIG_MIXED, "mixed", False,
     {GPU: 1, "nvidia.com/mig-1g.10gb.shared": 4, "nvidia.com/mig-3g.40gb": 1}, {}, []),
    ("mixed-models-label-warning", SEED001, MIXED_MODELS, None, False, {GPU: 8},
     {"nvidia.com/gpu.product": "NVIDIA-GeForce-RTX-3090-SHARED"}, ["several GPU models on one node"]),
    ("case-insensitive-struct-keys", {"Version": "v1", "SHARING": {"timeslicing": {"resources": [entry()]}}},
     A2, None, False, {GPU: 4}, {"nvidia.com/gpu.replicas": "4"}, []),
    ("typo-silently-disables", {"version": "v1", "sharing": {"timeslice": {"resources": [entry()]}}}, A2, None,
     False, {GPU: 1}, {"nvidia.com/gpu.sharing-strategy": "none"}, ["sharing.timeslice: unknown key"]),
    ("entry-key-typo", ts(entry(Devices=[0])), A2, None, False, {GPU: 4}, {},
     ["did you mean 'devices'"]),
    ("global-resources-ignored", dict(SEED001, resources={"gpus": [{"pattern": "*3090*", "name": "rtx3090"}]}),
     RTX3090_X2, None, False, {GPU: 8}, {}, ["Customizing the 'resources' field is not yet supported"]),
    ("flags-valid", {"flags": {"migStrategy": "none", "failOnInitError": True, "plugin": {
        "deviceListStrategy": ["envvar", "cdi-cri"], "deviceIDStrategy": "index",
        "sharedDevicesAllocationPolicy": "packed"}, "gfd": {"sleepInterval": "1m30.5s"}},
        "imex": {"channelIDs": [0], "required": True}},
     A2, None, False, {GPU: 1}, {}, ["CDI --device-list-strategy options are only supported on NVML-based systems"]),
    ("sleep-interval-forms", {"flags": {"gfd": {"sleepInterval": "infinite"}}}, None, None, False, {}, {}, []),
    ("sleep-interval-number", {"flags": {"gfd": {"sleepInterval": 60000000000}}}, None, None, False, {}, {}, []),
]
