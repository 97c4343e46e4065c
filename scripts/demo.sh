#!/usr/bin/env bash
# `make demo`: three lab nodes (podman, systemd, no GPU: each FAKE nvidia-smi
# replays a real capture), then site.yml against them with the Windows stage
# skipped (there is no Windows host) and the cluster stage in render mode
# (there is no kube-apiserver), a per-node summary, and a second run that
# must report changed=0.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
INV=inventory/lab/hosts.yml
# lab.sh up recreates the nodes (same names, maybe the same addresses): SSH control
# masters left by an earlier run would multiplex onto the removed containers and hang.
# This run's masters live in a directory of its own.
ANSIBLE_SSH_CONTROL_PATH_DIR=$(mktemp -d /tmp/gpu-lab-cp.XXXXXX)
export ANSIBLE_SSH_CONTROL_PATH_DIR
trap 'rm -rf "$ANSIBLE_SSH_CONTROL_PATH_DIR"' EXIT
LOGS=.cache/lab
mkdir -p "$LOGS"

mapfile -t nodes < <(ansible gpu_nodes -i "$INV" --list-hosts | tail -n +2 | tr -d ' ')
scripts/lab.sh up "${nodes[@]}"
ansible-playbook -i "$INV" lab/prepare.yml >"$LOGS/prepare.log"

recap() { sed -n '/PLAY RECAP/,$p' "$1"; }

echo "== site.yml, first run (log: $LOGS/site-1.log)"
ansible-playbook -i "$INV" playbooks/site.yml --skip-tags windows_host | tee "$LOGS/site-1.log" >/dev/null
recap "$LOGS/site-1.log"

echo "== what the lab nodes got"
ansible-playbook -i "$INV" lab/summary.yml | sed -n '/TASK \[Summary/,/PLAY RECAP/p' | grep -v '^PLAY RECAP'

echo "== site.yml, second run: every host must report changed=0 (log: $LOGS/site-2.log)"
ansible-playbook -i "$INV" playbooks/site.yml --skip-tags windows_host | tee "$LOGS/site-2.log" >/dev/null
recap "$LOGS/site-2.log"
if recap "$LOGS/site-2.log" | grep -Eq 'changed=[1-9]'; then
  echo "demo: the second run changed something (see $LOGS/site-2.log)" >&2
  exit 1
fi
echo "demo: second run changed nothing."
echo "Lab nodes are still running (${nodes[*]}); 'make lab-down' removes them."
