package engine

import (
	"fmt"
	"maps"
	"net"
	"net/netip"
	"strings"

	mobyevents "github.com/moby/moby/api/types/events"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/network"
)

// NetworkCreateOptions are network create's.
type NetworkCreateOptions struct {
	Name string
	// Driver is "bridge" (or ""), the only one.
	Driver string
	// Subnet, Gateway and IPRange in CIDR and address form; "" picks a
	// free subnet and its first address.
	Subnet, Gateway, IPRange string
	// EnableIPv6 adds an IPv6 subnet (dual stack): Subnet6, or a unique
	// local /64 drawn for the network; Gateway6 and IPRange6 as above.
	EnableIPv6                  bool
	Subnet6, Gateway6, IPRange6 string
	// Internal: no traffic leaves the network.
	Internal bool
	// Attachable is kept and shown (Swarm's, meaningless on one host,
	// as Docker keeps it); Scope is "local" or "": berth has no swarm.
	Attachable bool
	Scope      string
	Labels     map[string]string
	// Options are the bridge driver's (-o): com.docker.network.bridge.name
	// and com.docker.network.driver.mtu act; Docker's others are refused
	// unless they ask for its default; any other key is kept.
	Options map[string]string
	// AuxAddresses (name -> address) are never handed to containers.
	AuxAddresses map[string]string
	// IPAMDriver is "default" (or ""), the only one; IPAMOptions are
	// kept and shown, as Docker's default IPAM keeps them.
	IPAMDriver  string
	IPAMOptions map[string]string
}

// NetworkCreate makes a user-defined bridge network and returns its ID.
// Nothing is made in the kernel until a container joins it.
func (e *Engine) NetworkCreate(o NetworkCreateOptions) (string, error) {
	if o.Driver != "" && o.Driver != "bridge" {
		return "", invalid(fmt.Errorf("network driver %q: only bridge is supported", o.Driver))
	}
	if o.Scope != "" && o.Scope != "local" {
		return "", invalid(fmt.Errorf("network scope %q: berth networks are local (no swarm)", o.Scope))
	}
	if o.IPAMDriver != "" && o.IPAMDriver != "default" {
		return "", invalid(fmt.Errorf("IPAM driver %q: only default is supported", o.IPAMDriver))
	}
	n, err := e.networks.Create(network.CreateOptions{Name: o.Name, Subnet: o.Subnet, Gateway: o.Gateway, IPRange: o.IPRange,
		EnableIPv6: o.EnableIPv6, Subnet6: o.Subnet6, Gateway6: o.Gateway6, IPRange6: o.IPRange6, Internal: o.Internal, Attachable: o.Attachable, Labels: o.Labels, Options: o.Options, AuxAddresses: o.AuxAddresses, IPAMOptions: o.IPAMOptions})
	if err != nil {
		return "", classify(err)
	}
	e.networkEvent(mobyevents.ActionCreate, n, "")
	return n.ID, nil
}

// NetworkList lists networks, as Docker's network ls: filters name=,
// id=, driver=, label=, label!=, scope=, type=.
func (e *Engine) NetworkList(f Filters) ([]mobynetwork.Inspect, error) {
	if err := f.check("name", "id", "driver", "label", "label!", "scope", "type", "dangling"); err != nil {
		return nil, err
	}
	nets, err := e.networks.List()
	if err != nil {
		return nil, err
	}
	// The networks, then the pre-defined host and none, through one set
	// of filters.
	type candidate struct {
		name, id, driver, kind string
		labels                 map[string]string
		inspect                func() (mobynetwork.Inspect, error)
	}
	var cands []candidate
	for _, n := range nets {
		kind := "custom"
		if !n.UserDefined() {
			kind = "builtin"
		}
		cands = append(cands, candidate{n.Name, n.ID, n.Driver, kind, n.Labels, func() (mobynetwork.Inspect, error) { return e.networkInspect(n) }})
	}
	for _, p := range predefined {
		cands = append(cands, candidate{p.name, predefinedID(p.name), p.driver, "builtin", nil,
			func() (mobynetwork.Inspect, error) { return e.predefinedInspect(p.name, p.driver) }})
	}
	out := []mobynetwork.Inspect{}
	for _, c := range cands {
		if !f.any("name", func(v string) bool { return strings.Contains(c.name, v) }) ||
			!f.any("id", func(v string) bool { return strings.HasPrefix(c.id, v) }) ||
			!f.any("driver", func(v string) bool { return v == c.driver }) ||
			!f.any("scope", func(v string) bool { return v == "local" }) ||
			!f.any("type", func(v string) bool { return v == c.kind }) || !f.labels(c.labels) {
			continue
		}
		in, err := c.inspect()
		if err != nil {
			return nil, err
		}
		if keep, err := keepDangling(f, in); err != nil || !keep {
			if err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, in)
	}
	return out, nil
}

