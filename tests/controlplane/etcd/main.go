// Command etcd is upstream etcd's own server entry point (go.etcd.io/etcd/server/v3/etcdmain),
// built at the version k8s.io/kubernetes pins, for the lab control plane.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
