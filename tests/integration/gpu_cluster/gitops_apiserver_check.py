# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Let the lab's real kube-apiserver judge what gpu_cluster renders for GitOps.

1. Creates Argo CD's own CRDs (tests/argocd/crds, release v3.5.1) and waits until they are
   Established.
2. For every rendered directory: each argocd/*.yaml object (Application, ApplicationSet,
   AppProject) is sent as a server-side dry run, then created for real, both with
   fieldValidation=Strict, so the CRD's structural schema decides (types, required fields,
   enums, and unknown fields are errors instead of being pruned in silence). The stored object
   is read back and must hold every field that was sent. Then it is deleted again.
3. Objects the API server must refuse (a string where a boolean goes, an unknown field, a
   missing destination, an unknown field inside an ApplicationSet template); and, to show why
   Strict matters, the same unknown field accepted and dropped with fieldValidation=Ignore.
4. Node labels as Argo CD would sync them (nodes/*.yaml, server-side apply, field manager
   argocd-controller): the planned labels land on the (kwok) nodes, the kubelet's labels and the
   node's taints stay. And why taints never go through Argo CD: Node.spec.taints is an atomic
   list, so a forced server-side apply of one taint removes the taint someone else set.

Prints one line per check; exits 1 with the failures. Usage:
  gitops_apiserver_check.py --kubeconfig K --crds DIR [--nodes-dir DIR] RENDER_DIR...
"""

from __future__ import annotations

import argparse
import copy
import glob
import os
import sys
import time

import yaml
from kubernetes import config
from kubernetes.client import api_client
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import ApiException

ARGOCD_NS = "argocd"
FAILURES = []


def say(ok, what):
    print("%s %s" % ("ok  " if ok else "FAIL", what))
    if not ok:
        FAILURES.append(what)


def strict(**extra):
    return dict(query_params=[("fieldValidation", extra.pop("validation", "Strict"))], **extra)


def subset(sent, stored, path="spec"):
    """Paths of `sent` that `stored` lacks or holds differently (the server pruned or changed them)."""
    if isinstance(sent, dict):
        if not isinstance(stored, dict):
            return [path]
        out = []
        for key, value in sent.items():
            out += subset(value, stored.get(key), "%s.%s" % (path, key)) if key in stored else ["%s.%s" % (path, key)]
        return out
    if isinstance(sent, list):
        if not isinstance(stored, list) or len(sent) != len(stored):
            return [path]
        out = []
        for i, (a, b) in enumerate(zip(sent, stored)):
            out += subset(a, b, "%s[%d]" % (path, i))
        return out
    return [] if sent == stored else [path]


def resource(dyn, obj):
    return dyn.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])


def create_crds(dyn, crd_dir):
    crds = dyn.resources.get(api_version="apiextensions.k8s.io/v1", kind="CustomResourceDefinition")
    names = []
    for path in sorted(glob.glob(os.path.join(crd_dir, "*-crd.yaml"))):
        with open(path, encoding="utf-8") as handle:
            body = yaml.safe_load(handle)
        crds.create(body=body)
        names.append(body["metadata"]["name"])
    deadline = time.time() + 60
    pending = set(names)
    while pending and time.time() < deadline:
        for name in sorted(pending):
            conds = crds.get(name=name).to_dict().get("status", {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conds):
                pending.discard(name)
        time.sleep(0.5)
    say(not pending and len(names) == 3, "Argo CD CRDs created and Established: %s" % ", ".join(names))
    ns = dyn.resources.get(api_version="v1", kind="Namespace")
    ns.create(body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ARGOCD_NS}})


def check_rendered(dyn, render_dir):
    files = sorted(glob.glob(os.path.join(render_dir, "argocd", "*.yaml")))
    say(len(files) > 0, "%s: %d Argo CD objects rendered" % (render_dir, len(files)))
    created = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            docs = [d for d in yaml.safe_load_all(handle) if d]
        for obj in docs:
            what = "%s %s/%s (%s)" % (obj["kind"], obj["metadata"]["namespace"], obj["metadata"]["name"],
                                      os.path.relpath(path, render_dir))
            res = resource(dyn, obj)
            try:
                res.create(body=obj, namespace=obj["metadata"]["namespace"], **strict(dry_run="All"))
                res.create(body=obj, namespace=obj["metadata"]["namespace"], **strict())
            except ApiException as exc:
                say(False, "%s refused by the API server: %s" % (what, exc.body))
                continue
            created.append((res, obj))
            stored = res.get(name=obj["metadata"]["name"], namespace=obj["metadata"]["namespace"]).to_dict()
            lost = subset(obj["spec"], stored.get("spec"))
            say(not lost, "%s accepted (dry run, then created; strict) and stored as sent%s"
                % (what, "" if not lost else "; differs at " + ", ".join(lost)))
    for res, obj in created:
        res.delete(name=obj["metadata"]["name"], namespace=obj["metadata"]["namespace"])
    return files


def refused(dyn, obj, why, expect, validation="Strict"):
    try:
        resource(dyn, obj).create(body=obj, namespace=ARGOCD_NS, **strict(dry_run="All", validation=validation))
    except ApiException as exc:
        body = exc.body.decode() if isinstance(exc.body, bytes) else str(exc.body)
        say(exc.status in (400, 422) and expect in body,
            "refused (%s): %s -> HTTP %s, names %r" % (why, obj["kind"], exc.status, expect))
        return
    say(False, "NOT refused (%s): the API server accepted it" % why)


def check_bad_objects(dyn, render_dirs):
    app = None
    appset = None
    for path in sorted(p for d in render_dirs for p in glob.glob(os.path.join(d, "argocd", "*.yaml"))):
        with open(path, encoding="utf-8") as handle:
            for obj in yaml.safe_load_all(handle):
                if obj and obj["kind"] == "Application" and "source" in obj["spec"] and app is None:
                    app = obj
                if obj and obj["kind"] == "ApplicationSet":
                    appset = obj
    if app is None:
        say(False, "no Application with a git source in %s to break" % ", ".join(render_dirs))
        return
    bad = copy.deepcopy(app)
    bad["spec"]["syncPolicy"]["automated"]["selfHeal"] = "yes"
    refused(dyn, bad, "selfHeal is a string", "selfHeal")
    bad = copy.deepcopy(app)
    bad["spec"]["syncPolicy"]["automated"]["prunee"] = True
    refused(dyn, bad, "unknown field automated.prunee", "prunee")
    bad = copy.deepcopy(app)
    del bad["spec"]["destination"]
    refused(dyn, bad, "no destination", "destination")
    say(appset is not None, "an ApplicationSet was rendered to break")
    if appset is not None:
        bad = copy.deepcopy(appset)
        bad["spec"]["template"]["spec"]["syncPolicy"]["automatic"] = {"prune": True}
        refused(dyn, bad, "unknown field in the ApplicationSet template", "automatic")
    # Why Strict: without it the API server drops the unknown field and says yes.
    lax = copy.deepcopy(app)
    lax["metadata"]["name"] = "lax-check"
    lax["spec"]["syncPolicy"]["automated"]["prunee"] = True
    res = resource(dyn, lax)
    stored = res.create(body=lax, namespace=ARGOCD_NS, **strict(validation="Ignore")).to_dict()
    say("prunee" not in stored["spec"]["syncPolicy"]["automated"],
        "with fieldValidation=Ignore the same unknown field is accepted and silently dropped (why the test is strict)")
    res.delete(name="lax-check", namespace=ARGOCD_NS)


def check_nodes(dyn, nodes_dir):
    nodes = dyn.resources.get(api_version="v1", kind="Node")
    files = sorted(f for f in glob.glob(os.path.join(nodes_dir, "node-*.yaml")))
    say(len(files) > 0, "%s: %d Node label objects rendered" % (nodes_dir, len(files)))
    for path in files:
        with open(path, encoding="utf-8") as handle:
            obj = yaml.safe_load(handle)
        name = obj["metadata"]["name"]
        # someone else's taint first (kubectl taint / cordon / the node lifecycle controller)
        nodes.patch(name=name, body={"spec": {"taints": [{"key": "example.org/maintenance", "effect": "NoSchedule"}]}},
                    content_type="application/merge-patch+json", field_manager="kubectl-taint")
        before = nodes.get(name=name).to_dict()
        nodes.server_side_apply(body=obj, name=name, field_manager="argocd-controller", force_conflicts=True,
                                query_params=[("fieldValidation", "Strict")])
        after = nodes.get(name=name).to_dict()
        labels = after["metadata"]["labels"]
        missing = {k: v for k, v in obj["metadata"]["labels"].items() if labels.get(k) != v}
        kept = {k: v for k, v in before["metadata"]["labels"].items() if k not in obj["metadata"]["labels"]}
        lost = {k: v for k, v in kept.items() if labels.get(k) != v}
        say(not missing and not lost and after["spec"].get("taints") == before["spec"].get("taints"),
            "Node %s: server-side apply (argocd-controller) set %s; kept the kubelet's labels (%s) and the taints %s"
            % (name, ", ".join("%s=%s" % kv for kv in sorted(obj["metadata"]["labels"].items())),
               ", ".join(sorted(kept)), [t["key"] for t in after["spec"].get("taints") or []]))
    if files:
        name = yaml.safe_load(open(files[0], encoding="utf-8"))["metadata"]["name"]
        nodes.server_side_apply(body={"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {
            "taints": [{"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}]}},
            name=name, field_manager="taint-via-gitops", force_conflicts=True)
        taints = [t["key"] for t in nodes.get(name=name).to_dict()["spec"].get("taints") or []]
        say(taints == ["nvidia.com/gpu"],
            "Node %s: taints are one atomic list for server-side apply: applying one GitOps taint left %s "
            "(example.org/maintenance, set by someone else, is gone) - why taints stay in the join configuration"
            % (name, taints))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("--crds", required=True)
    parser.add_argument("--nodes-dir", default="")
    parser.add_argument("render_dirs", nargs="+")
    args = parser.parse_args(argv)
    config.load_kube_config(config_file=args.kubeconfig)
    dyn = DynamicClient(api_client.ApiClient())
    create_crds(dyn, args.crds)
    dyn = DynamicClient(api_client.ApiClient())  # fresh discovery: the Argo CD kinds now exist
    for render_dir in args.render_dirs:
        check_rendered(dyn, render_dir)
    check_bad_objects(dyn, args.render_dirs)
    if args.nodes_dir:
        check_nodes(dyn, args.nodes_dir)
    if FAILURES:
        print("%d check(s) failed" % len(FAILURES), file=sys.stderr)
        for failure in FAILURES:
            print("  " + failure, file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
