#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nvidia_device_plugin_config
short_description: Validate an NVIDIA device plugin config and predict what a node will advertise
version_added: 0.1.0
description:
  - "Validates a config file of the NVIDIA Kubernetes device plugin (C(api/config/v1)) the way the plugin
    v0.20.0 parses it, and fails with upstream's own error message prefixed with the path of the field,
    for example C(sharing.timeSlicing.resources[0]: number of replicas must be >= 2)."
  - Returns the normalised config, the YAML text to put in the ConfigMap (same input, same bytes), the
    capacity a node with O(gpus) will advertise, and the sharing labels GPU feature discovery will write.
  - Predictions follow what upstream really does rather than what the config seems to ask for. Upstream
    validates C(devices) and C(rename) of each sharing entry and then ignores them, so every device of the
    named resource is replicated and only C(renameByDefault) (C(<name>.shared)) renames. When C(sharing.mps)
    is present, C(sharing.timeSlicing) is ignored. Duplicate resource names are merged. Each of these
    situations gives a warning.
  - Unknown keys are ignored upstream, so a typo such as C(timeslice) silently disables sharing. This module
    warns about each unknown key.
  - With O(per_model), builds one ConfigMap with one key per GPU model and the node label
    C(nvidia.com/device-plugin.config=<key>) for each host in O(hosts_gpus).
  - The module is pure. It never touches the host and never reports a change.
author:
  - homelab.gpu_node contributors (@homelab)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only computes; check mode returns the same result as a normal run.
  diff_mode:
    support: none
  platform:
    platforms: all
