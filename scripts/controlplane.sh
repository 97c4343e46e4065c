#!/usr/bin/env bash
# A real Kubernetes control plane for the lab, on 127.0.0.1 (test infrastructure only).
#
#   scripts/controlplane.sh build   build the binaries (cached under .cache/controlplane/<key>/bin)
#   scripts/controlplane.sh up      build if needed, generate certs + kubeconfig, start etcd,
#                                   kube-apiserver, kube-controller-manager, kube-scheduler and
#                                   kwok, wait until ready, create the simulated GPU nodes
#   scripts/controlplane.sh env     print `export KUBECONFIG=...` for the running plane
#   scripts/controlplane.sh down    stop exactly the processes `up` started (by their pid files)
#
# Binaries come from the Go module tests/controlplane (k8s.io/kubernetes and every k8s.io
# staging module pinned to one release, etcd at the version Kubernetes pins, sigs.k8s.io/kwok).
# Binaries are cached by a hash of what they are built from, so a rerun builds nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD="$ROOT/tests/controlplane"
# Go comes with the machine image (/usr/local/go); a shell whose PATH lacks it still finds it.
command -v go >/dev/null 2>&1 || [ ! -x /usr/local/go/bin/go ] || PATH="/usr/local/go/bin:$PATH"
STATE="${CP_STATE:-$ROOT/.cache/controlplane/run}"
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kwok etcd)

# What the binaries are made of: the module's requirements, the etcd entry point, the Go
# toolchain and the build line below (bump BUILD_REV when that changes).
BUILD_REV=1
cache_key() {
  (cd "$MOD" && { cat go.mod go.sum etcd/main.go; go version; echo "$BUILD_REV"; } | sha256sum | cut -c1-16)
}

bin_dir() { echo "$ROOT/.cache/controlplane/$(cache_key)/bin"; }

