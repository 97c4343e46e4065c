# STAND-INS for `snap` and `microk8s` on homelab.gpu_node lab nodes (the argv[0]
# basename picks which). They are NOT snapd or MicroK8s: snapd cannot run in the lab
# (unprivileged podman containers: no squashfs mounts, no snap store). They log every
# call (program + argv) to /var/log/fake-snap.calls so tests can check the command
# lines and their order, and keep state in /var/lib/fake-snap/state.json so reruns
# see what earlier runs did:
#   snap list microk8s / install microk8s --classic --channel=C / refresh microk8s --channel=C
#     (install copies the microk8s stand-in to /snap/bin/microk8s; before that it does not exist)
#   microk8s status --wait-ready --timeout N | status --format yaml  (addon `nvidia` from 1.29,
#     `gpu` before, as MicroK8s names them)
#   microk8s enable nvidia|gpu [--gpu-operator-driver host]
#   microk8s kubectl apply -f FILE | patch clusterpolicies.nvidia.com/cluster-policy --type merge -p JSON
#     | get node -o jsonpath=... (allocatable nvidia.com/gpu: GPUs x the replicas of the ConfigMap the
#       ClusterPolicy names, once the addon is enabled: a stand-in for the device plugin's kubelet report)
#     | get pod N -n NS -o jsonpath={.status.phase} | logs N -n NS (nvidia-smi -L on the node) | delete pod
# Configuration: /etc/fake-snap.json {"gpus": 1}.
import json
import os
import shutil
import re
import subprocess
import sys

STATE = "/var/lib/fake-snap/state.json"
CALLS = "/var/log/fake-snap.calls"
CONF = "/etc/fake-snap.json"
HERE = os.path.dirname(os.path.realpath(__file__))


def load():
    if os.path.exists(STATE):
        with open(STATE) as f:
            return json.load(f)
    return {"snaps": {}, "addons": {}, "objects": {}, "policy": {}}


def save(state):
    os.makedirs(os.path.dirname(STATE), exist_ok=True)
    with open(STATE, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)


def conf():
    if os.path.exists(CONF):
        with open(CONF) as f:
            return json.load(f)
    return {"gpus": 1}


def snap(args, state):
    if args[:1] == ["list"]:
        names = args[1:] or sorted(state["snaps"])
        rows = [n for n in names if n in state["snaps"]]
        if not rows:
            sys.stderr.write("error: no matching snaps installed\n")
            return 1
        sys.stdout.write("Name      Version  Rev   Tracking     Publisher   Notes\n")
        for name in rows:
            s = state["snaps"][name]
            sys.stdout.write("%s  v%s.9  7394  %s  canonical✓  classic\n" % (name, s["channel"].split("/")[0], s["channel"]))
        return 0
    opts = list(args[2:])
    channel = next((a.split("=", 1)[1] for a in opts if a.startswith("--channel=")), None)
    if args[:2] == ["install", "microk8s"]:
        if "--classic" not in opts or not channel:
            sys.stderr.write("fake snap: expected --classic and --channel=\n")
            return 2
        if "microk8s" in state["snaps"]:
            sys.stderr.write('snap "microk8s" is already installed, see \'snap help refresh\'\n')
            return 0
        os.makedirs("/snap/bin", exist_ok=True)
        shutil.copy(os.path.join(HERE, "microk8s"), "/snap/bin/microk8s")
        os.chmod("/snap/bin/microk8s", 0o755)
        state["snaps"]["microk8s"] = {"channel": channel}
        sys.stdout.write("microk8s (%s) v%s.9 from Canonical✓ installed\n" % (channel, channel.split("/")[0]))
        return 0
    if args[:2] == ["refresh", "microk8s"] and channel:
        state["snaps"]["microk8s"] = {"channel": channel}
        sys.stdout.write("microk8s (%s) refreshed\n" % channel)
        return 0
    sys.stderr.write("fake snap: unsupported %r (stand-in)\n" % (args,))
    return 2


STATUS_YAML = """microk8s:
  running: true
high-availability:
  enabled: false
  nodes:
  - address: 127.0.0.1:19001
    role: voter
addons:
- name: dns
  repository: core
  description: CoreDNS
  version: 1.11.1
  status: enabled
- name: %s
  repository: core
  description: NVIDIA hardware (GPU and network) support
  version: v24.6.2
  status: %s
"""


def addon_name(state):
    major, minor = state["snaps"]["microk8s"]["channel"].split("/")[0].split("-")[0].split(".")
    return "nvidia" if (int(major), int(minor)) >= (1, 29) else "gpu"


