#!/usr/bin/env bash
# Runs on a machine with a real NVIDIA GPU (this project's `device` tool lends one
# to some sessions; it has no container tools and cannot download any). It brings
# NVIDIA's container runtime in CDI mode up from the binaries that
# tests/device/build_toolkit.sh built (nvidia-ctk, nvidia-cdi-hook,
# nvidia-container-runtime from nvidia-container-toolkit, and runc), then:
#   1. `nvidia-ctk cdi generate` writes /etc/cdi/nvidia.yaml from the real driver;
#   2. nvcc builds tests/device/cuda_check.cu (CUDA runtime linked statically);
#   3. a minimal OCI bundle is made: the program, /bin/sh and the libraries ldd names
#      for them and for nvidia-smi, but no libcuda and no libnvidia-*: those, the
#      device nodes and nvidia-smi itself can only come from the CDI spec;
#   4. /etc/nvidia-container-runtime/config.toml is set to mode "cdi" with
#      `nvidia-ctk config --set`, and the bundle goes through
#      `nvidia-container-runtime create` (the step where it edits config.json with the
#      requested CDI devices and then calls runc) and `runc start`, once per request:
#      none, NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all, NVIDIA_VISIBLE_DEVICES=0
#      (default kind nvidia.com/gpu), the CDI annotation with the GPU's UUID, and
#      runtime.nvidia.com/gpu=all (spec generated in memory at create time).
# Every command's exit status goes to rcs.txt. Nothing on the machine's GPU is set.
# Output under $OUT: summary.txt, nvidia.yaml (the generated spec, byte for byte),
# capture.tar.gz (everything). Needs root (runc creates namespaces and cgroups).
set -u
OUT=${OUT:-/tmp/cdi-capture-out}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
TOOLS=${DEVICE_TOOLS:-$ROOT/.cache/device-tools}
BINDIR=${CDI_BINDIR:-/usr/bin}          # where the toolkit's packages put them
SPECDIR=${CDI_SPEC_DIR:-/etc/cdi}
CFG=${CDI_RUNTIME_CONFIG:-/etc/nvidia-container-runtime/config.toml}
[ "$CFG" = /etc/nvidia-container-runtime/config.toml ] || export NVIDIA_CTK_CONFIG_FILE_PATH=$CFG
W=${CDI_WORK:-/tmp/cdi-work}
D=$W/capture
rm -rf "$W"; mkdir -p "$D" "$OUT"
T0=$(date +%s)
rcs=$D/rcs.txt
run() { # run NAME CMD... : stdout to NAME, stderr to NAME.stderr, rc (and seconds) to rcs.txt
  local name=$1; shift; local s; s=$(date +%s.%N)
  timeout 120 "$@" >"$D/$name" 2>"$D/$name.stderr"; local rc=$?
  printf '%s %s (%ss): %s\n' "$rc" "$name" "$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $s}")" "$*" >>"$rcs"
  [ -s "$D/$name.stderr" ] || rm -f "$D/$name.stderr"
  [ -s "$D/$name" ] || rm -f "$D/$name"
  return $rc
}
note() { echo "# $*" >>"$rcs"; }

# --- 0. the host -------------------------------------------------------------
{ date -u +%FT%TZ; uname -a; cat /etc/os-release 2>/dev/null; echo "--- glibc"; ldd --version 2>&1 | sed -n 1p
  echo "--- id"; id; grep -E '^(CapEff|NoNewPrivs|Seccomp):' /proc/self/status
  echo "--- uid_map"; cat /proc/self/uid_map
  echo "--- cgroup mounts"; grep -E 'cgroup' /proc/mounts
  echo "--- /proc/self/cgroup"; cat /proc/self/cgroup
  echo "--- /dev/nvidia*"; ls -la /dev/nvidia* 2>&1
  echo "--- driver libraries (ldconfig -p)"; ldconfig -p 2>&1 | grep -E 'libcuda\.|libnvidia-ml\.' ; ls -la /sbin/ldconfig* 2>&1
  echo "--- nvidia-smi"; command -v nvidia-smi; nvidia-smi -L 2>&1
  echo "--- tools before"; for b in docker podman containerd runc crun nvidia-ctk nvidia-cdi-hook nvidia-container-runtime nvcc; do printf '%s: %s\n' "$b" "$(command -v $b || echo absent)"; done
} >"$D/host.txt" 2>&1

# --- 1. the carried tools ---------------------------------------------------
mkdir -p "$BINDIR"
for b in nvidia-ctk nvidia-cdi-hook nvidia-container-runtime runc; do
  if [ -e "$BINDIR/$b" ] && ! cmp -s "$BINDIR/$b" "$TOOLS/bin/$b"; then
    note "$BINDIR/$b exists already and differs; not replaced"
  else
    install -m 0755 "$TOOLS/bin/$b" "$BINDIR/$b" || note "install $b failed"
  fi
