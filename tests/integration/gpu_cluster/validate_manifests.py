# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Validate a directory rendered by the gpu_cluster role (render mode).

* Every Kubernetes manifest listed in kustomization.yaml is validated with kubernetes-validate in
  strict mode (unknown fields are errors) against each Kubernetes version given (default: every
  version the installed kubernetes-validate ships).
* PodMonitor (a CRD kubernetes-validate does not know) is validated with jsonschema against a
  schema cut down from prometheus-operator's CRD (v0.91.0, example/prometheus-operator-crd/
  monitoring.coreos.com_podmonitors.yaml) to the fields the role writes, made strict.
* kustomization.yaml lists exactly the manifest files of the directory, each exists, no file
  holds two objects of the same kind/namespace/name.
* Talos files (talos/*.yaml) and GPU operator values (gpu-operator/values.yaml) are parsed and
  checked for the keys Talos / the chart read (see check_talos / check_operator).

Prints one line per file and exits 1 with the errors when something is wrong.
Usage: validate_manifests.py DIR [--versions 1.30.0,1.34.0]
"""

from __future__ import annotations

import argparse
import glob
import os
import re
import sys

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils as kv_utils
import yaml

PROM_DURATION = r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {"type": "array", "items": {
            "type": "object", "required": ["key", "operator"], "additionalProperties": False,
            "properties": {"key": {"type": "string"}, "operator": {"type": "string"},
                           "values": {"type": "array", "items": {"type": "string"}}}}},
    },
}
PODMONITOR_SCHEMA = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PodMonitor"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "required": ["selector"],
            "additionalProperties": False,
            "properties": {
                "selector": LABEL_SELECTOR,
                "namespaceSelector": {"type": "object", "additionalProperties": False, "properties": {
                    "any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}}},
                "jobLabel": {"type": "string"},
                "podMetricsEndpoints": {"type": "array", "items": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"port": {"type": "string"}, "path": {"type": "string"},
                                   "scheme": {"enum": ["http", "https", "HTTP", "HTTPS"]},
                                   "interval": {"type": "string", "pattern": PROM_DURATION},
                                   "scrapeTimeout": {"type": "string", "pattern": PROM_DURATION},
                                   "honorLabels": {"type": "boolean"}}}},
            },
        },
    },
}
TALOS_MODULES = ["nvidia", "nvidia_uvm", "nvidia_drm", "nvidia_modeset"]
TALOS_EXTENSIONS = {
    "siderolabs/nvidia-open-gpu-kernel-modules-production", "siderolabs/nvidia-open-gpu-kernel-modules-lts",
    "siderolabs/nonfree-kmod-nvidia-production", "siderolabs/nonfree-kmod-nvidia-lts",
    "siderolabs/nvidia-container-toolkit-production", "siderolabs/nvidia-container-toolkit-lts",
}
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


def load_docs(path):
    with open(path, encoding="utf-8") as handle:
        return [d for d in yaml.safe_load_all(handle) if d is not None]


def check_talos(directory, errors, report):
    for path in sorted(glob.glob(os.path.join(directory, "talos", "*.yaml"))):
        name = os.path.relpath(path, directory)
        docs = load_docs(path)
        if len(docs) != 1 or not isinstance(docs[0], dict):
            errors.append("%s: expected one YAML document" % name)
            continue
        doc = docs[0]
        if name.endswith("schematic.yaml"):
            exts = (((doc.get("customization") or {}).get("systemExtensions") or {}).get("officialExtensions"))
            if not exts or not set(exts) <= TALOS_EXTENSIONS or len(exts) != 2 \
                    or not any("nvidia-container-toolkit" in e for e in exts):
                errors.append("%s: officialExtensions must be a kernel module extension plus "
                              "nvidia-container-toolkit, got %r" % (name, exts))
        elif name.endswith("nvidia-gpu-patch.yaml"):
            machine = doc.get("machine") or {}
            modules = [m.get("name") for m in ((machine.get("kernel") or {}).get("modules") or [])]
            if modules != TALOS_MODULES:
                errors.append("%s: kernel modules %r, expected %r" % (name, modules, TALOS_MODULES))
            sysctls = machine.get("sysctls") or {}
            if sysctls.get("net.core.bpf_jit_harden") != "1":
                errors.append("%s: sysctl net.core.bpf_jit_harden must be the string \"1\" (Talos sysctls "
                              "are strings), got %r" % (name, sysctls.get("net.core.bpf_jit_harden")))
            if set(doc) != {"machine"}:
                errors.append("%s: only 'machine' may be patched, got %r" % (name, sorted(doc)))
        else:
            machine = doc.get("machine") or {}
            if set(doc) != {"machine"} or not set(machine) <= {"nodeLabels", "nodeTaints"}:
                errors.append("%s: a node patch holds machine.nodeLabels/nodeTaints only" % name)
            for key, value in (machine.get("nodeLabels") or {}).items():
                if not isinstance(value, str):
                    errors.append("%s: node label %s must be a string" % (name, key))
            for key, value in (machine.get("nodeTaints") or {}).items():
                if not isinstance(value, str) or value.rsplit(":", 1)[-1] not in TAINT_EFFECTS:
                    errors.append("%s: node taint %s must be 'value:Effect', got %r" % (name, key, value))
        report.append("%s: Talos checks passed" % name)


def check_operator(directory, errors, report):
    path = os.path.join(directory, "gpu-operator", "values.yaml")
    if not os.path.exists(path):
        return
    docs = load_docs(path)
    values = docs[0] if docs else {}
    config = ((values.get("devicePlugin") or {}).get("config") or {})
    if not config.get("name") or config.get("create") is not False:
        errors.append("gpu-operator/values.yaml: devicePlugin.config must name the rendered ConfigMap "
                      "with create: false, got %r" % config)
    for key in ("driver", "toolkit", "gfd", "dcgmExporter"):
        if not isinstance((values.get(key) or {}).get("enabled"), bool):
            errors.append("gpu-operator/values.yaml: %s.enabled must be a boolean" % key)
    report.append("gpu-operator/values.yaml: chart value checks passed")


def main(argv=None):
    parser = argparse.ArgumentParser(description="validate a gpu_cluster render directory")
    parser.add_argument("directory")
    parser.add_argument("--versions", default="", help="comma-separated Kubernetes versions (default: all shipped)")
    args = parser.parse_args(argv)
    shipped = sorted(set(kv_utils.all_versions()), key=lambda v: [int(x) for x in v.split(".")])
    versions = [v for v in args.versions.split(",") if v] or shipped
    directory = args.directory
    errors, report = [], []

    kustomization = load_docs(os.path.join(directory, "kustomization.yaml"))[0]
    listed = kustomization.get("resources") or []
    if kustomization.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or kustomization.get("kind") != "Kustomization":
        errors.append("kustomization.yaml: apiVersion/kind are not kustomize.config.k8s.io/v1beta1 Kustomization")
    present = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.yaml"))
                     if os.path.basename(p) not in ("kustomization.yaml", "node-labels.yaml"))
    if sorted(listed) != present or len(set(listed)) != len(listed):
        errors.append("kustomization.yaml resources %r differ from the manifest files %r" % (sorted(listed), present))

    seen = {}
    counted = 0
    for name in listed:
        path = os.path.join(directory, name)
        if not os.path.exists(path):
            continue
        for doc in load_docs(path):
            counted += 1
            ident = (doc.get("kind"), (doc.get("metadata") or {}).get("namespace"), (doc.get("metadata") or {}).get("name"))
            if ident in seen:
                errors.append("%s: %s/%s/%s also in %s" % ((name,) + ident + (seen[ident],)))
            seen[ident] = name
            if doc.get("kind") == "PodMonitor":
                try:
                    jsonschema.validate(doc, PODMONITOR_SCHEMA)
                    report.append("%s: PodMonitor valid (prometheus-operator CRD schema, pruned, strict)" % name)
                except jsonschema.ValidationError as exc:
                    errors.append("%s: %s at %s" % (name, exc.message, "/".join(str(p) for p in exc.absolute_path)))
                continue
            failed = []
            for version in versions:
                try:
                    kubernetes_validate.validate(doc, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    where = "/".join(str(p) for p in exc.path)
                    failed.append("%s (k8s %s): %s at %s" % (name, version, exc.message, where))
                except (kubernetes_validate.SchemaNotFoundError, kv_utils.InvalidSchemaError) as exc:
                    failed.append("%s (k8s %s): %s" % (name, version, exc))
            errors.extend(failed)
            if not failed:
                short = ", ".join(re.sub(r"\.0$", "", v) for v in versions)
                what = "%s %s" % (doc.get("apiVersion"), doc.get("kind"))
                report.append("%s: %s valid (strict) for Kubernetes %s" % (name, what, short))
    if counted == 0:
        errors.append("no manifests found in %s" % directory)
    check_talos(directory, errors, report)
    check_operator(directory, errors, report)
    for line in report:
        print(line)
    if errors:
        print("\n".join(["ERRORS:"] + errors), file=sys.stderr)
        return 1
    print("%d manifest(s) valid" % counted)
    return 0


if __name__ == "__main__":
    sys.exit(main())
