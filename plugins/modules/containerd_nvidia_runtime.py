#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
---
module: containerd_nvidia_runtime
short_description: Register the NVIDIA container runtime with containerd, k3s, MicroK8s or Docker
version_added: 0.1.0
description:
  - Registers C(nvidia-container-runtime) as a runtime of the node's container engine, optionally as the
    default runtime and with CDI enabled, and removes it again with O(state=absent).
  - Compares parsed TOML/JSON, not text, so a rerun reports no change. Every file is parsed again before it is
    written; a config that cannot be parsed fails the task with the file name and the parser's message and is
    left untouched.
  - The caller restarts the engine (a handler) for the change to take effect.
  - "O(engine=containerd): writes the drop-in C(conf.d/99-nvidia.toml) beside O(config_path) and adds its path to
    the C(imports) of O(config_path) unless an entry (or a glob such as C(/etc/containerd/conf.d/*.toml)) already
    loads it; that is the only edit of the main config, every other line stays as it is. A missing main config is
    created as C(version = 2) plus the import. Config version 2 puts the runtime under
    C(plugins.\"io.containerd.grpc.v1.cri\"), version 3 (containerd 2.x) under
    C(plugins.\"io.containerd.cri.v1.runtime\"); a file without C(version) is config version 1, which the module
    refuses. containerd 1.x replaces a whole plugin section with the one of an imported file, so a version 2
    drop-in repeats the CRI section of the files loaded before it (refreshed on every run)."
  - "The runtime C(nvidia) gets C(runtime_type = \"io.containerd.runc.v2\") and C(options.BinaryName) set to
    O(runtime_path), on top of the settings of the default runtime (for example C(SystemdCgroup = true)), as
    C(nvidia-ctk) does. O(set_as_default) sets C(default_runtime_name), O(cdi) sets C(enable_cdi)."
  - "O(engine=k3s): never edits the C(config.toml) k3s regenerates at every start (O(config_path)); k3s registers
    runtime C(nvidia) by itself when it finds C(nvidia-container-runtime). Only when O(set_as_default) or O(cdi) asks
    for something that config does not give already, writes C(config-v3.toml.d/99-nvidia.toml) (or
    C(config.toml.d/)) when the generated config imports that directory, else C(config-v3.toml.tmpl) (or
    C(config.toml.tmpl)) starting with C({{ template \"base\" . }}). A template is written only after checking,
    against the config k3s rendered, that it does not declare a table of the base template again, which stops
    containerd. Prefer k3s's own C(default-runtime: nvidia) option for the default runtime."
  - "O(engine=microk8s): edits C(containerd-template.toml) in place: the runtime tables go in a marked block at the
    end, C(default_runtime_name) and C(enable_cdi) are changed on their own lines with the old value kept in a
    trailing comment, so O(state=absent) restores the file. The C(${SNAPSHOTTER})-style placeholders MicroK8s
    fills in are left alone."
  - "O(engine=docker): merges C(runtimes.nvidia) with C(path) set to O(runtime_path) and C(args: []) into C(daemon.json), keeping
    the other keys and their order; O(set_as_default) sets C(default-runtime), O(cdi) sets C(features.cdi)."
  - TOML needs C(tomllib) (Python 3.11+) or C(tomli) on the target, for example package C(python3-tomli) on
    RHEL 9 (Python 3.9) and Ubuntu 22.04 (Python 3.10). O(engine=docker) needs neither.
options:
  engine:
    description:
      - The container engine whose configuration gets the runtime.
    type: str
    required: true
    choices: [containerd, k3s, microk8s, docker]
  config_path:
    description:
      - The engine's configuration file.
      - Defaults to C(/etc/containerd/config.toml) (containerd), C(/var/lib/rancher/k3s/agent/etc/containerd/config.toml)
        (k3s, read only), C(/var/snap/microk8s/current/args/containerd-template.toml) (microk8s) and
        C(/etc/docker/daemon.json) (docker).
    type: path
  runtime_name:
    description:
      - Name of the runtime, the handler a Kubernetes C(RuntimeClass) refers to.
    type: str
    default: nvidia
  runtime_path:
    description:
      - Path of the NVIDIA runtime binary (C(options.BinaryName) for containerd, C(path) for Docker).
    type: path
    default: /usr/bin/nvidia-container-runtime
  set_as_default:
    description:
      - Make the runtime the engine's default, so that pods without C(runtimeClassName) get it.
      - With V(false) the default runtime is left as it is.
    type: bool
    default: false
  cdi:
    description:
      - Enable the Container Device Interface (C(enable_cdi) for containerd, needs containerd 1.7 or later;
        C(features.cdi) for Docker).
      - With V(false) the setting is left as it is.
    type: bool
    default: false
  state:
    description:
      - V(absent) removes what V(present) added (the drop-in, template or runtime, the import and changed values it
        remembers); settings that were not added by this module stay.
    type: str
    choices: [present, absent]
    default: present
  service:
    description:
      - The engine's systemd unit (for example V(containerd), V(k3s-agent), V(snap.microk8s.daemon-containerd),
        V(docker)). When set, the module also reports in RV(restart_pending) whether the running engine started
        before the files this module manages last changed, which happens when a run that changed them was interrupted
        before its restart handler ran. The module never restarts anything itself.
    type: str
    version_added: 0.1.0
  record:
    description:
      - A file on the node where the module lists each change it makes (the file, its backup, whether it was
        created) until the engine has been seen running it (M(homelab.gpu_node.container_engine_restart) clears the
        list). A run interrupted between writing and restarting leaves the list there, so the next run's rollback
        knows what to put back.
      - Written before the first file changes. Not written in check mode, nor when nothing changes.
    type: path
    version_added: 0.1.0
  k3s_template_version:
    description:
      - For O(engine=k3s), the containerd config version k3s renders, when k3s has not written O(config_path) yet.
      - V(3) for k3s v1.31.6, v1.32.2 and later (containerd 2.x), else V(2). Without it the version of the generated
        config is used.
    type: int
    choices: [2, 3]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.backup
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: One diff per file; a version 2 containerd drop-in is shown in full.
  platform:
    platforms: posix
notes:
  - The role restarts the engine in a handler and restores the backup when the engine does not come back.
  - Nested C(imports) of imported containerd files are not followed.
seealso:
  - name: NVIDIA Container Toolkit, configuring containerd
    description: What C(nvidia-ctk runtime configure) writes.
    link: https://docs.nvidia.com/datacenter/cloud-native/container-toolkit/latest/install-guide.html
  - name: K3s advanced options, configuring containerd
    description: Templates, the base template, and the runtimes k3s detects.
    link: https://docs.k3s.io/advanced#configuring-containerd
author:
  - homelab.gpu_node contributors (@homelab)
"""

EXAMPLES = r"""
- name: Register the NVIDIA runtime with containerd (drop-in + import)
  homelab.gpu_node.containerd_nvidia_runtime:
    engine: containerd
    backup: true
  register: gpu_runtime_containerd
  notify: Restart containerd

- name: Show what was written
  ansible.builtin.debug:
    msg: "{{ gpu_runtime_containerd.files }} ({{ gpu_runtime_containerd.runtime_config.cri_plugin }})"

- name: Make nvidia the default runtime of Docker, with CDI
  homelab.gpu_node.containerd_nvidia_runtime:
    engine: docker
    set_as_default: true
    cdi: true
  notify: Restart docker

- name: MicroK8s, runtime only (pods choose it with runtimeClassName nvidia)
  homelab.gpu_node.containerd_nvidia_runtime:
    engine: microk8s
  notify: Restart microk8s

- name: Check that k3s registered the runtime by itself
  homelab.gpu_node.containerd_nvidia_runtime:
    engine: k3s
  register: gpu_runtime_k3s

- name: Warn when k3s has not found nvidia-container-runtime
  ansible.builtin.debug:
    msg: Restart k3s after installing the NVIDIA Container Toolkit
  when: gpu_runtime_k3s.runtime_config.runtime_detected is false

- name: Remove the runtime again
  homelab.gpu_node.containerd_nvidia_runtime:
    engine: containerd
    state: absent
  notify: Restart containerd
"""

RETURN = r"""
files:
  description: Paths of the files created, rewritten or deleted (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/conf.d/99-nvidia.toml, /etc/containerd/config.toml]
backup_files:
  description: Backups made with O(backup=true), one per rewritten or deleted file.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/config.toml.12345.2026-01-31@12:00:00~]
backups:
  description:
    - The backup of each rewritten or deleted file, keyed by the file's path, to restore it
      (the gpu_runtime role's rollback uses this).
  returned: always
  type: dict
  sample: {/etc/containerd/config.toml: /etc/containerd/config.toml.12345.2026-01-31@12:00:00~}
created_files:
  description: Paths of the files that did not exist before (remove them to undo the change).
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/conf.d/99-nvidia.toml]
restart_pending:
  description:
    - Whether O(service) must be restarted to run the configuration on disk - because this call changed it, or
      because it changed after the engine last started (only checked with O(state=present)); V(false) without
      O(service).
  returned: always
  type: bool
  sample: true
stale_files:
  description: The managed files that changed after O(service) last started.
  returned: always
  type: list
  elements: str
  sample: [/etc/containerd/conf.d/99-nvidia.toml]
runtime_config:
  description: What the module found and decided.
  returned: always
  type: dict
  contains:
    engine:
      description: The engine.
      type: str
      sample: containerd
    config_path:
      description: The engine's configuration file.
      type: str
      sample: /etc/containerd/config.toml
    config_version:
      description: containerd config version used (2 or 3); V(null) where it does not apply or is unknown.
      type: int
      sample: 2
    cri_plugin:
      description: The plugin table holding the runtimes (containerd and microk8s).
      type: str
      sample: io.containerd.grpc.v1.cri
    dropin_path:
      description: The drop-in file (containerd).
      type: str
      sample: /etc/containerd/conf.d/99-nvidia.toml
    import_added:
      description: Whether the main config's C(imports) gets the drop-in (containerd, O(state=present)).
      type: bool
    runtime_detected:
      description: Whether k3s registered the runtime in its generated config; V(null) when there is none yet (k3s).
      type: bool
    mode:
      description: How k3s gets the settings, V(none), V(dropin) or V(template) (k3s).
      type: str
      sample: none
    changes:
      description: The files changed, with their action V(create), V(update) or V(delete).
      type: list
      elements: dict
      sample: [{path: /etc/containerd/conf.d/99-nvidia.toml, action: create}]
  sample:
    engine: containerd
    config_path: /etc/containerd/config.toml
    config_version: 2
    cri_plugin: io.containerd.grpc.v1.cri
    dropin_path: /etc/containerd/conf.d/99-nvidia.toml
    import_added: true
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.gpu_node.plugins.module_utils._engine_rollback import (
    ApplyError,
    add_pending,
    apply_changes,
    dump_record,
    load_record,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._errors import RuntimeConfigError
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_files import (
    make_plan,
    raise_instead_of_fail,
    read_text,
    write_text,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._service_state import (
    path_state,
    read_service,
    stale_paths,
)
from ansible_collections.homelab.gpu_node.plugins.module_utils._runtime_config import (
    DEFAULT_CONFIG_PATHS,
    DEFAULT_RUNTIME_NAME,
    DEFAULT_RUNTIME_PATH,
    ENGINES,
    HAS_TOML,
    TOML_IMPORT_ERROR,
    TOML_PACKAGE,
    RuntimeOptions,
    check_no_control_chars,
    engine_read_files,
)


def argument_spec():
    return dict(
        engine=dict(type="str", required=True, choices=list(ENGINES)),
        config_path=dict(type="path"),
        runtime_name=dict(type="str", default=DEFAULT_RUNTIME_NAME),
        runtime_path=dict(type="path", default=DEFAULT_RUNTIME_PATH),
        set_as_default=dict(type="bool", default=False),
        cdi=dict(type="bool", default=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        backup=dict(type="bool", default=False),
        k3s_template_version=dict(type="int", choices=[2, 3]),
        service=dict(type="str"),
        record=dict(type="path"),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    params = module.params
    engine = params["engine"]
    config_path = params["config_path"] or DEFAULT_CONFIG_PATHS[engine]

    if engine != "docker" and not HAS_TOML:
        module.fail_json(
            msg=missing_required_lib(TOML_PACKAGE, reason="to read TOML on Python < 3.11 (install package "
                                                          "python3-tomli, or use Python >= 3.11)"),
            exception=TOML_IMPORT_ERROR)

    try:
        check_no_control_chars("config_path", config_path)
        options = RuntimeOptions(
            runtime_name=params["runtime_name"],
            runtime_path=params["runtime_path"],
            set_as_default=params["set_as_default"],
            cdi=params["cdi"],
            state=params["state"],
            k3s_template_version=params["k3s_template_version"],
        )
        plan = make_plan(engine, config_path, options, module.warn)
    except RuntimeConfigError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg="cannot read the %s configuration: %s" % (engine, to_native(exc)))

    for warning in plan.warnings:
        module.warn(warning)

    result = dict(
        changed=plan.changed,
        files=[change.path for change in plan.changes],
        backup_files=[],
        backups={},
        created_files=[change.path for change in plan.changes if change.before is None],
        runtime_config=dict(plan.summary, changes=[change.as_dict() for change in plan.changes]),
    )
    if module._diff:
        result["diff"] = [
            dict(
                before_header=change.path if change.before is not None else "%s (absent)" % change.path,
                after_header=change.path if change.after is not None else "%s (absent)" % change.path,
                before=change.before or "",
                after=change.after or "",
            )
            for change in plan.changes
        ]

    stale = []
    if params["service"] and params["state"] == "present":
        service = read_service(module.run_command, module.get_bin_path("systemctl"), params["service"],
                               time.time(), time.monotonic())
        watched = engine_read_files(engine, config_path)
        stale = stale_paths(dict((path, path_state(path).get("mtime")) for path in watched), service)
    result["stale_files"] = stale
    result["restart_pending"] = bool(params["service"]) and (plan.changed or bool(stale))
    if stale and not plan.changed:
        module.warn("%s changed after %s last started (an earlier run may have stopped before restarting it): "
                    "the engine still runs the previous config" % (", ".join(stale), params["service"]))

    if plan.changed and not module.check_mode:
        record_path = params["record"] if params["state"] == "present" else None
        try:
            done, backups = apply_changes(plan.changes, params["backup"], _FileOps(module),
                                          before_writes=(lambda made: _write_record(module, record_path, engine,
                                                                                    config_path, plan.changes, made))
                                          if record_path else None)
        except ApplyError as exc:
            result["backups"] = exc.backups
            result["backup_files"] = sorted(exc.backups.values())
            result["files"] = [path for path, _action in exc.done]
            result["created_files"] = [path for path, action in exc.done if action == "create"]
            result["changed"] = bool(exc.done)
            module.fail_json(msg=exc.message(), **result)
        result["backups"] = backups
        result["backup_files"] = [backups[change.path] for change in plan.changes if change.path in backups]
    module.exit_json(**result)


class _FileOps(object):
    """Disk access for apply_changes; every failure is an OSError."""

    def __init__(self, module):
        self.module = module

    def backup(self, path):
        with raise_instead_of_fail(self.module):
            return self.module.backup_local(path)

    def write(self, path, text):
        write_text(self.module, path, text)

    def remove(self, path):
        os.remove(path)


def _write_record(module, path, engine, config_path, changes, backups):
    record = load_record(read_text(path) if os.path.exists(path) else None)
    record = add_pending(record, engine, config_path, changes, backups)
    write_text(module, path, dump_record(record))


if __name__ == "__main__":
    main()
