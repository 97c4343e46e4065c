#!/usr/bin/env bash
# Builds the container tools that tests/device/cuda_container_cdi.sh carries to a
# machine with a real NVIDIA GPU (that machine has none and cannot download any):
# nvidia-ctk, nvidia-cdi-hook and nvidia-container-runtime from NVIDIA's
# nvidia-container-toolkit, and runc, at the versions tests/device/toolkit/go.mod pins.
# Output: ${1:-.cache/device-tools}/bin; rebuilt only when go.mod/go.sum change.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
MOD=$ROOT/tests/device/toolkit
DEST=${1:-$ROOT/.cache/device-tools}
export PATH=$PATH:/usr/local/go/bin
key=$(cat "$MOD/go.mod" "$MOD/go.sum" "$0" | sha256sum | cut -c1-16)
if [ -f "$DEST/key" ] && [ "$(cat "$DEST/key")" = "$key" ]; then
  echo "device tools up to date in $DEST"; exit 0
fi
rm -rf "$DEST"; mkdir -p "$DEST/bin"
cd "$MOD"
tk=$(go list -m -f '{{.Version}}' github.com/NVIDIA/nvidia-container-toolkit)
rc=$(go list -m -f '{{.Version}}' github.com/opencontainers/runc)
info=github.com/NVIDIA/nvidia-container-toolkit/internal/info
# As the toolkit's Makefile builds them: cgo (go-nvml dlopens libnvidia-ml), with
# NVML's symbols left unresolved until run time.
ext='-Wl,--export-dynamic -Wl,--unresolved-symbols=ignore-in-object-files -Wl,-z,lazy'
for cmd in nvidia-ctk nvidia-cdi-hook nvidia-container-runtime; do
  CGO_ENABLED=1 go build -trimpath -o "$DEST/bin/$cmd" \
    -ldflags "-s -w '-extldflags=$ext' -X $info.version=${tk#v}" \
    github.com/NVIDIA/nvidia-container-toolkit/cmd/$cmd
done
# runc: static (no glibc version to match on the GPU machine), without seccomp
# (no libseccomp here); nsenter needs cgo.
CGO_ENABLED=1 go build -trimpath -tags 'netgo osusergo' -o "$DEST/bin/runc" \
  -ldflags "-s -w -extldflags -static -X main.version=${rc#v}" github.com/opencontainers/runc
{ echo "nvidia-container-toolkit $tk"; echo "runc $rc"; go version; ldd --version | sed -n 1p; } >"$DEST/versions.txt"
echo "$key" >"$DEST/key"
ls -l "$DEST/bin"; du -sh "$DEST"
