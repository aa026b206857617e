package monitor

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/network/dns"
	"github.com/berth-project/berth/internal/network/names"
	"github.com/berth-project/berth/internal/network/usermode"
)

// NetworkPlan is how the monitor puts a created container on its
// networks, from what the engine decided: the network manager's root,
// the request (the container's namespace is filled in from its init's
// pid), and what its /etc/hosts and resolv.conf say.
type NetworkPlan struct {
	Root     string            `json:"root"`
	Isolated bool              `json:"isolated,omitempty"`
	Request  network.Request   `json:"request"`
	Etc      network.EtcConfig `json:"etc"`
	// EtcDir holds the hosts and resolv.conf bind-mounted into the
	// container, rewritten in place once it has its address.
	EtcDir string `json:"etcDir"`
	// Upstreams are the name server's, for names it does not know.
	Upstreams []string `json:"upstreams,omitempty"`
	// UserMode, for a rootless container on the default network, is its
	// user-mode network instead of a bridge: the ports it publishes.
	UserMode *UserModePlan `json:"userMode,omitempty"`
}

// UserModePlan is a rootless container's user-mode network.
type UserModePlan struct {
	Ports []usermode.Port `json:"ports,omitempty"`
	MTU   int             `json:"mtu,omitempty"`
}

func (p *NetworkPlan) manager() *network.Manager {
	return &network.Manager{Root: p.Root, Isolated: p.Isolated}
}

// nameServer is a container's name server: its socket at 127.0.0.11
// in the container's namespace, and what it answers from. The idle
// stage takes it over with the container.
type nameServer struct {
	conn      net.PacketConn
	dir       string // the store's networks, which names.Lookup reads
	container string
	upstreams []string
}

// connect puts the container whose init is pid on its networks, writes
// its /etc files with its address, and on a user-defined network serves
// its names at 127.0.0.11 from this process (ns). The function it
// returns undoes it all once the container has exited.
func (p *NetworkPlan) connect(pid int) (func(), *nameServer, error) {
	if p.UserMode != nil {
		undo, err := p.connectUserMode(pid)
		return undo, nil, err
	}
	m := p.manager()
	req := p.Request
	req.NsPath = "/proc/" + strconv.Itoa(pid) + "/ns/net"
	eps, err := m.Connect(req)
	if err != nil {
		return nil, nil, err
	}
	// Undoes a connect that failed half-way, whose error is the one to
	// report; what it leaves, the next start or rm tears down.
	teardown := func() { _ = m.Disconnect(req.Container) }
	cfg := p.Etc
	cfg.Endpoints = eps
	if err := network.WriteEtc(p.EtcDir, cfg); err != nil {
		teardown()
		return nil, nil, err
	}
	if !slices.ContainsFunc(eps, func(ep network.Endpoint) bool { return ep.Network != network.DefaultName }) {
		return teardown, nil, nil
	}
	pc, err := dns.ListenInNamespace(req.NsPath)
	if err != nil {
		teardown()
		return nil, nil, fmt.Errorf("start the name server: %w", err)
	}
	ns := &nameServer{conn: pc, dir: m.RecordsDir(), container: req.Container, upstreams: p.Upstreams}
	srv := &dns.Server{Lookup: names.Lookup(ns.dir, ns.container), Upstreams: ns.upstreams}
	go srv.Serve(pc)
	return func() { _ = pc.Close(); teardown() }, ns, nil // the name server's socket: nothing to flush
}

// disconnect takes a resumed monitor's container off its networks and
// deletes what is left of its veths; what fails is retried by the next
// start or rm.
func (p *NetworkPlan) disconnect() {
	m := p.manager()
	_ = m.Disconnect(p.Request.Container)
	_ = m.DeleteVeths(p.Request.Container)
}

// connectUserMode starts the container's user-mode network and writes
// its /etc files with slirp4netns's addresses: its own for its name, the
// gateway for host-gateway, and slirp4netns's name server unless --dns
// names others.
func (p *NetworkPlan) connectUserMode(pid int) (func(), error) {
	n, err := usermode.Start(pid, "/proc/"+strconv.Itoa(pid)+"/ns/net", p.UserMode.MTU, p.UserMode.Ports)
	if err != nil {
		return nil, err
	}
	cfg := p.Etc
	cfg.Endpoints = []network.Endpoint{{Addr: usermode.Addr, Gateway: usermode.Gateway, IfName: "eth0", Network: network.DefaultName}}
	if len(cfg.DNS) == 0 {
		cfg.DNS = []string{usermode.NameServer.String()}
	}
	if err := network.WriteEtc(p.EtcDir, cfg); err != nil {
		n.Close()
		return nil, err
	}
	return n.Close, nil
}
