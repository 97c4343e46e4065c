// Test infrastructure only (docs/gitops.md): checks a rendered kind cluster config with
// kind's own decoder, Validate() and patchers. The module path sits under
// sigs.k8s.io/kind/pkg/cluster only so that Go lets it import kind's internal packages
// (config encoding + Validate, the kubeadm config template, the containerd/kubeadm
// patchers); it is not part of kind.
module sigs.k8s.io/kind/pkg/cluster/homelabkindcheck

go 1.22

require (
	github.com/pelletier/go-toml v1.9.5
	go.yaml.in/yaml/v3 v3.0.4
	sigs.k8s.io/kind v0.33.0
)

require (
	github.com/BurntSushi/toml v1.4.0 // indirect
	github.com/evanphx/json-patch/v5 v5.6.0 // indirect
	github.com/pkg/errors v0.9.1 // indirect
	sigs.k8s.io/yaml v1.4.0 // indirect
)
