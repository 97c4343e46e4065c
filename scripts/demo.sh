#!/usr/bin/env bash
# `make demo`: start three lab nodes and show what the collection finds there.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
mapfile -t nodes < <(ansible-inventory -i inventory/lab/hosts.yml --list | python3 -c \
  'import json,sys; d=json.load(sys.stdin); print("\n".join(sorted(d["_meta"]["hostvars"])))')
scripts/lab.sh up "${nodes[@]}"
ansible-playbook -i inventory/lab/hosts.yml lab/demo.yml
echo
echo "Lab nodes are still running (${nodes[*]}); 'make lab-down' removes them."
