#!/usr/bin/env bash
# Check a kind cluster config with kind's own code (tests/kind/main.go; docs/gitops.md):
#   tests/kind/kindcheck.sh [-k8s-version v1.34.0] CLUSTER.yaml   -> JSON report, exit 1 on error
# Builds the checker once (Go module tests/kind, sigs.k8s.io/kind v0.33.0) into
# .cache/kindcheck/<hash of go.mod, go.sum, main.go and the Go version>/kindcheck; a rerun
# builds nothing. The containerd config of kind's node image comes from the same kind module.
# Docker is not needed and kind is not run: no cluster is created.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
MOD="$ROOT/tests/kind"
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"
key="$(cd "$MOD" && { cat go.mod go.sum main.go; go version; } | sha256sum | cut -c1-16)"
bin="$ROOT/.cache/kindcheck/$key/kindcheck"
if [ ! -x "$bin" ]; then
  mkdir -p "$(dirname "$bin")"
  echo "kindcheck: building $bin" >&2
  (cd "$MOD" && nice -n 10 go build -trimpath -ldflags='-s -w' -o "$bin.tmp" . && mv "$bin.tmp" "$bin")
fi
kind_dir="$(cd "$MOD" && go list -m -f '{{.Dir}}' sigs.k8s.io/kind)"
exec "$bin" -containerd "$kind_dir/images/base/files/etc/containerd/config.toml" "$@"
