//go:build tools

// Package tools pins the container tools that tests/device/cuda_container_cdi.sh
// carries to a machine with a real NVIDIA GPU: NVIDIA's nvidia-ctk and
// nvidia-container-runtime, and runc. Built by tests/device/build_toolkit.sh.
package tools

import (
	_ "github.com/NVIDIA/nvidia-container-toolkit/cmd/nvidia-cdi-hook"
	_ "github.com/NVIDIA/nvidia-container-toolkit/cmd/nvidia-container-runtime"
	_ "github.com/NVIDIA/nvidia-container-toolkit/cmd/nvidia-ctk"
	_ "github.com/opencontainers/runc"
)
