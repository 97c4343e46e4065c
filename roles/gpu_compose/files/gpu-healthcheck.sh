#!/bin/sh
# GPU health check for a compose dev container (homelab.gpu_node.gpu_compose).
# Tells the three states apart, one line on stdout each:
#   gpu-ready: <nvidia-smi -L lines>         exit 0  GPU asked for and usable
#   cpu-fallback: ...                        exit 0  no GPU asked for (NVIDIA_VISIBLE_DEVICES
#                                                    unset, void or none): the container runs on CPU
#   gpu-unavailable: ...                     exit 1  GPU asked for but nvidia-smi is missing or
#                                                    fails (no driver, driver/library mismatch)
# Docker marks the container unhealthy on exit 1, so a GPU container that silently lost
# its GPU does not pass for a healthy one.
# NVIDIA_SMI overrides the nvidia-smi looked up on PATH (tests).
smi="${NVIDIA_SMI:-nvidia-smi}"
devices="${NVIDIA_VISIBLE_DEVICES-}"

case "$devices" in
  ""|void|none)
    echo "cpu-fallback: NVIDIA_VISIBLE_DEVICES=${devices:-unset}, no GPU requested; running on CPU"
    exit 0
    ;;
esac

if ! command -v "$smi" >/dev/null 2>&1; then
  echo "gpu-unavailable: NVIDIA_VISIBLE_DEVICES=$devices but $smi is not in the container" \
       "(is the service using the nvidia runtime with the utility capability?)"
  exit 1
fi

out=$("$smi" -L 2>&1)
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "gpu-unavailable: $smi -L failed (exit $rc): $(printf '%s\n' "$out" | head -n 1)"
  exit 1
fi
if [ -z "$out" ]; then
  echo "gpu-unavailable: $smi -L listed no GPU (NVIDIA_VISIBLE_DEVICES=$devices)"
  exit 1
fi
echo "gpu-ready: $(printf '%s' "$out" | tr '\n' ';')"
exit 0