cmd_build() {
  local bin; bin="$(bin_dir)"
  local have=1
  for b in "${BINARIES[@]}"; do [ -x "$bin/$b" ] || have=0; done
  if [ "$have" = 1 ]; then
    echo "controlplane: binaries cached in $bin"
    return 0
  fi
  mkdir -p "$bin.tmp"
  echo "controlplane: building ${BINARIES[*]} into $bin (first build takes a while)"
  (cd "$MOD" && nice -n "${CP_NICE:-10}" go build -trimpath -ldflags='-s -w' -o "$bin.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler \
    sigs.k8s.io/kwok/cmd/kwok \
    ./etcd)
  # kwok's controller has no built-in stages (kwokctl passes them): take upstream's "fast"
  # node and pod stages from the same module version.
  local kwok_dir; kwok_dir="$(cd "$MOD" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)"
  mkdir -p "$bin.tmp/kwok-stages"
  cp "$kwok_dir/kustomize/stage/node/fast/node-initialize.yaml" \
     "$kwok_dir/kustomize/stage/node/heartbeat/node-heartbeat.yaml" \
     "$kwok_dir"/kustomize/stage/pod/fast/pod-*.yaml "$bin.tmp/kwok-stages/"
  rm -rf "$bin"
  mv "$bin.tmp" "$bin"
  echo "controlplane: built into $bin"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Certificates: one CA; a serving cert for the apiserver; client certs for the admin
# (system:masters), the controller-manager and the scheduler (their bootstrap RBAC identities);
# the service account signing key.
make_certs() {
  local d="$STATE/pki"
  mkdir -p "$d"
  (
    cd "$d"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=lab-controlplane-ca" \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,IP:10.0.0.1\n' > san.ext
    openssl req -newkey rsa:2048 -nodes -subj "/CN=kube-apiserver" -keyout apiserver.key -out apiserver.csr 2>/dev/null
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 \
      -extfile san.ext -out apiserver.crt 2>/dev/null
    local who subj
    for who in admin:/O=system:masters/CN=lab-admin \
               controller-manager:/CN=system:kube-controller-manager \
               scheduler:/CN=system:kube-scheduler \
               kwok:/O=system:masters/CN=kwok-controller; do
      subj="${who#*:}"; who="${who%%:*}"
      openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$who.key" -out "$who.csr" 2>/dev/null
      openssl x509 -req -in "$who.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -out "$who.crt" 2>/dev/null
    done
    rm -f ./*.csr
  )
}

write_kubeconfig() { # who server
  local who="$1" server="$2" d="$STATE/pki"
  umask 077
  cat > "$STATE/$who.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
  - name: lab
    cluster:
      server: $server
      certificate-authority: $d/ca.crt
contexts:
  - name: lab
    context: {cluster: lab, user: $who}
current-context: lab
users:
  - name: $who
    user:
      client-certificate: $d/$who.crt
      client-key: $d/$who.key
KC
}

start() { # name args...: start in the background, remember its pid
  local name="$1"; shift
  "$@" > "$STATE/log/$name.log" 2>&1 &
  echo $! > "$STATE/pid/$name"
}

wait_for() { # what seconds command...
  local what="$1" secs="$2"; shift 2
  local i
  for ((i = 0; i < secs * 4; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "controlplane: $what not ready after ${secs}s; last log lines:" >&2
  tail -n 20 "$STATE/log/"*.log >&2 || true
  return 1
}

curl_api() { # path
  curl -sf --cacert "$STATE/pki/ca.crt" --cert "$STATE/pki/admin.crt" --key "$STATE/pki/admin.key" \
    "https://127.0.0.1:$(cat "$STATE/apiserver.port")$1"
}

running() { [ -f "$STATE/pid/$1" ] && kill -0 "$(cat "$STATE/pid/$1")" 2>/dev/null; }

cmd_up() {
  if running kube-apiserver; then
    echo "controlplane: already up ($STATE)"; cmd_env; return 0
  fi
  cmd_build
  local bin; bin="$(bin_dir)"
  rm -rf "$STATE"
  mkdir -p "$STATE/log" "$STATE/pid"
  make_certs
  local etcd_port peer_port api_port cm_port sched_port kwok_port
  etcd_port="$(free_port)"; peer_port="$(free_port)"; api_port="$(free_port)"
  cm_port="$(free_port)"; sched_port="$(free_port)"; kwok_port="$(free_port)"
  echo "$api_port" > "$STATE/apiserver.port"
  # Audit log of every write (who, verb, URI incl. ?dryRun=All): tests read it to see what a
  # run sent to the API server.
  cat > "$STATE/audit-policy.yaml" <<AP
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    verbs: [get, list, watch]
  - level: Metadata
AP
  local server="https://127.0.0.1:$api_port" pki="$STATE/pki"
  for who in admin controller-manager scheduler kwok; do write_kubeconfig "$who" "$server"; done

  start etcd "$bin/etcd" --name lab --data-dir "$STATE/etcd" --unsafe-no-fsync \
    --listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
    --listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
    --initial-cluster "lab=http://127.0.0.1:$peer_port" --log-level warn
  wait_for etcd 30 curl -sf "http://127.0.0.1:$etcd_port/health"

  start kube-apiserver "$bin/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --client-ca-file "$pki/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
    --service-cluster-ip-range 10.0.0.0/24 \
    --authorization-mode Node,RBAC --allow-privileged=true \
    --kubelet-preferred-address-types InternalIP \
    --audit-policy-file "$STATE/audit-policy.yaml" --audit-log-path "$STATE/log/audit.log" \
    --enable-priority-and-fairness=false --profiling=false
  wait_for kube-apiserver 120 curl_api /readyz

  start kube-controller-manager "$bin/kube-controller-manager" \
    --kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authentication-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --authorization-kubeconfig "$STATE/controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$cm_port" --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
    --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller,-node-route-controller' \
    --profiling=false
  start kube-scheduler "$bin/kube-scheduler" \
    --kubeconfig "$STATE/scheduler.kubeconfig" \
    --authentication-kubeconfig "$STATE/scheduler.kubeconfig" \
    --authorization-kubeconfig "$STATE/scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$sched_port" --leader-elect=false --profiling=false
  local stages=() f
  # CP_KWOK_CONFIG: more kwok configuration files (colon separated), e.g. a test's
  # ClusterLogs (what a pod "printed") or a Stage for a failing container.
  local extra=()
  [ -z "${CP_KWOK_CONFIG:-}" ] || IFS=: read -r -a extra <<< "$CP_KWOK_CONFIG"
  for f in "$bin"/kwok-stages/*.yaml "$MOD"/kwok-stages/*.yaml "${extra[@]}"; do stages+=(--config "$f"); done
  # kwok also serves the kubelet API of its nodes (logs) on 127.0.0.1:$kwok_port.
  start kwok "$bin/kwok" "${stages[@]}" --kubeconfig "$STATE/kwok.kubeconfig" \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-ip 127.0.0.1 --node-port "$kwok_port" --node-lease-duration-seconds 40 \
    --tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
    --server-address "127.0.0.1:$kwok_port"
  local k
  wait_for kube-controller-manager 60 curl -sfk "https://127.0.0.1:$cm_port/healthz"
  wait_for kube-scheduler 60 curl -sfk "https://127.0.0.1:$sched_port/healthz"
  wait_for kwok 60 curl -sfk "https://127.0.0.1:$kwok_port/healthz"
  # the default service account exists once the controllers run
  wait_for "service account default/default" 60 curl_api /api/v1/namespaces/default/serviceaccounts/default
  for k in "${!BINARIES[@]}"; do running "${BINARIES[$k]}" || { echo "controlplane: ${BINARIES[$k]} exited" >&2; tail -n 20 "$STATE/log/${BINARIES[$k]}.log" >&2; return 1; }; done
  echo "controlplane: up at $server (state and logs in $STATE)"
  if [ -n "${CP_NODES:-}" ]; then cmd_nodes "$CP_NODES"; fi
  cmd_env
}

# Simulated nodes (kwok): a YAML/JSON list of {name, labels, gpus, taints, runtime_handlers}.
cmd_nodes() {
  "$ROOT/.venv/bin/python" "$MOD/nodes.py" --kubeconfig "$STATE/admin.kubeconfig" "$1"
}

cmd_env() {
  echo "export KUBECONFIG=$STATE/admin.kubeconfig"
}

cmd_down() {
  local name pid i
  [ -d "$STATE/pid" ] || { echo "controlplane: not running ($STATE)"; return 0; }
  for name in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$STATE/pid/$name" ] || continue
    pid="$(cat "$STATE/pid/$name")"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
      if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid" 2>/dev/null || true; fi
    fi
    rm -f "$STATE/pid/$name"
  done
  echo "controlplane: down"
}

case "${1:-}" in
  build) cmd_build ;;
  up) cmd_up ;;
  down) cmd_down ;;
  env) cmd_env ;;
  nodes) cmd_nodes "${2:?nodes file}" ;;
  *) echo "usage: $0 build|up|down|env|nodes FILE" >&2; exit 2 ;;
esac