// keepDangling applies the dangling= filter: a network no container is
// on is dangling.
func keepDangling(f Filters, in mobynetwork.Inspect) (bool, error) {
	d, set, err := f.boolean("dangling")
	if err != nil || !set {
		return err == nil, err
	}
	return (len(in.Containers) == 0) == d, nil
}

// NetworkInspect describes a network as Docker's network inspect does,
// with the containers on it; host and none are the pre-defined ones.
func (e *Engine) NetworkInspect(ref string) (mobynetwork.Inspect, error) {
	n, err := e.networks.Get(ref)
	if err != nil {
		if name, driver := findPredefined(ref); name != "" {
			return e.predefinedInspect(name, driver)
		}
		return mobynetwork.Inspect{}, classify(err)
	}
	return e.networkInspect(n)
}

func (e *Engine) networkInspect(n *network.Network) (mobynetwork.Inspect, error) {
	eps, err := e.networks.Endpoints(n)
	if err != nil {
		return mobynetwork.Inspect{}, err
	}
	cfgs := []mobynetwork.IPAMConfig{{Subnet: n.Subnet, Gateway: n.Gateway, IPRange: n.IPRange, AuxAddress: n.AuxAddresses}}
	if n.EnableIPv6 {
		cfgs = append(cfgs, mobynetwork.IPAMConfig{Subnet: n.Subnet6, Gateway: n.Gateway6, IPRange: n.IPRange6})
	}
	labels := n.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	opts := maps.Clone(n.Options)
	if opts == nil {
		opts = map[string]string{}
	}
	opts[network.OptBridgeName] = n.Bridge
	in := mobynetwork.Inspect{
		Network: mobynetwork.Network{Name: n.Name, ID: n.ID, Created: n.Created, Scope: "local", Driver: n.Driver, EnableIPv4: true, EnableIPv6: n.EnableIPv6,
			IPAM:     mobynetwork.IPAM{Driver: "default", Options: n.IPAMOptions, Config: cfgs},
			Internal: n.Internal, Attachable: n.Attachable, Options: opts, Labels: labels},
		Containers: map[string]mobynetwork.EndpointResource{},
	}
	for _, ep := range eps {
		r := mobynetwork.EndpointResource{Name: ep.Name, EndpointID: ep.HostVeth, IPv4Address: ep.Addr, IPv6Address: ep.Addr6}
		if hw, err := net.ParseMAC(ep.MAC); err == nil {
			r.MacAddress = mobynetwork.HardwareAddr(hw)
		}
		in.Containers[ep.Container] = r
	}
	return in, nil
}

// NetworkRemove removes a user-defined network no container is on.
func (e *Engine) NetworkRemove(ref string) error {
	n, err := e.networks.Get(ref)
	if err != nil {
		if name, _ := findPredefined(ref); name != "" {
			return refusePredefined(name)
		}
		return classify(err)
	}
	if err := e.networks.Remove(n.ID); err != nil {
		return classify(err)
	}
	e.networkEvent(mobyevents.ActionDestroy, n, "")
	return nil
}

// networkEvent records a network event; ctr is the container of a
// connect or disconnect.
func (e *Engine) networkEvent(action mobyevents.Action, n *network.Network, ctr string) {
	attrs := map[string]string{"name": n.Name, "type": "bridge"}
	if ctr != "" {
		attrs["container"] = ctr
	}
	e.emit(mobyevents.NetworkEventType, action, n.ID, attrs)
}

