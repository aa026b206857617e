// Package link makes the kernel's network devices for containers over
// netlink: the bridge of a network, a veth pair per container with the
// inner end renamed eth0 in the container's namespace, addresses, the
// default route. No ip or brctl binary is involved.
package link

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// EnsureBridge creates bridge name with gateway gw (a prefix: the
// gateway and the subnet's length) and brings it up; one that is up is
// left as it is, and created says whether this call made it. A new
// bridge takes mtu, or with 0 the MTU of the host's uplink; its ports
// take the bridge's. It also lets the bridge route 127.0.0.1 DNAT (ports
// published on the host's loopback) and turns IPv4 forwarding on, as
// Docker does; with gw6 (a network with IPv6) the bridge has that
// address too, and IPv6 forwards.
func EnsureBridge(name string, gw, gw6 netip.Prefix, forward bool, mtu int) (created bool, err error) {
	br, err := netlink.LinkByName(name)
	if err == nil && br.Attrs().Flags&net.FlagUp != 0 {
		return false, nil // set up by an earlier container
	}
	if err != nil {
		created = true
		attrs := netlink.NewLinkAttrs()
		if mtu == 0 {
			mtu = UplinkMTU()
		}
		attrs.Name, attrs.MTU = name, mtu
		if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: attrs}); err != nil && !errors.Is(err, unix.EEXIST) {
			return created, fmt.Errorf("create bridge %s: %w", name, err)
		}
		if br, err = netlink.LinkByName(name); err != nil {
			return created, fmt.Errorf("find bridge %s: %w", name, err)
		}
	}
	addr := &netlink.Addr{IPNet: ipNet(gw)}
	if err := netlink.AddrAdd(br, addr); err != nil && !errors.Is(err, unix.EEXIST) {
		return created, fmt.Errorf("address %s on %s: %w", gw, name, err)
	}
	if gw6.IsValid() {
		if err := sysctl("net/ipv6/conf/"+name+"/disable_ipv6", "0"); err != nil {
			return created, err
		}
		// No duplicate address detection: the address is the network's
		// own, and a tentative one would refuse traffic for a second.
		if err := netlink.AddrAdd(br, &netlink.Addr{IPNet: ipNet(gw6), Flags: unix.IFA_F_NODAD}); err != nil && !errors.Is(err, unix.EEXIST) {
			return created, fmt.Errorf("address %s on %s: %w", gw6, name, err)
		}
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return created, fmt.Errorf("bring %s up: %w", name, err)
	}
	_ = sysctl("net/ipv4/conf/"+name+"/route_localnet", "1") // without it only 127.0.0.1 publishing fails, and says nothing; the rest of the bridge works
	if forward {
		if err := sysctl("net/ipv4/ip_forward", "1"); err != nil {
			return created, err
		}
		if gw6.IsValid() {
			if err := sysctl("net/ipv6/conf/all/forwarding", "1"); err != nil {
				return created, err
			}
		}
	}
	return created, nil
}

func sysctl(key, val string) error {
	p := "/proc/sys/" + key
	if b, err := os.ReadFile(p); err == nil && string(b) == val+"\n" {
		return nil
	}
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", key, val, err)
	}
	return nil
}

// Delete removes a device; a missing one is not an error.
func Delete(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	return nil
}

// Exists reports whether a device of that name exists.
func Exists(name string) bool {
	_, err := netlink.LinkByName(name)
	return err == nil
}

// Endpoint is a container's side of one network.
type Endpoint struct {
	HostVeth string       // the host end, a port of Bridge
	Bridge   string       // the network's bridge
	IfName   string       // the name inside (eth0, eth1, …)
	Addr     netip.Prefix // the container's address and the subnet's length
	Gateway  netip.Addr   // the default route, when DefaultRoute
	// Addr6 and Gateway6 are the IPv6 ones, on a network with IPv6.
	Addr6    netip.Prefix
	Gateway6 netip.Addr
	MAC      net.HardwareAddr
	// DefaultRoute: the first network of a container routes its traffic.
	DefaultRoute bool
	// LinkLocal are more addresses on the interface (--link-local-ip).
	LinkLocal []netip.Prefix
}

