# -*- coding: utf-8 -*-
# Copyright (c) 2026, homelab.gpu_node contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Per-model time-slicing profiles: replicas derived from a GPU's memory.

The rule (documented in docs/gpu-profiles.md):
  replicas = floor(VRAM in whole GiB / share_gib), at most max_replicas;
  fewer than 2 shares -> a "not shared" profile (config version v1 without sharing: one pod
  per GPU; time-slicing gives no memory isolation, so a share smaller than share_gib invites
  out-of-memory errors). A model whose memory is unknown gets no profile.
Default share_gib is 6 (one quantised 7B model or one speech/TTS service); the homelabs'
choices come out of it: RTX 3090 (24 GiB) 4 shares, A2 (16 GB, 15 GiB usable) 2 shares.
Every profile sets failRequestsGreaterThanOne: a pod asking for 2 shares of a time-sliced
GPU gets no more GPU time or memory than with 1, so the request is refused instead of
silently holding shares other users need.

Controller side and pure; gpu_cluster feeds the result to nvidia_device_plugin_config.
"""

from __future__ import annotations

SHARE_GIB = 6
MAX_REPLICAS = 8

# Memory as nvidia-smi reports it (memory_total_mib), for models named by the homelab
# setups, used only when the facts lack memory_total_mib.
KNOWN_MEMORY_MIB = {
    "NVIDIA GeForce RTX 4090": 24564,
    "NVIDIA GeForce RTX 3090": 24576,
    "NVIDIA A2": 15356,
    "Tesla T4": 15360,
    "NVIDIA T4": 15360,
}


class GpuProfileError(Exception):
    """Bad profile options or GPU data."""


def whole_gib(memory_mib):
    """MiB as nvidia-smi reports it -> whole GiB (24564 MiB -> 24: boards report a little under)."""
    return int(round(float(memory_mib) / 1024.0))


def replicas_for(memory_mib, share_gib=SHARE_GIB, max_replicas=MAX_REPLICAS):
    """Time-slicing replicas for a GPU with this much memory; 1 = do not share."""
    if share_gib <= 0 or max_replicas < 2:
        raise GpuProfileError("share_gib must be > 0 and max_replicas >= 2 (got %r, %r)" % (share_gib, max_replicas))
    shares = whole_gib(memory_mib) // int(share_gib)
    return max(1, min(int(max_replicas), shares))


def model_memory(model, gpus):
    """Smallest memory_total_mib among the GPUs of this model, else the known table, else None."""
    sizes = [g.get("memory_total_mib") for g in gpus if g.get("name") == model and g.get("memory_total_mib")]
    if sizes:
        return min(int(s) for s in sizes)
    return KNOWN_MEMORY_MIB.get(model)


def profile(model, memory_mib, share_gib=SHARE_GIB, max_replicas=MAX_REPLICAS):
    """The per_model entry (nvidia_device_plugin_config) for one model; None when its memory is unknown."""
    if memory_mib is None:
        return None
    replicas = replicas_for(memory_mib, share_gib, max_replicas)
    if replicas < 2:
        # listed, not shared: the node gets its own config key (one pod per GPU)
        return {"model": model, "config": {"version": "v1"}}
    return {
        "model": model,
        "time_slicing": {
            "replicas": replicas,
            "rename_by_default": False,
            "fail_requests_greater_than_one": True,
        },
    }


def profiles(hosts_gpus, explicit=None, share_gib=SHARE_GIB, max_replicas=MAX_REPLICAS):
    """Profiles for every model on the GPU nodes that has no explicit entry.

    hosts_gpus: {host: ansible_facts.nvidia} (or {host: [gpus]}); explicit: the user's
    per_model entries (their models are left alone). MIG-enabled GPUs are skipped: they
    are partitioned, not time-sliced, by these profiles.
    """
    taken = {str(e.get("model", "")).strip().lower() for e in (explicit or []) if isinstance(e, dict)}
    all_gpus = []
    for value in (hosts_gpus or {}).values():
        gpus = value.get("gpus", []) if isinstance(value, dict) else (value or [])
        if not isinstance(gpus, list):
            raise GpuProfileError("gpus must be a list, got %r" % (gpus,))
        all_gpus.extend(g for g in gpus if isinstance(g, dict) and not _mig(g))
    out = []
    for model in sorted({g.get("name") for g in all_gpus if g.get("name")}):
        if model.strip().lower() in taken:
            continue
        entry = profile(model, model_memory(model, all_gpus), share_gib, max_replicas)
        if entry:
            out.append(entry)
    return out


def _mig(gpu):
    mode = gpu.get("mig_mode")
    if isinstance(mode, dict):
        mode = mode.get("current")
    return str(mode or "").lower() == "enabled"
