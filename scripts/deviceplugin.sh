#!/usr/bin/env bash
# The NVIDIA device plugin's own config loading, for tests (docs/device-plugin-upstream.md).
#
#   scripts/deviceplugin.sh build           build tests/deviceplugin once (cached by content hash)
#   scripts/deviceplugin.sh bin             build if needed, print the checker's path
#   scripts/deviceplugin.sh check ARGS...   build if needed, run `dpconfigcheck ARGS...`
#
# The binary is cached in .cache/deviceplugin/<hash>/dpconfigcheck, keyed by every source file
# of the Go module (its go.mod/go.sum, our .go files, the vendored v0.20.0 sources), the Go
# version and BUILD_REV: a rerun builds nothing. A build counts only when the checker's
# selfcheck passes (startup.go is still upstream's cmd/nvidia-device-plugin code).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD="$ROOT/tests/deviceplugin"
UPSTREAM_MAIN="$MOD/third_party/k8s-device-plugin/cmd/nvidia-device-plugin/main.go"
# Go comes with the machine image (/usr/local/go); a shell whose PATH lacks it still finds it.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"

BUILD_REV=1
cache_key() {
  (cd "$MOD" && {
    find . -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | LC_ALL=C sort -z \
      | xargs -0 sha256sum
    go version
    echo "$BUILD_REV"
  } | sha256sum | cut -c1-16)
}

bin_path() { echo "$ROOT/.cache/deviceplugin/$(cache_key)/dpconfigcheck"; }

cmd_build() {
  local bin; bin="$(bin_path)"
  if [ -x "$bin" ]; then
    echo "deviceplugin: checker cached in $bin" >&2
    return 0
  fi
  local dir; dir="$(dirname "$bin")"
  mkdir -p "$dir"
  echo "deviceplugin: building the config checker (k8s-device-plugin v0.20.0 api/config/v1) into $dir" >&2
  local t0=$SECONDS
  (cd "$MOD" && nice -n "${DP_NICE:-10}" go build -trimpath -ldflags='-s -w' -o "$bin.tmp" .)
  "$bin.tmp" selfcheck "$UPSTREAM_MAIN" >&2
  mv "$bin.tmp" "$bin"
  echo "deviceplugin: built in $((SECONDS - t0))s" >&2
}

case "${1:-}" in
  build) cmd_build ;;
  bin) cmd_build; bin_path ;;
  check) shift; cmd_build; exec "$(bin_path)" "$@" ;;
  *) echo "usage: $0 build|bin|check ARGS..." >&2; exit 2 ;;
esac