def allocatable(state):
    name = addon_name(state)
    if state["addons"].get(name) != "enabled":
        return ""
    gpus = int(conf().get("gpus", 1))
    plugin = state["policy"].get("spec", {}).get("devicePlugin", {}).get("config", {})
    cm = state["objects"].get("ConfigMap/%s/%s" % ("gpu-operator-resources", plugin.get("name")))
    if not cm:
        return str(gpus)
    # the lab image has no PyYAML: read the replicas of the config YAML by pattern
    replicas = max([int(r) for r in re.findall(r"replicas: *(\d+)", cm["data"].get(plugin.get("default", ""), ""))] or [1])
    return str(gpus * replicas)


def kubectl(args, state):
    if args[:2] == ["apply", "-f"]:
        with open(args[2]) as f:
            doc = json.load(f)  # the role writes JSON manifests (kubectl takes JSON or YAML)
        docs = doc["items"] if doc.get("kind") == "List" else [doc]
        for doc in docs:
            meta = doc["metadata"]
            key = "%s/%s/%s" % (doc["kind"], meta.get("namespace", "default"), meta["name"])
            verdict = "unchanged" if state["objects"].get(key) == doc else ("configured" if key in state["objects"] else "created")
            state["objects"][key] = doc
            sys.stdout.write("%s/%s %s\n" % (doc["kind"].lower(), meta["name"], verdict))
        return 0
    if args[:2] == ["patch", "clusterpolicies.nvidia.com/cluster-policy"]:
        if state["addons"].get(addon_name(state)) != "enabled":
            sys.stderr.write('Error from server (NotFound): clusterpolicies.nvidia.com "cluster-policy" not found\n')
            return 1
        patch = json.loads(args[args.index("-p") + 1])
        before = json.dumps(state["policy"], sort_keys=True)
        merged = json.loads(before)
        merge(merged, patch)
        state["policy"] = merged
        same = json.dumps(merged, sort_keys=True) == before
        sys.stdout.write("clusterpolicy.nvidia.com/cluster-policy patched%s\n" % (" (no change)" if same else ""))
        return 0
    if args[:2] == ["get", "node"]:
        sys.stdout.write(allocatable(state))
        return 0
    if args[:2] == ["get", "pod"]:
        key = "Pod/%s/%s" % (args[args.index("-n") + 1], args[2])
        if key not in state["objects"]:
            sys.stderr.write('Error from server (NotFound): pods "%s" not found\n' % args[2])
            return 1
        sys.stdout.write("Succeeded" if allocatable(state) not in ("", "0") else "Pending")
        return 0
    if args[:1] == ["logs"]:
        return subprocess.call(["nvidia-smi", "-L"])
    if args[:2] == ["delete", "pod"]:
        state["objects"].pop("Pod/%s/%s" % (args[args.index("-n") + 1], args[2]), None)
        sys.stdout.write('pod "%s" deleted\n' % args[2])
        return 0
    sys.stderr.write("fake microk8s kubectl: unsupported %r (stand-in)\n" % (args,))
    return 2


def merge(into, patch):
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value


def microk8s(args, state):
    if "microk8s" not in state["snaps"]:
        sys.stderr.write("fake microk8s: the snap is not installed\n")
        return 127
    if args[:1] == ["status"] and "--format" in args:
        name = addon_name(state)
        sys.stdout.write(STATUS_YAML % (name, state["addons"].get(name, "disabled")))
        return 0
    if args[:1] == ["status"]:
        sys.stdout.write("microk8s is running\n")
        return 0
    if args[:1] == ["enable"] and len(args) > 1:
        if args[1] != addon_name(state):
            sys.stderr.write("Addon %s was not found in any repository\n" % args[1])
            return 1
        state["addons"][args[1]] = "enabled"
        sys.stdout.write("Enabled %s (stand-in: nothing deployed)\n" % args[1])
        return 0
    if args[:1] == ["kubectl"]:
        return kubectl(args[1:], state)
    sys.stderr.write("fake microk8s: unsupported %r (stand-in)\n" % (args,))
    return 2


def main(argv):
    # argv: [this file, the wrapper's path ($0), args...]
    prog, args = os.path.basename(argv[1]), argv[2:]
    with open(CALLS, "a") as f:
        f.write(" ".join([prog] + args) + "\n")
    state = load()
    rc = snap(args, state) if prog == "snap" else microk8s(args, state)
    save(state)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