// NetworksPrune removes the networks no container is on (label=,
// label!=, until= filters), and returns their names.
func (e *Engine) NetworksPrune(f Filters) (mobynetwork.PruneReport, error) {
	rep := mobynetwork.PruneReport{NetworksDeleted: []string{}}
	if err := f.check("label", "label!", "until"); err != nil {
		return rep, err
	}
	if len(f) == 0 {
		names, err := e.networks.Prune()
		rep.NetworksDeleted = append(rep.NetworksDeleted, names...)
		for _, n := range names {
			e.emit(mobyevents.NetworkEventType, mobyevents.ActionDestroy, n, map[string]string{"name": n, "type": "bridge"})
		}
		return rep, err
	}
	until, err := f.until(timeNow())
	if err != nil {
		return rep, err
	}
	nets, err := e.networks.List()
	if err != nil {
		return rep, err
	}
	for _, n := range nets {
		if !n.UserDefined() || !f.labels(n.Labels) || !until.IsZero() && !n.Created.Before(until) {
			continue
		}
		eps, err := e.networks.Endpoints(n)
		if err != nil {
			return rep, err
		}
		if len(eps) > 0 {
			continue
		}
		if err := e.networks.Remove(n.ID); err != nil {
			return rep, classify(err)
		}
		e.networkEvent(mobyevents.ActionDestroy, n, "")
		rep.NetworksDeleted = append(rep.NetworksDeleted, n.Name)
	}
	return rep, nil
}

// EndpointOptions are a container's on one network.
type EndpointOptions struct {
	// IP (and IP6, on a network with IPv6) is the address to take; ""
	// is any free one.
	IP, IP6 string
	Aliases []string
	MAC     string   // "" derives it from the IP
	Links   []string // TARGET:ALIAS, named in the container's /etc/hosts from its next start
	// LinkLocalIPs are more addresses on the interface, from no pool.
	LinkLocalIPs []string
	// DriverOpts are the endpoint's driver options, kept and shown.
	DriverOpts map[string]string
	// GwPriority: of the container's networks, the one of the highest
	// gives the default route (Docker's --gw-priority).
	GwPriority int
}

// NetworkConnect puts a container on one more network, now if it runs,
// and for its next starts.
func (e *Engine) NetworkConnect(netRef, ctrRef string, o EndpointOptions) error {
	c, err := e.get(ctrRef)
	if err != nil {
		return err
	}
	links, err := parseLinks(o.Links)
	if err != nil {
		return err
	}
	a := network.Attachment{Network: netRef, Aliases: o.Aliases, Links: links, GwPriority: o.GwPriority}
	if o.MAC != "" {
		if a.MAC, err = net.ParseMAC(o.MAC); err != nil {
			return invalid(fmt.Errorf("--mac-address %q: not a MAC address", o.MAC))
		}
	}
	if o.IP != "" {
		if a.IP, err = netip.ParseAddr(o.IP); err != nil || !a.IP.Is4() {
			return invalid(fmt.Errorf("--ip %q: not an IPv4 address", o.IP))
		}
	}
	if o.IP6 != "" {
		if a.IP6, err = netip.ParseAddr(o.IP6); err != nil || !a.IP6.Is6() {
			return invalid(fmt.Errorf("--ip6 %q: not an IPv6 address", o.IP6))
		}
	}
	if a.LinkLocalIPs, err = parseLinkLocal(o.LinkLocalIPs); err != nil {
		return err
	}
	if err := e.connectNetwork(c, a, links, o.DriverOpts); err != nil {
		return classify(err)
	}
	if n, err := e.networks.Get(netRef); err == nil {
		e.networkEvent(mobyevents.ActionConnect, n, c.ID)
	}
	return nil
}

// NetworkDisconnect takes a container off a network, now and for its
// next starts.
func (e *Engine) NetworkDisconnect(netRef, ctrRef string) error {
	c, err := e.get(ctrRef)
	if err != nil {
		return err
	}
	n, err := e.networks.Get(netRef)
	if err != nil {
		return classify(err)
	}
	if err := e.disconnectNetwork(c, netRef); err != nil {
		return classify(err)
	}
	e.networkEvent(mobyevents.ActionDisconnect, n, c.ID)
	return nil
}