options:
  config:
    description:
      - The device plugin config file as a dictionary, for example read with the C(ansible.builtin.file)
        lookup and the C(from_yaml) filter.
      - An empty dictionary is valid (an empty file is an empty v1 config).
      - Mutually exclusive with O(time_slicing). With O(per_model) it becomes the ConfigMap entry C(default).
    type: dict
  time_slicing:
    description:
      - Shorthand for a time-slicing config, expanded to C(version=v1) and C(sharing.timeSlicing), then
        validated like O(config). Error messages name the field of the expanded config, for example
        C(sharing.timeSlicing.resources[0]).
      - Mutually exclusive with O(config). With O(per_model) it becomes the ConfigMap entry C(default).
    type: dict
    suboptions:
      replicas:
        description:
          - Replicas per device, used for every entry of O(time_slicing.resources) that sets none. Upstream
            requires at least 2.
        type: int
      rename_by_default:
        description:
          - Advertise shared resources as C(<name>.shared) (C(renameByDefault)).
          - When not set, the key is omitted, which upstream reads as V(false).
        type: bool
      fail_requests_greater_than_one:
        description:
          - Reject containers that request more than one share (C(failRequestsGreaterThanOne)).
          - When not set, the key is omitted, which upstream reads as V(false) for time-slicing.
        type: bool
      resources:
        description:
          - Entries of C(sharing.timeSlicing.resources). When not given, one entry for C(nvidia.com/gpu).
        type: list
        elements: dict
        suboptions:
          name:
            description:
              - Resource name. The C(nvidia.com/) prefix is added when it is missing.
            type: str
            required: true
          devices:
            description:
              - V(all), a positive count, or a list of GPU indexes, MIG indexes (C(0:1)), GPU or MIG UUIDs.
              - Upstream v0.20.0 validates this and then ignores it, replicating every device (a warning says so).
            type: raw
          replicas:
            description:
              - Replicas per device for this entry; defaults to O(time_slicing.replicas).
            type: int
          rename:
            description:
              - Custom name for the shared resource. Validated, then ignored upstream (a warning says so).
            type: str
  gpus:
    description:
      - The GPUs of the node, in the shape of C(ansible_facts.nvidia.gpus) from
        M(homelab.gpu_node.nvidia_smi_facts). Each item uses C(index), C(uuid), C(name),
        C(compute_capability), C(mig_mode) and C(mig_devices) (C(index), C(uuid), C(profile)); other keys
        are ignored.
      - Needed for RV(capacity), RV(labels), the MIG checks of the plugin and the MPS replica limit.
      - Not used with O(per_model), which takes O(hosts_gpus).
    type: list
    elements: dict
  mig_strategy:
    description:
      - The MIG strategy the plugin runs with (CLI flag, environment variable or Helm value C(migStrategy)),
        which wins over C(flags.migStrategy) in the file.
      - When not set, C(flags.migStrategy) from the config is used, else V(none).
    type: str
    choices: [none, single, mixed]
  wsl:
    description:
      - The node is a WSL2 distribution. Since device plugin v0.19.1 all GPUs of a WSL node are one device
        C(all) backed by C(/dev/dxg), so capacity is one device times the replicas.
      - Use C(ansible_facts.nvidia.wsl). Not used with O(per_model), which reads C(wsl) from O(hosts_gpus).
    type: bool
    default: false
  per_model:
    description:
      - One config per GPU model, for a cluster with several kinds of GPU nodes.
      - Each entry becomes a key of RV(config_map); the key is O(per_model[].key) or the model name in lower
        case with runs of other characters turned into C(-) (C(NVIDIA GeForce RTX 3090) gives
        C(nvidia-geforce-rtx-3090)).
      - Hosts are matched by the name of their first GPU; names compare case-insensitively, with spaces and
        C(-) treated alike.
    type: list
    elements: dict
    suboptions:
      model:
        description:
          - The GPU name as C(nvidia-smi) reports it, for example C(NVIDIA GeForce RTX 3090).
        type: str
        required: true
      key:
        description:
          - ConfigMap key and label value to use instead of the derived one (lower case DNS-1123, at most
            63 characters).
        type: str
      config:
        description:
          - The config for this model, as in O(config).
        type: dict
      time_slicing:
        description:
          - The shorthand for this model, as in O(time_slicing).
        type: dict
        suboptions:
          replicas:
            description:
              - Replicas per device, used for every entry of O(per_model[].time_slicing.resources) that sets none.
            type: int
          rename_by_default:
            description:
              - Advertise shared resources as C(<name>.shared) (C(renameByDefault)).
            type: bool
          fail_requests_greater_than_one:
            description:
              - Reject containers that request more than one share (C(failRequestsGreaterThanOne)).
            type: bool
          resources:
            description:
              - Entries of C(sharing.timeSlicing.resources). When not given, one entry for C(nvidia.com/gpu).
            type: list
            elements: dict
            suboptions:
              name:
                description:
                  - Resource name. The C(nvidia.com/) prefix is added when it is missing.
                type: str
                required: true
              devices:
                description:
                  - V(all), a positive count, or a list of device references; validated, then ignored upstream.
                type: raw
              replicas:
                description:
                  - Replicas per device for this entry; defaults to O(per_model[].time_slicing.replicas).
                type: int
              rename:
                description:
                  - Custom name for the shared resource; validated, then ignored upstream.
                type: str
  hosts_gpus:
    description:
      - With O(per_model), the GPUs of each host, a dictionary keyed by host name. Each value is either a list
        as in O(gpus) or the whole C(ansible_facts.nvidia) dictionary (then its C(wsl) flag is used too).
      - A host whose model has no O(per_model) entry is labelled C(default) when O(config) or O(time_slicing)
        is given, otherwise it gets no label.
    type: dict
