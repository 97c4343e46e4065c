#!/usr/bin/env bash
# The homelab test lab: Debian bookworm systemd containers under podman.
#
#   scripts/lab.sh deps            install podman, runc, debootstrap, openssh-client (apt)
#   scripts/lab.sh image           build (or reuse) the node image; prints its name
#   scripts/lab.sh up NAME...      start (or restart) lab nodes; the fake
#                                  nvidia-smi is installed by Ansible
#                                  (tests/fake/install_fake_nvidia_smi.yml)
#   scripts/lab.sh down NAME...    remove lab nodes (without NAME: only the nodes
#                                  this checkout started, never anyone else's)
#   scripts/lab.sh list            list lab nodes
#   scripts/lab.sh ssh-config      rewrite .cache/lab/ssh_config for the running nodes
#
# Nodes run sshd: the demo and the bench reach them over SSH as users reach
# their GPU nodes (pipelining, ControlPersist), with the lab key
# .cache/lab/ssh/id_ed25519 and .cache/lab/ssh_config (Host NAME -> the
# container's address). Molecule scenarios use the podman connection instead.
#
# The image is cached by a hash of its recipe (this file's RECIPE block and
# the package list): it is rebuilt only when the recipe changes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$ROOT/lab/containers.conf}"
LAB_LABEL=homelab.gpu_node.lab
# Which checkout started a node: `down` without names removes only its own.
OWNER_LABEL=homelab.gpu_node.lab.owner

# --- RECIPE (hashed) ---------------------------------------------------------
SUITE=bookworm
MIRROR=http://deb.debian.org/debian
PACKAGES=systemd,systemd-sysv,dbus,python3,python3-apt,containerd,iproute2,procps,ca-certificates,sudo,openssh-server
IMAGE_REPO=localhost/gpu-node-lab
# --- end RECIPE --------------------------------------------------------------

SSH_DIR="$ROOT/.cache/lab/ssh"
SSH_CONFIG="$ROOT/.cache/lab/ssh_config"

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
  command -v ssh-keygen >/dev/null 2>&1 || missing+=(openssh-client)
  if [ ${#missing[@]} -eq 0 ]; then
    log "podman, runc, debootstrap and openssh-client are installed"
    return 0
  fi
  log "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
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
    podman run -d --name "$name" --hostname "$name" --label "$LAB_LABEL=1" --label "$OWNER_LABEL=$ROOT" \
      --systemd=always "$image" /sbin/init >/dev/null
  done
  # systemd needs a moment before Ansible can use the nodes.
  for name in "$@"; do
    for _ in $(seq 1 30); do
      state=$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running|degraded) break ;; esac
      sleep 1
    done
    ssh_authorize "$name"
    log "node $name is up ($state)"
  done
  cmd_ssh_config
}

# The lab's own key pair (no passphrase; it opens only these containers).
ssh_authorize() {
  local name=$1
  mkdir -p "$SSH_DIR"
  [ -f "$SSH_DIR/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C homelab-gpu-node-lab -f "$SSH_DIR/id_ed25519"
  podman exec -i "$name" sh -c 'mkdir -p -m 0700 /root/.ssh && cat > /root/.ssh/authorized_keys && chmod 0600 /root/.ssh/authorized_keys' \
    <"$SSH_DIR/id_ed25519.pub"
}

cmd_ssh_config() {
  local name ip
  mkdir -p "$(dirname "$SSH_CONFIG")"
  {
    echo "# Written by scripts/lab.sh: the running lab nodes (podman containers)."
    podman ps --filter "label=$LAB_LABEL" --format '{{.Names}}' | sort | while read -r name; do
      ip=$(podman inspect -f '{{.NetworkSettings.IPAddress}}' "$name")
      [ -n "$ip" ] || { log "node $name has no IP address: not reachable over SSH"; continue; }
      printf 'Host %s\n  HostName %s\n  User root\n  IdentityFile %s\n  IdentitiesOnly yes\n' \
        "$name" "$ip" "$SSH_DIR/id_ed25519"
      printf '  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n'
    done
  } >"$SSH_CONFIG.tmp"
  mv "$SSH_CONFIG.tmp" "$SSH_CONFIG"
}

cmd_down() {
  if [ $# -eq 0 ]; then
    mapfile -t nodes < <(podman ps -a --filter "label=$LAB_LABEL" --filter "label=$OWNER_LABEL=$ROOT" --format '{{.Names}}')
    set -- "${nodes[@]}"
  fi
  [ $# -gt 0 ] || return 0
  podman rm -f "$@" >/dev/null
  log "removed: $*"
  cmd_ssh_config
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
  ssh-config) shift; cmd_ssh_config "$@" ;;
  hash) recipe_hash ;;
  *) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 2 ;;
esac
