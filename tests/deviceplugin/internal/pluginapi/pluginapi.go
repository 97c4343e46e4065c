// Package pluginapi holds the one constant of k8s.io/kubelet/pkg/apis/deviceplugin/v1beta1
// that the plugin's flag list uses (the kubelet-socket default; it plays no part in reading
// the config). Importing the real package would pull in gRPC and protobuf for one string.
package pluginapi

// KubeletSocket is v1beta1.KubeletSocket (DevicePluginPath + "kubelet.sock").
const KubeletSocket = "/var/lib/kubelet/device-plugins/kubelet.sock"
