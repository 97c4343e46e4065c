"""Create (or update) simulated nodes on the lab control plane.

kwok manages every Node annotated ``kwok.x-k8s.io/node: fake``: it keeps it Ready and
runs the pods scheduled onto it (no kubelet, no containers). This script writes the
Node objects as a joined node would have them: the kubelet's well-known labels plus
the labels and taints given, and a status whose allocatable ``nvidia.com/gpu`` is what
the NVIDIA device plugin advertises on that node (``gpu_shares``, omitted for a node
without a GPU). It stands in for the kubelet and the device plugin, nothing else.

Input: a YAML or JSON list of ``{name, labels, taints, gpu_shares, runtime_handlers}``.
"""

import argparse
import sys

import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def node_object(spec):
    name = spec["name"]
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "beta.kubernetes.io/os": "linux",
        "beta.kubernetes.io/arch": "amd64",
    }
    labels.update(spec.get("labels") or {})
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {"taints": spec.get("taints") or []},
    }


def node_status(spec):
    resources = {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "100Gi"}
    if spec.get("gpu_shares") is not None:
        resources["nvidia.com/gpu"] = str(spec["gpu_shares"])
    handlers = spec.get("runtime_handlers", ["runc", "nvidia"] if spec.get("gpu_shares") else ["runc"])
    return {
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "runtimeHandlers": [
                {"name": h, "features": {"recursiveReadOnlyMounts": False, "userNamespaces": False}}
                for h in handlers
            ],
        }
    }


def apply_nodes(api, specs):
    for spec in specs:
        body = node_object(spec)
        try:
            api.create_node(body)
        except ApiException as exc:
            # An existing node keeps its labels and taints (others manage them): only what
            # the kubelet reports (its status) is written again.
            if exc.status != 409:
                raise
        api.patch_node_status(spec["name"], node_status(spec))
        print("node %s: nvidia.com/gpu=%s" % (spec["name"], spec.get("gpu_shares", "-")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", required=True)
    parser.add_argument("nodes", help="YAML or JSON file with the list of nodes")
    args = parser.parse_args(argv)
    with open(args.nodes, encoding="utf-8") as handle:
        specs = yaml.safe_load(handle)
    config.load_kube_config(config_file=args.kubeconfig)
    apply_nodes(client.CoreV1Api(), specs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
