package engine

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/network/dns"
	"github.com/berth-project/berth/internal/network/usermode"
	"github.com/berth-project/berth/internal/rootless"
)

// DefaultRoot is the storage root whose kernel objects get the plain
// names (berth0, table berth); other roots get names of their own.
const DefaultRoot = "/var/lib/berth"

// checkNetworking validates a new container's network flags and fills
// in its first network, so that a bad flag fails create and leaves
// nothing.
func (e *Engine) checkNetworking(c *container.Container, primary container.NetworkAttachment, extras []container.NetworkAttachment) error {
	h := &c.Host
	if !h.OwnNetworkNamespace() {
		if len(h.Publish) > 0 || h.PublishAll {
			return fmt.Errorf("published ports need a network: --network %s has none of its own", h.NetworkMode)
		}
		if primary.IP != "" || primary.IP6 != "" || len(primary.Aliases) > 0 || primary.MAC != "" || len(primary.LinkLocalIPs) > 0 || len(extras) > 0 {
			return fmt.Errorf("--ip, --ip6, --network-alias, --mac-address, --link-local-ip and more networks need a network of the container's own, not %s", h.NetworkMode)
		}
		return nil
	}
	h.Networks = nil
	for i, a := range append([]container.NetworkAttachment{primary}, extras...) {
		name := a.Name
		if i == 0 {
			name = h.NetworkMode
		}
		n, err := e.networks.Get(name)
		if err != nil {
			return err
		}
		if (a.IP != "" || a.IP6 != "" || len(a.Aliases) > 0) && !n.UserDefined() {
			return fmt.Errorf("--ip, --ip6 and --network-alias are only for user-defined networks, not %s", n.Name)
		}
		if a.IP != "" {
			ip, err := netip.ParseAddr(a.IP)
			if err != nil || !n.Subnet.Contains(ip) {
				return fmt.Errorf("--ip %q: not an address in %s (%s)", a.IP, n.Name, n.Subnet)
			}
		}
		if a.IP6 != "" {
			ip, err := netip.ParseAddr(a.IP6)
			if err != nil || !n.Subnet6.Contains(ip) {
				if !n.EnableIPv6 {
					return fmt.Errorf("--ip6 %q: network %s has no IPv6 (network create --ipv6)", a.IP6, n.Name)
				}
				return fmt.Errorf("--ip6 %q: not an address in %s (%s)", a.IP6, n.Name, n.Subnet6)
			}
		}
		if _, err := parseLinkLocal(a.LinkLocalIPs); err != nil {
			return err
		}
		a.Name = n.Name
		h.Networks = append(h.Networks, a)
	}
	if _, err := e.publishSpecs(c); err != nil {
		return err
	}
	for _, x := range h.ExtraHosts {
		if _, _, err := network.ParseExtraHost(x); err != nil {
			return err
		}
	}
	for _, d := range h.DNS {
		if _, err := netip.ParseAddr(d); err != nil {
			return fmt.Errorf("--dns %q: not an IP address", d)
		}
	}
	return nil
}

