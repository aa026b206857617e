package monitor

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/network/dns"
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
}

func (p *NetworkPlan) manager() *network.Manager {
	return &network.Manager{Root: p.Root, Isolated: p.Isolated}
}

// connect puts the container whose init is pid on its networks, writes
// its /etc files with its address, and on a user-defined network serves
// its names at 127.0.0.11 from this process. The function it returns
// undoes it all once the container has exited.
func (p *NetworkPlan) connect(pid int) (func(), error) {
	m := p.manager()
	req := p.Request
	req.NsPath = "/proc/" + strconv.Itoa(pid) + "/ns/net"
	eps, err := m.Connect(req)
	if err != nil {
		return nil, err
	}
	// Undoes a connect that failed half-way, whose error is the one to
	// report; what it leaves, the next start or rm tears down.
	undo := func() { _ = m.Disconnect(req.Container) }
	cfg := p.Etc
	cfg.Endpoints = eps
	if err := network.WriteEtc(p.EtcDir, cfg); err != nil {
		undo()
		return nil, err
	}
	if !slices.ContainsFunc(eps, func(ep network.Endpoint) bool { return ep.Network != network.DefaultName }) {
		return undo, nil
	}
	pc, err := dns.ListenInNamespace(req.NsPath)
	if err != nil {
		undo()
		return nil, fmt.Errorf("start the name server: %w", err)
	}
	srv := &dns.Server{Lookup: m.Lookup(req.Container), Upstreams: p.Upstreams}
	go srv.Serve(pc)
	return func() { _ = pc.Close(); undo() }, nil // the name server's socket: nothing to flush
}

// disconnect takes a resumed monitor's container off its networks and
// deletes what is left of its veths; what fails is retried by the next
// start or rm.
func (p *NetworkPlan) disconnect() {
	m := p.manager()
	_ = m.Disconnect(p.Request.Container)
	_ = m.DeleteVeths(p.Request.Container)
}