notes:
  - Reproduces device plugin v0.20.0 (api/config/v1, cmd/nvidia-device-plugin validateFlags, the MIG checks
    of internal/rm, the MPS limits of the MPS control daemon, GFD's sharing labels).
  - Not reproduced, because they depend on the deployment rather than the file; both are warnings instead
    of failures. The plugin needs an MPS root for MPS (the Helm chart always exports C(MPS_ROOT)), and CDI
    device list strategies need NVML on the node.
  - The plugin reads its config only at start; restart it after a change unless the config-manager
    sidecar is deployed.
seealso:
  - name: NVIDIA device plugin, shared access to GPUs
    description: Upstream documentation of time-slicing and MPS.
    link: https://github.com/NVIDIA/k8s-device-plugin#shared-access-to-gpus
"""

EXAMPLES = r"""
- name: Gather GPU facts
  homelab.gpu_node.nvidia_smi_facts:

- name: Check a time-slicing config for this node (4 shares per RTX 3090)
  homelab.gpu_node.nvidia_device_plugin_config:
    time_slicing:
      replicas: 4
      fail_requests_greater_than_one: true
    gpus: "{{ ansible_facts.nvidia.gpus }}"
    wsl: "{{ ansible_facts.nvidia.wsl }}"
  register: dp

- name: Show what the node will advertise
  ansible.builtin.debug:
    msg: "{{ dp.capacity }}"

- name: Validate a config file kept in the repository
  homelab.gpu_node.nvidia_device_plugin_config:
    config: "{{ lookup('ansible.builtin.file', 'files/time-slicing.yaml') | from_yaml }}"
  delegate_to: localhost
  run_once: true

- name: One ConfigMap for all GPU nodes, one key per GPU model
  homelab.gpu_node.nvidia_device_plugin_config:
    per_model:
      - model: NVIDIA GeForce RTX 3090
        time_slicing:
          replicas: 4
      - model: NVIDIA A2
        time_slicing:
          replicas: 2
    # {host: ansible_facts.nvidia} for every GPU node
    hosts_gpus: >-
      {{ dict(groups['gpu_nodes']
         | zip(groups['gpu_nodes'] | map('extract', hostvars, ['ansible_facts', 'nvidia']))) }}
  delegate_to: localhost
  run_once: true
  register: dp_map

- name: Put the configs in a ConfigMap
  kubernetes.core.k8s:
    state: present
    definition:
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: nvidia-device-plugin-configs
        namespace: nvidia-device-plugin
      data: "{{ dp_map.config_map }}"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
config:
  description: The normalised config (version set, names fully qualified, C(devices) defaulted to V(all),
    unknown keys dropped), keys in upstream's order.
  returned: when O(config) or O(time_slicing) is given
  type: dict
  sample:
    version: v1
    sharing:
      timeSlicing:
        renameByDefault: false
        failRequestsGreaterThanOne: true
        resources:
          - name: nvidia.com/gpu
            devices: all
            replicas: 4
config_yaml:
  description: RV(config) as YAML, the text to store in the ConfigMap. The same input always gives the same bytes.
  returned: when O(config) or O(time_slicing) is given
  type: str
  sample: |
    version: v1
    sharing:
      timeSlicing:
        renameByDefault: false
        resources:
          - name: nvidia.com/gpu
            devices: all
            replicas: 4
capacity:
  description:
    - Resource name to the count the node advertises (devices times replicas, after upstream's renames).
    - Empty when O(gpus) is not given.
  returned: when O(config) or O(time_slicing) is given
  type: dict
  sample: {"nvidia.com/gpu": 8}
labels:
  description:
    - Sharing labels GFD writes for the node, such as C(nvidia.com/gpu.replicas), C(nvidia.com/gpu.product)
      (with C(-SHARED) when shared and not renamed), C(nvidia.com/gpu.sharing-strategy)
      (V(none), V(time-slicing) or V(mps)) and C(nvidia.com/gpu.count).
    - Empty when O(gpus) is not given.
  returned: when O(config) or O(time_slicing) is given
  type: dict
  sample:
    nvidia.com/gpu.count: "2"
    nvidia.com/gpu.product: NVIDIA-GeForce-RTX-3090-SHARED
    nvidia.com/gpu.replicas: "4"
    nvidia.com/gpu.sharing-strategy: time-slicing
sharing_strategy:
  description: The sharing strategy upstream applies.
  returned: when O(config) or O(time_slicing) is given
  type: str
  sample: time-slicing
mig_strategy:
  description: The MIG strategy used for the prediction (O(mig_strategy), else C(flags.migStrategy), else V(none)).
  returned: when O(config) or O(time_slicing) is given
  type: str
  sample: none
warnings:
  description: What upstream will silently ignore or change, and sharing caveats. Also shown as task warnings.
  returned: when there is something to warn about
  type: list
  elements: str
  sample:
    - "sharing.timeSlicing.resources[0].devices: Customizing the 'devices' field in sharing.timeSlicing.resources
      is not yet supported in the config. Ignoring... every device of nvidia.com/gpu is replicated"
config_map:
  description: ConfigMap C(data) with one key per O(per_model) entry (plus C(default)), each holding config YAML.
  returned: when O(per_model) is given
  type: dict
  sample:
    nvidia-geforce-rtx-3090: |
      version: v1
      sharing:
        timeSlicing:
          renameByDefault: false
          resources:
            - name: nvidia.com/gpu
              devices: all
              replicas: 4
node_labels:
  description: For each host of O(hosts_gpus) that has a config, the label selecting its ConfigMap key.
  returned: when O(per_model) is given
  type: dict
  sample: {"node1": {"nvidia.com/device-plugin.config": "nvidia-geforce-rtx-3090"}}
capacity_by_host:
  description: RV(capacity) for each labelled host of O(hosts_gpus).
  returned: when O(per_model) is given
  type: dict
  sample: {"node1": {"nvidia.com/gpu": 8}}
labels_by_host:
  description: RV(labels) for each labelled host of O(hosts_gpus).
  returned: when O(per_model) is given
  type: dict
  sample: {"node1": {"nvidia.com/gpu.replicas": "4"}}
sharing_strategy_by_key:
  description:
    - For each key of RV(config_map), the sharing strategy upstream applies to it (its C(SharingStrategy) method,
      one of V(mps), V(time-slicing) or V(none)).
    - V(mps) needs NVIDIA's MPS control daemon next to the plugin.
  returned: when O(per_model) is given
  type: dict
  sample: {"default": "none", "nvidia-geforce-rtx-3090": "time-slicing"}
device_list_strategy_by_key:
  description:
    - For each key of RV(config_map), C(flags.plugin.deviceListStrategy) as a list (default V(envvar)).
    - V(volume-mounts) needs the plugin container to have C(SYS_ADMIN).
  returned: when O(per_model) is given
  type: dict
  sample: {"default": ["envvar"], "nvidia-geforce-rtx-3090": ["envvar"]}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.homelab.gpu_node.plugins.module_utils._device_plugin import (
    analyse,
    build_config_map,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import DevicePluginConfigError


def _time_slicing_spec():
    return dict(
        replicas=dict(type="int"),
        rename_by_default=dict(type="bool"),
        fail_requests_greater_than_one=dict(type="bool"),
        resources=dict(
            type="list",
            elements="dict",
            options=dict(
                name=dict(type="str", required=True),
                devices=dict(type="raw"),
                replicas=dict(type="int"),
                rename=dict(type="str"),
            ),
        ),
    )


def argument_spec():
    return dict(
        config=dict(type="dict"),
        time_slicing=dict(type="dict", options=_time_slicing_spec()),
        gpus=dict(type="list", elements="dict"),
        mig_strategy=dict(type="str", choices=["none", "single", "mixed"]),
        wsl=dict(type="bool", default=False),
        per_model=dict(
            type="list",
            elements="dict",
            options=dict(
                model=dict(type="str", required=True),
                key=dict(type="str", no_log=False),
                config=dict(type="dict"),
                time_slicing=dict(type="dict", options=_time_slicing_spec()),
            ),
            mutually_exclusive=[["config", "time_slicing"]],
            required_one_of=[["config", "time_slicing"]],
        ),
        hosts_gpus=dict(type="dict"),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[["config", "time_slicing"], ["gpus", "per_model"], ["gpus", "hosts_gpus"]],
        required_one_of=[["config", "time_slicing", "per_model"]],
        required_by={"hosts_gpus": "per_model"},
        supports_check_mode=True,
    )
    p = module.params
    result = dict(changed=False)
    try:
        has_single = p["config"] is not None or p["time_slicing"] is not None
        if p["per_model"] is not None:
            default = None
            if has_single:
                default = {"config": p["config"], "time_slicing": p["time_slicing"]}
            built = build_config_map(p["per_model"], p["hosts_gpus"], default=default,
                                     mig_strategy=p["mig_strategy"])
            result.update(
                config_map=built["config_map"],
                node_labels=built["node_labels"],
                capacity_by_host=built["capacity"],
                labels_by_host=built["labels"],
                sharing_strategy_by_key=built["sharing_strategy_by_key"],
                device_list_strategy_by_key=built["device_list_strategy_by_key"],
            )
            warnings = built["warnings"]
            if has_single:
                single = analyse(config=p["config"], time_slicing=p["time_slicing"],
                                 mig_strategy=p["mig_strategy"])
                result.update((k, single[k]) for k in ("config", "config_yaml", "capacity", "labels",
                                                       "sharing_strategy", "mig_strategy"))
        else:
            single = analyse(config=p["config"], time_slicing=p["time_slicing"], gpus=p["gpus"],
                             mig_strategy=p["mig_strategy"], wsl=p["wsl"])
            result.update((k, single[k]) for k in ("config", "config_yaml", "capacity", "labels",
                                                   "sharing_strategy", "mig_strategy"))
            warnings = single["warnings"]
    except DevicePluginConfigError as exc:
        module.fail_json(msg=str(exc), **result)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