// publishSpecs are the container's -p, and -P's exposed ports.
func (e *Engine) publishSpecs(c *container.Container) ([]network.PortSpec, error) {
	var out []network.PortSpec
	for _, p := range c.Host.Publish {
		ps, err := network.ParsePublish(p)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	if c.Host.PublishAll {
		keys := make([]string, 0, len(c.Config.ExposedPorts))
		for k := range c.Config.ExposedPorts {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p, err := network.ExposedPort(k)
			if err != nil {
				return nil, err
			}
			if !slices.ContainsFunc(out, func(o network.PortSpec) bool { return o.ContainerPort == p.ContainerPort && o.Proto == p.Proto }) {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// prepareEtc makes the container's hosts and resolv.conf before it is
// created: written now without a network of its own; empty (mount
// points) for one that gets networks, whose files connectNetworks writes
// once the container has its address.
func (e *Engine) prepareEtc(c *container.Container, etc string) error {
	if !c.Host.OwnNetworkNamespace() {
		return network.WriteEtc(etc, etcConfig(c))
	}
	for _, f := range []string{"hosts", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(etc, f), nil, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// etcConfig is what the container's /etc files are made from.
func etcConfig(c *container.Container) network.EtcConfig {
	return network.EtcConfig{Hostname: c.Config.Hostname, Domainname: c.Config.Domainname, NetworkMode: c.Host.NetworkMode,
		ExtraHosts: c.Host.ExtraHosts, DNS: c.Host.DNS, DNSSearch: c.Host.DNSSearch, DNSOptions: c.Host.DNSOptions}
}

// networkPlan is the monitor's network step, between create and
// start, as data: nil for none (the runtime brought lo up in the new
// namespace) or a shared namespace; else the request for the container's
// networks and published ports, its /etc files (with linkHosts, its
// links' names), and its name server's upstreams.
func (e *Engine) networkPlan(c *container.Container, linkHosts []string) (*monitor.NetworkPlan, error) {
	if !c.Host.OwnNetworkNamespace() {
		return nil, nil
	}
	ports, err := e.publishSpecs(c)
	if err != nil {
		return nil, err
	}
	p := &monitor.NetworkPlan{Root: e.networks.Root, Isolated: e.networks.Isolated,
		Request: network.Request{Container: c.ID, Name: c.Name, Ports: ports},
		Etc:     etcConfig(c), EtcDir: filepath.Join(e.containers.Dir(c.ID), "etc")}
	if rootless.Active() {
		return userModePlan(c, p)
	}
	p.Etc.ExtraHosts = append(slices.Clip(p.Etc.ExtraHosts), linkHosts...)
	for _, a := range c.Host.Networks {
		at := network.Attachment{Network: a.Name, Aliases: a.Aliases, Links: a.Links, GwPriority: a.GwPriority}
		if a.MAC != "" {
			if at.MAC, err = net.ParseMAC(a.MAC); err != nil {
				return nil, fmt.Errorf("--mac-address %q: %w", a.MAC, err) // create checked it
			}
		}
		if a.IP != "" {
			if at.IP, err = netip.ParseAddr(a.IP); err != nil {
				return nil, fmt.Errorf("--ip %q: %w", a.IP, err) // create checked it
			}
		}
		if a.IP6 != "" {
			if at.IP6, err = netip.ParseAddr(a.IP6); err != nil {
				return nil, fmt.Errorf("--ip6 %q: %w", a.IP6, err) // create checked it
			}
		}
		if at.LinkLocalIPs, err = parseLinkLocal(a.LinkLocalIPs); err != nil {
			return nil, err // create checked them
		}
		p.Request.Networks = append(p.Request.Networks, at)
	}
	p.Upstreams = dns.HostResolvers("/etc/resolv.conf")
	if len(c.Host.DNS) > 0 {
		p.Upstreams = nil
		for _, d := range c.Host.DNS {
			p.Upstreams = append(p.Upstreams, d+":53")
		}
	}
	return p, nil
}

// parseLinkLocal reads --link-local-ip addresses: any IPv4 or IPv6
// address, as Docker takes them.
func parseLinkLocal(ips []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, s := range ips {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, invalid(fmt.Errorf("--link-local-ip %q: not an IP address", s))
		}
		out = append(out, a)
	}
	return out, nil
}

// disconnectAll is the idempotent network teardown for a container
// whose monitor is gone.
func (e *Engine) disconnectAll(c *container.Container) error {
	if !c.Host.OwnNetworkNamespace() {
		return nil
	}
	err := errors.Join(e.networks.Disconnect(c.ID), e.networks.DeleteVeths(c.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// connectNetwork puts a running container on one more network and
// records it for its next starts, with the endpoint's driver options.
func (e *Engine) connectNetwork(c *container.Container, a network.Attachment, links []string, driverOpts map[string]string) error {
	if !c.Host.OwnNetworkNamespace() {
		return fmt.Errorf("container %s uses --network %s: it cannot join networks", c.Name, c.Host.NetworkMode)
	}
	n, err := e.networks.Get(a.Network)
	if err != nil {
		return err
	}
	if slices.ContainsFunc(c.Host.Networks, func(x container.NetworkAttachment) bool { return x.Name == n.Name }) {
		return fmt.Errorf("container %s is already on network %s", c.Name, n.Name)
	}
	if c.State.Status == container.Running {
		req := network.Request{Container: c.ID, Name: c.Name, NsPath: "/proc/" + strconv.Itoa(c.State.Pid) + "/ns/net"}
		if _, err := e.networks.ConnectOne(req, a, len(e.networks.EndpointsOf(c.ID))); err != nil {
			return err
		}
	}
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		at := container.NetworkAttachment{Name: n.Name, Aliases: a.Aliases, Links: links, DriverOpts: driverOpts, GwPriority: a.GwPriority}
		if a.MAC != nil {
			at.MAC = a.MAC.String()
		}
		if a.IP.IsValid() {
			at.IP = a.IP.String()
		}
		if a.IP6.IsValid() {
			at.IP6 = a.IP6.String()
		}
		for _, ll := range a.LinkLocalIPs {
			at.LinkLocalIPs = append(at.LinkLocalIPs, ll.String())
		}
		cur.Host.Networks = append(cur.Host.Networks, at)
		return nil
	})
	return err
}

// disconnectNetwork takes a container off a network, now and for its
// next starts.
func (e *Engine) disconnectNetwork(c *container.Container, ref string) error {
	n, err := e.networks.Get(ref)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(c.Host.Networks, func(x container.NetworkAttachment) bool { return x.Name == n.Name }) {
		return fmt.Errorf("container %s is not connected to network %s", c.Name, n.Name)
	}
	if c.State.Status == container.Running {
		if err := e.networks.DisconnectOne(c.ID, n.Name, "/proc/"+strconv.Itoa(c.State.Pid)+"/ns/net"); err != nil {
			return err
		}
	}
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		cur.Host.Networks = slices.DeleteFunc(cur.Host.Networks, func(x container.NetworkAttachment) bool { return x.Name == n.Name })
		// Off its last network the container keeps its mode, as Docker's:
		// its namespace stays its own, to be connected again.
		if len(cur.Host.Networks) > 0 {
			cur.Host.NetworkMode = cur.Host.Networks[0].Name
		}
		return nil
	})
	return err
}

// userModePlan is a rootless container's network: the user-mode one
// (internal/network/usermode) for the default network, which needs root
// as a bridge, with its ports forwarded from the host's namespace.
// User-defined networks need root.
func userModePlan(c *container.Container, p *monitor.NetworkPlan) (*monitor.NetworkPlan, error) {
	for _, a := range c.Host.Networks {
		if a.Name != network.DefaultName {
			return nil, invalid(fmt.Errorf("network %s: rootless berth has the default network (user-mode), none and host; user-defined networks need root", a.Name))
		}
	}
	um := &monitor.UserModePlan{}
	for _, ps := range p.Request.Ports {
		um.Ports = append(um.Ports, usermode.Port{HostIP: ps.HostIP, HostPort: ps.HostPort, ContainerPort: ps.ContainerPort, Proto: ps.Proto})
	}
	if err := usermode.Check(); err != nil {
		return nil, invalid(err)
	}
	if err := usermode.CheckPorts(um.Ports); err != nil {
		return nil, invalid(err)
	}
	p.Request = network.Request{Container: c.ID, Name: c.Name}
	p.UserMode = um
	return p, nil
}
