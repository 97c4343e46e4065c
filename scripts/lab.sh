#!/usr/bin/env bash
# The homelab test lab: Debian bookworm systemd containers under podman.
#
#   scripts/lab.sh deps            install podman, runc, debootstrap (apt)
#   scripts/lab.sh image           build (or reuse) the node image; prints its name
#   scripts/lab.sh up NAME...      start (or restart) lab nodes; the fake
#                                  nvidia-smi is installed by Ansible
#                                  (tests/fake/install_fake_nvidia_smi.yml)
#   scripts/lab.sh down NAME...    remove lab nodes
#   scripts/lab.sh list            list lab nodes
#
# The image is cached by a hash of its recipe (this file's RECIPE block and
# the package list): it is rebuilt only when the recipe changes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"
LAB_LABEL=homelab.gpu_node.lab

# --- RECIPE (hashed) ---------------------------------------------------------
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,containerd,iproute2,procps,ca-certificates,sudo
IMAGE_REPO=localhost/gpu-node-lab
# --- end RECIPE --------------------------------------------------------------

log() { printf 'lab: %s\n' "$*" >&2; }

recipe_hash() {
  sed -n '/^# --- RECIPE/,/^# --- end RECIPE/p' "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12
}

image_name() { echo "$IMAGE_REPO:$(recipe_hash)"; }

cmd_deps() {
  local missing=()
  for bin in podman runc debootstrap; do
    command -v "$bin" >/dev/null 2>&1 || missing+=("$bin")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "podman, runc and debootstrap are installed"
    return 0
  fi
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq podman runc debootstrap >/dev/null
}

cmd_image() {
  local image
  image=$(image_name)
  if podman image exists "$image"; then
    podman tag "$image" "$IMAGE_REPO:latest"
    log "image $image is up to date (also tagged :latest)"
    echo "$image"
    return 0
  fi
  local dir
  dir=$(mktemp -d /var/tmp/gpu-node-lab.XXXXXX)
  log "building $image with debootstrap (about a minute)"
  debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$MIRROR" >"$dir.log" 2>&1 || {
    tail -n 30 "$dir.log" >&2
    rm -rf "$dir"
    log "debootstrap failed (log above)"
    return 1
  }
  rm -f "$dir.log"
  # systemd in a container: no getty, no udev trigger noise; keep journald small.
  chroot "$dir" systemctl mask getty@tty1.service console-getty.service \
    systemd-udevd.service systemd-udev-trigger.service >/dev/null 2>&1 || true
  # The lab node must not talk to a real GPU: nothing in the image provides one.
  echo "gpu-node-lab" >"$dir/etc/hostname"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | podman import --change 'CMD ["/sbin/init"]' \
    --change 'ENV container=podman' - "$image" >/dev/null 2>&1
  # Keep only the newest image of this repo.
  podman images --format '{{.Repository}}:{{.Tag}}' "$IMAGE_REPO" |
    grep -v -e ":$(recipe_hash)\$" -e ':latest$' | xargs -r podman rmi -f >/dev/null 2>&1 || true
  podman tag "$image" "$IMAGE_REPO:latest"
  rm -rf "$dir"
  log "built $image"
  echo "$image"
}

cmd_up() {
  [ $# -gt 0 ] || { echo "usage: lab.sh up NAME..." >&2; return 2; }
  local image name
  image=$(cmd_image)
  for name in "$@"; do
    if podman container exists "$name"; then
      podman rm -f "$name" >/dev/null
    fi
    podman run -d --name "$name" --hostname "$name" --label "$LAB_LABEL=1" \
      --systemd=always "$image" /sbin/init >/dev/null
  done
  # systemd needs a moment before Ansible can use the nodes.
  for name in "$@"; do
    for _ in $(seq 1 30); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
    log "node $name is up ($state)"
  done
}

cmd_down() {
  if [ $# -eq 0 ]; then
    mapfile -t nodes < <(podman ps -a --filter "label=$LAB_LABEL" --format '{{.Names}}')
    set -- "${nodes[@]}"
  fi
  [ $# -gt 0 ] || return 0
  podman rm -f "$@" >/dev/null
  log "removed: $*"
}

cmd_list() {
  podman ps -a --filter "label=$LAB_LABEL" --format '{{.Names}}\t{{.Status}}'
}

case "${1:-}" in
  deps) shift; cmd_deps "$@" ;;
  image) shift; cmd_image "$@" ;;
  up) shift; cmd_up "$@" ;;
  down) shift; cmd_down "$@" ;;
  list) shift; cmd_list "$@" ;;
  hash) recipe_hash ;;
  *) sed -n '2,15p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
