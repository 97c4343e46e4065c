#!/usr/bin/env bash
# Runs on a machine with a real NVIDIA GPU (this project's `device` tool lends one
# to some sessions). It captures nvidia-smi output and the PCI sysfs entries the
# facts module reads, byte for byte, then runs homelab.gpu_node.nvidia_smi_facts
# against the real driver. Nothing on the machine is changed (no nvidia-smi
# option that sets anything is used). Output: $OUT/capture.tar.gz + $OUT/summary.txt
set -u
OUT=${OUT:-/tmp/gpu-capture-out}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D=$(mktemp -d)/capture
mkdir -p "$D" "$OUT"
run() { # run NAME CMD... : stdout to NAME, stderr to NAME.stderr, rc to rcs.txt
  local name=$1; shift
  "$@" >"$D/$name" 2>"$D/$name.stderr"; local rc=$?
  echo "$rc $name: $*" >>"$D/rcs.txt"
  [ -s "$D/$name.stderr" ] || rm -f "$D/$name.stderr"
}
{ date -u +%FT%TZ; uname -a; cat /etc/os-release 2>/dev/null; } >"$D/host.txt"
run nvidia-smi-q-x.xml nvidia-smi -q -x
run nvidia-smi-q-x-dtd.xml nvidia-smi -q -x --dtd
run nvidia-smi-q.txt nvidia-smi -q
run nvidia-smi-table.txt nvidia-smi
run nvidia-smi-L.txt nvidia-smi -L
run nvidia-smi-version.txt nvidia-smi --version
run nvidia-smi-compute-cap.csv nvidia-smi --query-gpu=pci.bus_id,compute_cap --format=csv,noheader
run nvidia-smi-help-query-gpu.txt nvidia-smi --help-query-gpu
fields=$(grep -o '^"[^" :]*"' "$D/nvidia-smi-help-query-gpu.txt" | tr -d '"' | paste -sd, -)
run nvidia-smi-query-gpu-all.csv nvidia-smi --query-gpu="$fields" --format=csv
run nvidia-smi-query-gpu-bad-field.txt nvidia-smi --query-gpu=no_such_field --format=csv
# PCI bus as sysfs shows it: every device's ids and class, and its driver's name
# (':' in PCI addresses is stored as '_': ansible-test sanity refuses ':' in file names)
mkdir -p "$D/sys/bus/pci/devices"
for dev in /sys/bus/pci/devices/*; do
  t="$D/sys/bus/pci/devices/$(basename "$dev" | tr : _)"; mkdir -p "$t"
  for f in vendor device class subsystem_vendor subsystem_device revision boot_vga numa_node; do
    [ -r "$dev/$f" ] && cat "$dev/$f" >"$t/$f" 2>/dev/null
  done
  [ -L "$dev/driver" ] && basename "$(readlink "$dev/driver")" >"$t/driver.name"
done
for f in /proc/driver/nvidia/version /sys/module/nvidia/version /proc/cmdline; do
  [ -r "$f" ] && { mkdir -p "$D$(dirname "$f")"; cat "$f" >"$D$f"; }
done
for g in /proc/driver/nvidia/gpus/*/information; do
  t="$D$(dirname "$(dirname "$g")")/$(basename "$(dirname "$g")" | tr : _)"
  [ -r "$g" ] && { mkdir -p "$t"; cat "$g" >"$t/information"; }
done
{ grep -E '^nvidia' /proc/modules; echo "--- /dev"; ls -la /dev/nvidia* /dev/dxg 2>&1;
  echo "--- efi/secure boot"; if [ -d /sys/firmware/efi ]; then echo "EFI: yes"; else echo "EFI: no"; fi; command -v mokutil && mokutil --sb-state 2>&1;
  echo "--- tools"; for b in docker podman containerd ctr runc crun nvidia-ctk nvidia-container-runtime nvidia-container-cli k3s kubectl nvcc; do printf '%s: %s\n' "$b" "$(command -v $b || echo absent)"; done;
  command -v nvidia-container-cli >/dev/null && nvidia-container-cli info 2>&1 | head -40
} >"$D/environment.txt" 2>&1
# The facts module against the real driver, through ansible (wheels carried in .whl)
if ls "$ROOT"/.whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$ROOT"/.whl/*.whl >"$D/pip.log" 2>&1
  export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH
  mkdir -p /tmp/coll/ansible_collections/homelab && ln -sfn "$ROOT" /tmp/coll/ansible_collections/homelab/gpu_node
  printf '[defaults]\n' >/tmp/empty-ansible.cfg
  export ANSIBLE_COLLECTIONS_PATH=/tmp/coll ANSIBLE_CONFIG=/tmp/empty-ansible.cfg ANSIBLE_LOCALHOST_WARNING=false
  python3 -m ansible adhoc localhost -c local -m homelab.gpu_node.nvidia_smi_facts >"$D/facts-module.txt" 2>&1
  echo "$? facts-module" >>"$D/rcs.txt"
  [ -f "$ROOT/tests/device/facts_on_real_gpu.py" ] && python3 "$ROOT/tests/device/facts_on_real_gpu.py" "$D" >"$D/facts-checks.txt" 2>&1
fi
# A CUDA program on the GPU (PyTorch of the machine's image), to show the device works
python3 - >"$D/cuda-workload.txt" 2>&1 <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
d = torch.device("cuda")
print("device", torch.cuda.get_device_name(0), "capability", torch.cuda.get_device_capability(0))
a = torch.randn(4096, 4096, device=d); b = torch.randn(4096, 4096, device=d)
c = (a @ b).double().cpu(); ref = a.double().cpu() @ b.double().cpu()
print("rel err", float((c - ref).norm() / ref.norm()))
PY
tar -C "$(dirname "$D")" -czf "$OUT/capture.tar.gz" capture
{ cat "$D/rcs.txt"; echo; cat "$D/environment.txt"; echo; head -c 3000 "$D/facts-module.txt" 2>/dev/null; echo; cat "$D/facts-checks.txt" 2>/dev/null; cat "$D/cuda-workload.txt"; } >"$OUT/summary.txt"
cat "$OUT/summary.txt"
