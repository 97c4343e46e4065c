#!/usr/bin/env bash
# Runs ON a machine with a real NVIDIA GPU (the `device` tool): the collection's node-side
# modules against the real driver, through ansible-core (wheels carried in .whl), with
# NVIDIA's own nvidia-ctk (built by tests/device/build_toolkit.sh, carried in
# .cache/device-tools). Nothing outside /tmp/hgn is written (specs and records go there).
#   1. nvidia_smi_facts
#   2. gpu_node_doctor with engine=none and engine=auto (that machine has no container engine)
#   3. nvidia_toolkit_mode mode=cdi: generate the CDI spec with the real nvidia-ctk, twice
#      (the second must change nothing), then mode=auto in check mode and for real (the spec
#      this module generated is removed, the record says so)
# Output: $OUT/collection-on-real-gpu/ (each command's output and rc).
set -u
OUT=${OUT:-/tmp/collection-on-real-gpu-out}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$OUT/collection-on-real-gpu
W=/tmp/hgn
mkdir -p "$D" "$W"
TOOLS=${TOOLS:-$ROOT/.cache/device-tools/bin}
export PATH="$TOOLS:$PATH"  # nvidia-ctk finds nvidia-cdi-hook beside it
run() { # run NAME CMD... : stdout+stderr to NAME.txt, rc to rcs.txt
  local name=$1; shift
  "$@" >"$D/$name.txt" 2>&1; local rc=$?
  echo "$rc $name: $*" >>"$D/rcs.txt"
}
{ date -u +%FT%TZ; uname -a; sed -n 1,2p /etc/os-release 2>/dev/null; } >"$D/host.txt"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$ROOT"/.whl/*.whl >"$D/pip.log" 2>&1
export PYTHONPATH=/tmp/site
mkdir -p /tmp/coll/ansible_collections/homelab && ln -sfn "$ROOT" /tmp/coll/ansible_collections/homelab/gpu_node
printf '[defaults]\n' >/tmp/empty-ansible.cfg
export ANSIBLE_COLLECTIONS_PATH=/tmp/coll ANSIBLE_CONFIG=/tmp/empty-ansible.cfg ANSIBLE_LOCALHOST_WARNING=false
export ANSIBLE_INVENTORY_UNPARSED_WARNING=false
adhoc() { python3 -m ansible adhoc localhost -c local "$@"; }

run versions "$TOOLS/nvidia-ctk" --version
run facts adhoc -m homelab.gpu_node.nvidia_smi_facts
run doctor-engine-none adhoc -m homelab.gpu_node.gpu_node_doctor -a engine=none
run doctor-engine-auto adhoc -m homelab.gpu_node.gpu_node_doctor -a engine=auto
mode_args="nvidia_ctk=$TOOLS/nvidia-ctk spec_path=$W/cdi/nvidia.yaml record=$W/toolkit_mode.json runtime_config=$W/no-runtime-config.toml"
run mode-cdi-1 adhoc -m homelab.gpu_node.nvidia_toolkit_mode -a "mode=cdi $mode_args"
cp "$W/cdi/nvidia.yaml" "$D/generated-nvidia.yaml" 2>/dev/null
cp "$W/toolkit_mode.json" "$D/record-after-cdi.json" 2>/dev/null
run mode-cdi-2 adhoc -m homelab.gpu_node.nvidia_toolkit_mode -a "mode=cdi $mode_args"
run cdi-list "$TOOLS/nvidia-ctk" cdi list --spec-dir "$W/cdi"
run mode-auto-check adhoc --check --diff -m homelab.gpu_node.nvidia_toolkit_mode -a "mode=auto $mode_args"
run mode-auto adhoc -m homelab.gpu_node.nvidia_toolkit_mode -a "mode=auto $mode_args"
ls -la "$W" "$W/cdi" >"$D/after-auto-ls.txt" 2>&1
cp "$W/toolkit_mode.json" "$D/record-after-auto.json" 2>/dev/null
cat "$D/rcs.txt"
