// Copyright (c) 2026, homelab.gpu_node contributors
// GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
// SPDX-License-Identifier: GPL-3.0-or-later

// kindcheck validates a kind cluster config (kind.x-k8s.io/v1alpha4) the way `kind create
// cluster --config` reads it, without Docker:
//
//  1. kind's own loader (encoding.Parse: strict YAML decoding, unknown fields are errors,
//     then defaulting and conversion to the internal config) and kind's own Validate();
//  2. for every node, kind's kubeadm config template (the version kind uses for
//     -k8s-version) patched with the cluster's and the node's kubeadmConfigPatches by
//     kind's own patcher; prints the node's resulting kubelet node-labels and taints;
//  3. the containerd config of kind's node image (-containerd, from kind's source tree)
//     patched with containerdConfigPatches by kind's own TOML patcher; prints the runtimes.
//
// Output is JSON on stdout; exit 1 with the error on stderr when anything fails.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	toml "github.com/pelletier/go-toml"
	yaml "go.yaml.in/yaml/v3"

	"sigs.k8s.io/kind/pkg/cluster/internal/kubeadm"
	"sigs.k8s.io/kind/pkg/internal/apis/config"
	"sigs.k8s.io/kind/pkg/internal/apis/config/encoding"
	"sigs.k8s.io/kind/pkg/internal/patch"
)

type nodeReport struct {
	Role        string              `json:"role"`
	Labels      map[string]string   `json:"labels"`
	NodeLabels  string              `json:"kubelet_node_labels"`
	Taints      []map[string]string `json:"taints"`
	ExtraMounts []string            `json:"extra_mounts"`
}

type report struct {
	Name               string                    `json:"name"`
	Nodes              []nodeReport              `json:"nodes"`
	ContainerdRuntimes map[string]map[string]any `json:"containerd_runtimes"`
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "kindcheck: "+format+"\n", args...)
	os.Exit(1)
}

// kind joins node labels into kubelet's --node-labels as sorted key=value pairs
// (pkg/cluster/internal/create/actions/config); same here.
func nodeLabels(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func main() {
	k8sVersion := flag.String("k8s-version", "v1.34.0", "Kubernetes version of the node image (picks kind's kubeadm template)")
	containerdBase := flag.String("containerd", "", "containerd config.toml of kind's node image (images/base/files/etc/containerd/config.toml)")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: kindcheck [-k8s-version v1.34.0] [-containerd config.toml] CLUSTER.yaml")
	}
	raw, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fail("%v", err)
	}
	cfg, err := encoding.Parse(raw)
	if err != nil {
		fail("kind could not load the config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		fail("kind's Validate() rejected the config: %v", err)
	}
	out := report{Name: cfg.Name}
	for i, n := range cfg.Nodes {
		data := kubeadm.ConfigData{
			ClusterName:          cfg.Name,
			KubernetesVersion:    *k8sVersion,
			ControlPlaneEndpoint: cfg.Name + "-control-plane:6443",
			APIBindPort:          6443,
			APIServerAddress:     "127.0.0.1",
			NodeProvider:         "docker",
			ControlPlane:         n.Role == config.ControlPlaneRole,
			NodeAddress:          fmt.Sprintf("172.18.0.%d", i+2),
			NodeName:             fmt.Sprintf("%s-node-%d", cfg.Name, i),
			Token:                "abcdef.0123456789abcdef",
			KubeProxyMode:        string(cfg.Networking.KubeProxyMode),
			PodSubnet:            cfg.Networking.PodSubnet,
			ServiceSubnet:        cfg.Networking.ServiceSubnet,
			IPFamily:             cfg.Networking.IPFamily,
			NodeLabels:           nodeLabels(n.Labels),
		}
		base, err := kubeadm.Config(data)
		if err != nil {
			fail("node %d: kind's kubeadm template: %v", i, err)
		}
		patched, err := patch.KubeYAML(base, append(append([]string{}, cfg.KubeadmConfigPatches...), n.KubeadmConfigPatches...),
			append(append([]config.PatchJSON6902{}, cfg.KubeadmConfigPatchesJSON6902...), n.KubeadmConfigPatchesJSON6902...))
		if err != nil {
			fail("node %d: kind could not apply the kubeadm patches: %v", i, err)
		}
		nr := nodeReport{Role: string(n.Role), Labels: n.Labels, Taints: []map[string]string{}, ExtraMounts: []string{}}
		for _, m := range n.ExtraMounts {
			nr.ExtraMounts = append(nr.ExtraMounts, fmt.Sprintf("%s:%s:ro=%t", m.HostPath, m.ContainerPath, m.Readonly))
		}
		// the document kubeadm uses for this node: InitConfiguration on the first control
		// plane, JoinConfiguration on every other node
		want := "JoinConfiguration"
		if i == 0 {
			want = "InitConfiguration"
		}
		dec := yaml.NewDecoder(strings.NewReader(patched))
		found := false
		for {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				if err == io.EOF {
					break
				}
				fail("node %d: patched kubeadm config is not YAML: %v", i, err)
			}
			if doc["kind"] != want {
				continue
			}
			found = true
			reg, _ := doc["nodeRegistration"].(map[string]any)
			// kubeletExtraArgs: a map up to kubeadm v1beta3, a list of {name, value} from v1beta4
			switch args := reg["kubeletExtraArgs"].(type) {
			case map[string]any:
				nr.NodeLabels = fmt.Sprint(args["node-labels"])
			case []any:
				for _, a := range args {
					if m, ok := a.(map[string]any); ok && m["name"] == "node-labels" {
						nr.NodeLabels = fmt.Sprint(m["value"])
					}
				}
			}
			if taints, ok := reg["taints"].([]any); ok {
				for _, t := range taints {
					m, _ := t.(map[string]any)
					taint := map[string]string{}
					for k, v := range m {
						taint[k] = fmt.Sprint(v)
					}
					nr.Taints = append(nr.Taints, taint)
				}
			}
		}
		if !found {
			fail("node %d: no %s in the patched kubeadm config", i, want)
		}
		out.Nodes = append(out.Nodes, nr)
	}
	if *containerdBase != "" {
		baseTOML, err := os.ReadFile(*containerdBase)
		if err != nil {
			fail("%v", err)
		}
		patched, err := patch.ContainerdTOML(string(baseTOML), cfg.ContainerdConfigPatches, cfg.ContainerdConfigPatchesJSON6902)
		if err != nil {
			fail("kind could not apply the containerd config patches: %v", err)
		}
		tree, err := toml.Load(patched)
		if err != nil {
			fail("patched containerd config is not TOML: %v", err)
		}
		runtimes, ok := tree.GetPath([]string{"plugins", "io.containerd.grpc.v1.cri", "containerd", "runtimes"}).(*toml.Tree)
		if !ok {
			fail("patched containerd config has no CRI runtimes table")
		}
		out.ContainerdRuntimes = map[string]map[string]any{}
		for name, v := range runtimes.ToMap() {
			if m, ok := v.(map[string]any); ok {
				out.ContainerdRuntimes[name] = m
			}
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		fail("%v", err)
	}
}
