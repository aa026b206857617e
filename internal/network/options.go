package network

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/network/link"
)

// The bridge driver's options (-o) that berth acts on, named as Docker's.
const (
	OptBridgeName = "com.docker.network.bridge.name"
	OptMTU        = "com.docker.network.driver.mtu"
)

// defaultOptions are Docker's bridge options that berth's bridge has
// only as Docker's default: asking for that default is accepted, any
// other value refused.
var defaultOptions = map[string]string{
	"com.docker.network.bridge.enable_icc":           "true",
	"com.docker.network.bridge.enable_ip_masquerade": "true",
	"com.docker.network.bridge.host_binding_ipv4":    "0.0.0.0",
}

// applyOptions sets n's bridge name and MTU from the driver's options,
// and keeps them all for inspect. An option of Docker's driver that
// berth does not have is refused, rather than ignored; others (a
// plugin's, a user's) are kept, as Docker keeps them.
func (n *Network) applyOptions(opts map[string]string, others []*Network) error {
	for k, v := range opts {
		switch {
		case k == OptBridgeName:
			if err := checkBridgeName(v, others); err != nil {
				return fmt.Errorf("-o %s=%s: %w", k, v, err)
			}
			n.Bridge = v
		case k == OptMTU:
			mtu, err := strconv.Atoi(v)
			if err != nil || mtu < 68 || mtu > 65535 {
				return fmt.Errorf("-o %s=%s: an MTU is a number from 68 to 65535", k, v)
			}
			n.MTU = mtu
		case strings.HasPrefix(k, "com.docker.network."):
			if def, ok := defaultOptions[k]; !ok || !strings.EqualFold(v, def) {
				return fmt.Errorf("network option %s=%s is not supported by berth's bridge driver", k, v)
			}
		}
	}
	if len(opts) > 0 {
		n.Options = opts
	}
	return nil
}

// checkBridgeName refuses a name the kernel would refuse, one another
// network has, and one a device already has: removing the network
// deletes its bridge, which must never be a device berth did not make.
func checkBridgeName(name string, others []*Network) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("not a device name (1 to 15 characters, no '/', ':' or space)")
	}
	for _, o := range others {
		if o.Bridge == name {
			return fmt.Errorf("network %s has that bridge", o.Name)
		}
	}
	if link.Exists(name) {
		return fmt.Errorf("a device of that name exists already")
	}
	return nil
}

// setAuxAddresses keeps the addresses (name=address) that the
// network's IPAM never hands out: a host or a router on the subnet.
func (n *Network) setAuxAddresses(aux map[string]string) error {
	for name, s := range aux {
		a, err := netip.ParseAddr(s)
		if err != nil || !n.Subnet.Contains(a) {
			return fmt.Errorf("--aux-address %s=%s: not an address in %s", name, s, n.Subnet)
		}
		if a == n.Gateway {
			return fmt.Errorf("--aux-address %s=%s: that is the gateway", name, s)
		}
		if n.AuxAddresses == nil {
			n.AuxAddresses = map[string]netip.Addr{}
		}
		n.AuxAddresses[name] = a
	}
	return nil
}
