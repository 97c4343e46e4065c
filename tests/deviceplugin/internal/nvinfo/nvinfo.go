// Package nvinfo stands in for github.com/NVIDIA/go-nvlib/pkg/nvlib/info, the one part of the
// node that the plugin's validateFlags asks about: whether NVML is there (it decides only
// whether a cdi-* device list strategy is allowed). The checker answers "yes, as on a GPU
// node with its driver", where the plugin runs. Importing go-nvlib would pull in go-nvml.
package nvinfo

// Interface is the method of go-nvlib's info.Interface that validateFlags calls.
type Interface interface {
	HasNvml() (bool, string)
}

type withNvml struct{}

// HasNvml answers as a node with libnvidia-ml.so.1 does.
func (withNvml) HasNvml() (bool, string) {
	return true, "libnvidia-ml.so.1 (assumed: a GPU node with its driver)"
}

// New returns the stand-in for a node with NVML.
func New() Interface { return withNvml{} }