// Plumb connects the network namespace at nsPath to a bridge: a veth
// pair is made in the host's namespace, its inner end moved into the
// container's, renamed, addressed and brought up with a default route;
// both ends take the bridge's MTU.
// On error nothing it made remains.
func Plumb(nsPath string, ep Endpoint) (err error) {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close() // a namespace handle: the link is in it now
	br, err := netlink.LinkByName(ep.Bridge)
	if err != nil {
		return fmt.Errorf("find bridge %s: %w", ep.Bridge, err)
	}
	tmpPeer := "bp" + strconv.Itoa(os.Getpid()) + ep.IfName
	if len(tmpPeer) > 15 {
		tmpPeer = tmpPeer[:15]
	}
	attrs := netlink.NewLinkAttrs()
	attrs.Name, attrs.MTU, attrs.MasterIndex = ep.HostVeth, br.Attrs().MTU, br.Attrs().Index
	veth := &netlink.Veth{LinkAttrs: attrs, PeerName: tmpPeer, PeerNamespace: netlink.NsFd(ns), PeerHardwareAddr: ep.MAC}
	err = netlink.LinkAdd(veth)
	for try := 0; errors.Is(err, unix.EEXIST) && try < 50; try++ {
		// The host end's name is the endpoint's own (its container and
		// network): one that exists is the previous run's, which the
		// kernel deletes with that run's namespace, later. A start right
		// after an exit (kill, then start) meets it.
		if Delete(ep.HostVeth) != nil || try > 0 {
			time.Sleep(10 * time.Millisecond) // the kernel's cleanup of the old namespace is under way
		}
		err = netlink.LinkAdd(veth)
	}
	if err != nil {
		return fmt.Errorf("create veth %s: %w", ep.HostVeth, err)
	}
	defer func() {
		if err != nil {
			Delete(ep.HostVeth) // takes the peer with it
		}
	}()
	host, err := netlink.LinkByName(ep.HostVeth)
	if err != nil {
		return fmt.Errorf("find %s: %w", ep.HostVeth, err)
	}
	// A container that reaches its own published port goes out and back
	// through the same bridge port.
	_ = netlink.LinkSetHairpin(host, true) // hairpin serves a container reaching its own published port; the rest works without it
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("bring %s up: %w", ep.HostVeth, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", nsPath, err)
	}
	defer h.Close()
	peer, err := h.LinkByName(tmpPeer)
	if err != nil {
		return fmt.Errorf("find %s in the container: %w", tmpPeer, err)
	}
	if err := h.LinkSetName(peer, ep.IfName); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmpPeer, ep.IfName, err)
	}
	if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(ep.Addr)}); err != nil {
		return fmt.Errorf("address %s on %s: %w", ep.Addr, ep.IfName, err)
	}
	if ep.Addr6.IsValid() {
		if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(ep.Addr6), Flags: unix.IFA_F_NODAD}); err != nil {
			return fmt.Errorf("address %s on %s: %w", ep.Addr6, ep.IfName, err)
		}
	}
	for _, ll := range ep.LinkLocal {
		if err := h.AddrAdd(peer, &netlink.Addr{IPNet: ipNet(ll)}); err != nil {
			return fmt.Errorf("link-local address %s on %s: %w", ll, ep.IfName, err)
		}
	}
	if err := h.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bring %s up: %w", ep.IfName, err)
	}
	if ep.DefaultRoute {
		gw := net.IP(ep.Gateway.AsSlice())
		if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: gw}); err != nil {
			return fmt.Errorf("default route via %s: %w", ep.Gateway, err)
		}
		if ep.Gateway6.IsValid() {
			if err := h.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: net.IP(ep.Gateway6.AsSlice()), Family: netlink.FAMILY_V6}); err != nil {
				return fmt.Errorf("default route via %s: %w", ep.Gateway6, err)
			}
		}
	}
	return nil
}

// ReplaceDefaultRoute makes the default route of the namespace at
// nsPath go through gw (and gw6, when valid) on its interface ifName, in
// place of any other: a network of a higher gw-priority joined or one
// left.
func ReplaceDefaultRoute(nsPath, ifName string, gw, gw6 netip.Addr) error {
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		return fmt.Errorf("open network namespace %s: %w", nsPath, err)
	}
	defer ns.Close() // a namespace handle, done with
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("netlink in %s: %w", nsPath, err)
	}
	defer h.Close() // a netlink handle, done with
	l, err := h.LinkByName(ifName)
	if err != nil {
		return fmt.Errorf("find %s in the container: %w", ifName, err)
	}
	_, any4, _ := net.ParseCIDR("0.0.0.0/0") // a literal: cannot fail
	r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(gw.AsSlice()), Dst: any4}
	if err := h.RouteReplace(r); err != nil {
		return fmt.Errorf("default route via %s on %s: %w", gw, ifName, err)
	}
	if gw6.IsValid() {
		_, any6, _ := net.ParseCIDR("::/0") // a literal: cannot fail
		r := &netlink.Route{LinkIndex: l.Attrs().Index, Gw: net.IP(gw6.AsSlice()), Dst: any6, Family: netlink.FAMILY_V6}
		if err := h.RouteReplace(r); err != nil {
			return fmt.Errorf("default route via %s on %s: %w", gw6, ifName, err)
		}
	}
	return nil
}

// UplinkMTU is the MTU of the device of the host's default route, 1500
// when there is none.
func UplinkMTU() int {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return 1500
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() {
			if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil && l.Attrs().MTU > 0 {
				return l.Attrs().MTU
			}
		}
	}
	return 1500
}

// HostRoutes are the IPv4 prefixes the host routes to, except the
// default route: a new network must not overlap them.
func HostRoutes() []netip.Prefix { return hostRoutes(netlink.FAMILY_V4) }

// HostRoutes6 are the IPv6 ones, except link-local and multicast ones:
// a new network's IPv6 subnet must not overlap them.
func HostRoutes6() []netip.Prefix { return hostRoutes(netlink.FAMILY_V6) }

func hostRoutes(family int) []netip.Prefix {
	routes, err := netlink.RouteList(nil, family)
	if err != nil {
		return nil
	}
	var out []netip.Prefix
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() || family == netlink.FAMILY_V6 && (r.Dst.IP.IsLinkLocalUnicast() || r.Dst.IP.IsMulticast()) {
			continue
		}
		a, ok := netip.AddrFromSlice(r.Dst.IP)
		ones, _ := r.Dst.Mask.Size()
		if ok {
			out = append(out, netip.PrefixFrom(a.Unmap(), ones).Masked())
		}
	}
	return out
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