done
export PATH=$BINDIR:$PATH
cp "$TOOLS/versions.txt" "$D/tools-built-with.txt" 2>/dev/null
run versions.txt sh -c "nvidia-ctk --version; nvidia-cdi-hook --version; nvidia-container-runtime --version; runc --version; for b in nvidia-ctk nvidia-container-runtime runc; do ldd $BINDIR/\$b 2>&1 | sed \"s|^|\$b: |\"; done"
# runc needs a cgroup file system; a bare VM may not have mounted one
if ! grep -q ' /sys/fs/cgroup ' /proc/mounts; then
  run mount-cgroup2 mount -t cgroup2 cgroup2 /sys/fs/cgroup
fi
run unshare-check unshare --mount --pid --fork --uts --ipc --net true

# --- 2. the runtime's config (as the packages write it, then mode "cdi"), and the
#        CDI spec from the real driver ---------------------------------------------
mkdir -p "$(dirname "$CFG")"
[ -e "$CFG" ] && cp "$CFG" "$D/config.toml.before"
run config-default.log nvidia-ctk config default --output="$CFG"
run config-set.log nvidia-ctk config --config-file="$CFG" --in-place \
  --set nvidia-container-runtime.mode=cdi \
  --set nvidia-container-runtime.log-level=debug \
  --set nvidia-container-runtime.debug="$D/nvidia-container-runtime.log" \
  --set nvidia-container-runtime.runtimes="$BINDIR/runc" \
  ${CDI_SPEC_DIR:+--set nvidia-container-runtime.modes.cdi.spec-dirs="$SPECDIR"}
cp "$CFG" "$D/config.toml"
mkdir -p "$SPECDIR"
run cdi-generate.log nvidia-ctk cdi generate --output="$SPECDIR/nvidia.yaml" ||
  run cdi-generate-debug.log nvidia-ctk --debug cdi generate --output="$W/nvidia-debug.yaml"
if [ ! -s "$SPECDIR/nvidia.yaml" ] && [ -n "${CDI_TEST_SPEC:-}" ]; then  # a dry run without a GPU
  note "no spec generated; CDI_TEST_SPEC $CDI_TEST_SPEC used (dry run, not a capture)"
  cp "$CDI_TEST_SPEC" "$SPECDIR/nvidia.yaml"
fi
cp -p "$SPECDIR/nvidia.yaml" "$D/nvidia.yaml" 2>/dev/null && cp -p "$SPECDIR/nvidia.yaml" "$OUT/nvidia.yaml"
run cdi-list.txt nvidia-ctk cdi list --spec-dir="$SPECDIR"
UUID=$(nvidia-smi --query-gpu=uuid --format=csv,noheader 2>/dev/null | sed -n 1p)
echo "${UUID:-none}" >"$D/gpu-uuid.txt"

# --- 3. the CUDA program and the bundle ---------------------------------------
NVCC=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ -x "$NVCC" ]; then
  run nvcc.log "$NVCC" -O2 -cudart static -gencode arch=compute_90,code=sm_90 \
    -gencode arch=compute_90,code=compute_90 -o "$W/cuda-check" "$HERE/cuda_check.cu"
  run nvcc-version.txt "$NVCC" --version
else  # dry run on a machine without CUDA: a stand-in that says so and fails
  note "nvcc absent: dry run with a stand-in program, not a capture"
  printf '#include <stdio.h>\nint main(void){puts("cuda-check: stand-in (no nvcc here)");return 9;}\n' >"$W/standin.c"
  run cc.log cc -O2 -o "$W/cuda-check" "$W/standin.c"
fi
run host-cuda-check.txt "$W/cuda-check"
run cuda-check-ldd.txt ldd "$W/cuda-check"

R0=$W/rootfs-base
mkdir -p "$R0"/{app,bin,dev,etc/ld.so.conf.d,proc,sys,tmp,run}
libs() { # libs FILE: the libraries ldd names for FILE (not libcuda, not libnvidia-*) into the rootfs
  local lib
  for lib in $(ldd "$1" 2>/dev/null | grep -oE '/[^ ]+\.so[^ ]*'); do
    case $(basename "$lib") in libcuda.*|libnvidia-*) continue;; esac
    [ -e "$R0$lib" ] || { mkdir -p "$R0$(dirname "$lib")"; cp -L "$lib" "$R0$lib"; }
  done
}
cp "$W/cuda-check" "$R0/app/cuda-check"; libs "$W/cuda-check"
cp -L /bin/sh "$R0/bin/sh"; libs /bin/sh
smi=$(command -v nvidia-smi) && libs "$smi"   # its libraries, not nvidia-smi: CDI brings that
# what the driver's libcuda needs from the image (libc's libdl, libpthread, librt stubs):
# a real image has them; CDI mounts only the driver's own libraries
cudalib=$(ldconfig -p | awk '/libcuda\.so\.1 /{print $NF; exit}')
[ -n "$cudalib" ] && { libs "$cudalib"; run libcuda-ldd.txt ldd "$cudalib"; }
(cd "$R0" && find . -not -type d | sort) >"$D/rootfs-files.txt"

