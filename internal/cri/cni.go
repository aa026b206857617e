package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/types"
	types100 "github.com/containernetworking/cni/pkg/types/100"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// CNI is the pod network that CNI plugins make, as a kubelet's node
// has it configured: the first network configuration of a directory
// (by name, as the kubelet picks), the plugins' directories, and where
// libcni caches each pod's result. Without a configuration, pods are on
// berth's own bridge.
type CNI struct {
	conf *libcni.NetworkConfigList
	cni  *libcni.CNIConfig
}

// LoadCNI reads the first configuration in confDir; none there is a
// nil CNI and no error.
func LoadCNI(confDir string, binDirs []string, cacheDir string) (*CNI, error) {
	files, err := libcni.ConfFiles(confDir, []string{".conflist", ".conf", ".json"})
	if err != nil || len(files) == 0 {
		return nil, nil // no directory, or nothing in it: berth's bridge
	}
	sort.Strings(files)
	var list *libcni.NetworkConfigList
	if filepath.Ext(files[0]) == ".conflist" {
		list, err = libcni.ConfListFromFile(files[0])
	} else {
		var c *libcni.NetworkConfig
		if c, err = libcni.ConfFromFile(files[0]); err == nil {
			list, err = libcni.ConfListFromConf(c)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("CNI configuration %s: %w", files[0], err)
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, err
	}
	return &CNI{conf: list, cni: libcni.NewCNIConfigWithCacheDir(binDirs, cacheDir, nil)}, nil
}

// Name is the network's, for notes and errors.
func (n *CNI) Name() string { return n.conf.Name }

// runtimeConf is what the plugins are told of a pod: the arguments a
// kubelet's runtime passes, and its host ports as the portMappings
// capability (which the portmap plugin serves).
func (n *CNI) runtimeConf(id, netns string, md *runtimeapi.PodSandboxMetadata, pms []*runtimeapi.PortMapping) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: "eth0", Args: [][2]string{
		{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", md.GetNamespace()}, {"K8S_POD_NAME", md.GetName()},
		{"K8S_POD_INFRA_CONTAINER_ID", id}, {"K8S_POD_UID", md.GetUid()}}}
	var ports []map[string]any
	for _, pm := range pms {
		if pm.HostPort == 0 {
			continue // published nowhere, as on berth's bridge
		}
		ports = append(ports, map[string]any{"hostPort": pm.HostPort, "containerPort": pm.ContainerPort,
			"protocol": strings.ToLower(pm.Protocol.String()), "hostIP": pm.HostIp})
	}
	if len(ports) > 0 {
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// add puts the sandbox id, whose network namespace is netns, on the
// network, and returns its first address.
func (n *CNI) add(ctx context.Context, id, netns string, md *runtimeapi.PodSandboxMetadata, pms []*runtimeapi.PortMapping) (string, error) {
	res, err := n.cni.AddNetworkList(ctx, n.conf, n.runtimeConf(id, netns, md, pms))
	if err != nil {
		return "", fmt.Errorf("CNI network %s: add pod %s: %w", n.conf.Name, id, err)
	}
	return firstIP(res)
}

// del takes the sandbox off the network; netns may be gone ("") once
// the sandbox stopped, and the plugins release what they hold anyway.
func (n *CNI) del(ctx context.Context, id, netns string, md *runtimeapi.PodSandboxMetadata) error {
	if err := n.cni.DelNetworkList(ctx, n.conf, n.runtimeConf(id, netns, md, nil)); err != nil {
		return fmt.Errorf("CNI network %s: delete pod %s: %w", n.conf.Name, id, err)
	}
	return nil
}

// ip is the sandbox's address from the cached result of its add, ""
// without one.
func (n *CNI) ip(id string, md *runtimeapi.PodSandboxMetadata) string {
	res, err := n.cni.GetNetworkListCachedResult(n.conf, n.runtimeConf(id, "", md, nil))
	if err != nil || res == nil {
		return ""
	}
	ip, _ := firstIP(res) // no address: none to show
	return ip
}

// firstIP is a CNI result's first address.
func firstIP(res types.Result) (string, error) {
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return "", err
	}
	if len(r.IPs) == 0 {
		return "", errNoAddress
	}
	return r.IPs[0].Address.IP.String(), nil
}

var errNoAddress = errors.New("the CNI result has no address")