mkdir -p "$W/bundle-base"
run runc-spec.log sh -c "cd '$W/bundle-base' && runc spec"
# what the container runs: the computation, then what the CDI spec put in
cat >"$R0/app/run.sh" <<'EOS'
echo "--- /app/cuda-check"
/app/cuda-check
rc=$?
echo "cuda-check rc=$rc"
if [ $rc -ne 0 ]; then
  echo "--- LD_DEBUG=libs /app/cuda-check: lines on libcuda"
  LD_DEBUG=libs /app/cuda-check 2>&1 | while read -r l; do case $l in *libcuda*|*rror*) echo "$l";; esac; done
fi
echo "--- nvidia-smi -L"
nvidia-smi -L
echo "nvidia-smi rc=$?"
echo "--- /dev/nvidia*"
for f in /dev/nvidia* /dev/nvidia-caps/*; do [ -e "$f" ] && echo "$f"; done
echo "--- libcuda in the container"
for f in /usr/lib/x86_64-linux-gnu/libcuda.so* /usr/lib64/libcuda.so* /usr/local/nvidia/lib64/libcuda.so*; do [ -e "$f" ] && echo "$f"; done
echo "--- /etc/ld.so.conf.d"
for f in /etc/ld.so.conf.d/*; do [ -e "$f" ] && { echo "$f:"; while read -r l; do echo "  $l"; done <"$f"; }; done
EOS

# --- 4. the bundle through the runtime in CDI mode, once per request -----------

STATE=$W/runc-state
# case NAME [rootless] : env and annotations come from CASE_ENV / CASE_ANN
container() {
  local name=$1 variant=${2:-} B=$W/bundle-$1 C=$D/$1 g=()
  mkdir -p "$B" "$C"; cp -a "$R0" "$B/rootfs"
  python3 - "$W/bundle-base/config.json" "$B/config.json" "$CASE_ENV" "$CASE_ANN" "$variant" <<'PY'
import json, sys
src, dst, env, ann, variant = sys.argv[1:]
c = json.load(open(src))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "/app/run.sh"]
c["process"]["env"] = [e for e in c["process"]["env"] if not e.startswith("TERM=")] + [e for e in env.split() if e]
c["root"] = {"path": "rootfs", "readonly": False}
c["hostname"] = "cdi-check"
if ann:
    k, v = ann.split("=", 1)
    c.setdefault("annotations", {})[k] = v
if variant == "mount-ns-only":
    c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] in ("mount", "pid")]
json.dump(c, open(dst, "w"), indent=2)
PY
  cp "$B/config.json" "$C/config.before.json"
  [ "$variant" = rootless ] && g=(--rootless=true)
  note "container $name ${variant:+($variant)}: env '$CASE_ENV' annotation '$CASE_ANN'"
  run "$name/create.log" sh -c "cd '$B' && exec nvidia-container-runtime --root '$STATE' ${g[*]:-} create --bundle '$B' 'cdi-$name' >'$C/container-output.txt' 2>&1"
  local rc=$?
  cp "$B/config.json" "$C/config.json"   # as the runtime left it: what runc ran
  if [ $rc -eq 0 ]; then
    run "$name/start.log" runc --root "$STATE" start "cdi-$name"
    for _ in $(seq 1 120); do
      runc --root "$STATE" state "cdi-$name" 2>/dev/null | grep -q '"status": "stopped"' && break; sleep 0.5
    done
    run "$name/state.json" runc --root "$STATE" state "cdi-$name"
    run "$name/delete.log" runc --root "$STATE" delete --force "cdi-$name"
  fi
  return $rc
}
CASE_ENV='' CASE_ANN='' container no-request
if ! CASE_ENV='NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all' CASE_ANN='' container gpu-all; then
  for v in rootless mount-ns-only; do
    CASE_ENV='NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all' CASE_ANN='' container "gpu-all-$v" "$v" && break
  done
fi
CASE_ENV='NVIDIA_VISIBLE_DEVICES=0' CASE_ANN='' container gpu-index-0
CASE_ENV='' CASE_ANN="cdi.k8s.io/gpu-check=nvidia.com/gpu=${UUID:-GPU-unknown}" container gpu-uuid-annotation
CASE_ENV='NVIDIA_VISIBLE_DEVICES=runtime.nvidia.com/gpu=all' CASE_ANN='' container jit-all

# --- 5. back -----------------------------------------------------------------
echo "$(( $(date +%s) - T0 )) seconds in all" >>"$rcs"
tar -C "$W" -czf "$OUT/capture.tar.gz" capture
{ cat "$rcs"; echo; cat "$D/host.txt"; echo; cat "$D/versions.txt" 2>/dev/null
  for c in "$D"/*/container-output.txt; do echo "=== $c"; cat "$c"; done
  echo "=== cdi list"; cat "$D/cdi-list.txt" 2>/dev/null
  echo "=== cdi generate"; tail -20 "$D/cdi-generate.log.stderr" 2>/dev/null; tail -30 "$D/cdi-generate-debug.log.stderr" 2>/dev/null
  for f in "$D"/*/create.log.stderr "$D"/*/start.log.stderr; do [ -e "$f" ] && { echo "=== $f"; tail -15 "$f"; }; done
} >"$OUT/summary.txt" 2>&1
cat "$OUT/summary.txt"
