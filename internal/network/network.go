// Package network owns container networking: the networks (the
// default "bridge" and user-defined ones) kept under the storage root,
// each container's endpoints on them, and the kernel objects behind
// them — bridges and veths (package link), addresses (package ipam),
// NAT and published ports (package firewall), names (package dns).
//
// A network's bridge and NAT rules are made when its first container
// starts and stay until the network is removed or pruned, as Docker's
// docker0 does: making and removing a bridge per container costs ~60 ms
// of kernel time (RCU grace periods). A container's own objects — its
// lease, its published ports, its record — go when it stops; its veth
// goes with its network namespace. Teardown is idempotent, so the next
// command cleans up after a monitor that was killed.
package network

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/network/firewall"
	"github.com/berth-project/berth/internal/network/ipam"
	"github.com/berth-project/berth/internal/network/link"
	"github.com/berth-project/berth/internal/network/names"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/trace"
)

// DefaultName is the network containers join unless told otherwise.
const DefaultName = names.DefaultNetwork

// Network is one network, as network.json keeps it.
type Network struct {
	ID      string       `json:"Id"`
	Name    string       `json:"Name"`
	Created time.Time    `json:"Created"`
	Driver  string       `json:"Driver"`
	Subnet  netip.Prefix `json:"Subnet"`
	Gateway netip.Addr   `json:"Gateway"`
	IPRange netip.Prefix `json:"IPRange,omitzero"`
	// EnableIPv6 gives the network an IPv6 subnet beside its IPv4 one
	// (dual stack, Docker's --ipv6): Subnet6, Gateway6 and IPRange6.
	EnableIPv6 bool         `json:"EnableIPv6,omitempty"`
	Subnet6    netip.Prefix `json:"Subnet6,omitzero"`
	Gateway6   netip.Addr   `json:"Gateway6,omitzero"`
	IPRange6   netip.Prefix `json:"IPRange6,omitzero"`
	Internal   bool         `json:"Internal"`
	// Attachable is recorded and shown, as Docker keeps it for a local
	// network (it means something to Swarm only).
	Attachable bool              `json:"Attachable,omitempty"`
	Bridge     string            `json:"Bridge"`
	Labels     map[string]string `json:"Labels"`
	// MTU is the bridge's and its ports' (0: the uplink's).
	MTU int `json:"MTU,omitempty"`
	// Options are the driver's, as given (-o).
	Options map[string]string `json:"Options,omitempty"`
	// AuxAddresses are never handed out to containers (--aux-address).
	AuxAddresses map[string]netip.Addr `json:"AuxAddresses,omitempty"`
	// IPAMOptions are the address manager's, as given (--ipam-opt); the
	// default one has none of its own.
	IPAMOptions map[string]string `json:"IPAMOptions,omitempty"`
}

// UserDefined reports whether containers on n resolve each other by
// name (the default bridge, as Docker's, does not).
func (n *Network) UserDefined() bool { return n.Name != DefaultName }

// Endpoint is a container's place on a network, kept while it runs.
type Endpoint struct {
	Container string       `json:"container"`
	Name      string       `json:"name"`
	Aliases   []string     `json:"aliases,omitempty"`
	Addr      netip.Prefix `json:"addr"`
	Gateway   netip.Addr   `json:"gateway"`
	// Addr6 and Gateway6 are the IPv6 ones, on a network with IPv6.
	Addr6     netip.Prefix `json:"addr6,omitzero"`
	Gateway6  netip.Addr   `json:"gateway6,omitzero"`
	MAC       string       `json:"mac"`
	IfName    string       `json:"ifName"`
	HostVeth  string       `json:"hostVeth"`
	Ports     []PortSpec   `json:"ports,omitempty"`
	NetworkID string       `json:"networkId"`
	Network   string       `json:"network"`
	// Links are the container's links on this network, TARGET:ALIAS:
	// its name server answers ALIAS with TARGET's address.
	Links []string `json:"links,omitempty"`
	// LinkLocalIPs are the interface's addresses beyond Addr, taken
	// from no pool.
	LinkLocalIPs []netip.Addr `json:"linkLocalIPs,omitempty"`
	// GwPriority ranks the container's networks for its default route
	// (Docker's gw-priority); DefaultRoute says this one has it.
	GwPriority   int  `json:"gwPriority,omitempty"`
	DefaultRoute bool `json:"defaultRoute,omitempty"`
}

// Manager is the networks of one storage root.
type Manager struct {
	Root string
	// Isolated gives kernel objects names derived from the root, so a
	// second storage root (a test's) never touches another's bridge or
	// table; the default root uses berth0 and table "berth".
	Isolated bool
}

// Errors callers test for.
var (
	ErrNotFound = errors.New("no such network")
	ErrInUse    = errors.New("network has active endpoints")
)

func (m *Manager) dir() string                { return filepath.Join(m.Root, "networks") }
func (m *Manager) netDir(id string) string    { return filepath.Join(m.dir(), id) }
func (m *Manager) endpoints(id string) string { return filepath.Join(m.netDir(id), "endpoints") }

func (m *Manager) suffix() string {
	if !m.Isolated {
		return ""
	}
	h := sha256.Sum256([]byte(m.Root))
	return hex.EncodeToString(h[:])[:8]
}

// Firewall is the root's nftables table.
func (m *Manager) Firewall() firewall.Firewall {
	if s := m.suffix(); s != "" {
		return firewall.Firewall{Table: "berth_" + s}
	}
	return firewall.Firewall{Table: "berth"}
}

func (m *Manager) defaultBridge() string {
	if s := m.suffix(); s != "" {
		return "berth" + s // 13 characters, under IFNAMSIZ
	}
	return "berth0"
}

// lock serialises changes to networks and their kernel objects.
func (m *Manager) lock() (func(), error) {
	if err := os.MkdirAll(m.dir(), 0o700); err != nil {
		return nil, err
	}
	return state.Flock(filepath.Join(m.dir(), ".lock"))
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// networkNameRE is what a network may be named: Docker takes spaces
// and more; a network is stored by its ID, so only a path separator
// and control characters are out.
var networkNameRE = regexp.MustCompile(`^[^\x00-\x20/][^\x00-\x1f/]*$`)

// CreateOptions are `network create`'s.
type CreateOptions struct {
	Name    string
	Subnet  string
	Gateway string
	IPRange string
	// EnableIPv6 adds an IPv6 subnet: Subnet6 or, without it, a unique
	// local /64 of the network's own; Gateway6 and IPRange6 as above.
	EnableIPv6                  bool
	Subnet6, Gateway6, IPRange6 string
	Internal                    bool
	Attachable                  bool
	Labels                      map[string]string
	// Options are the bridge driver's (-o): its device's name and MTU;
	// see applyOptions.
	Options map[string]string
	// AuxAddresses are name=address pairs the IPAM keeps for others.
	AuxAddresses map[string]string
	IPAMOptions  map[string]string
}

// Create makes a user-defined network; nothing is made in the kernel
// until a container joins it.
func (m *Manager) Create(o CreateOptions) (*Network, error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.create(o)
}

func (m *Manager) create(o CreateOptions) (*Network, error) {
	if !networkNameRE.MatchString(o.Name) || len(o.Name) > 128 {
		return nil, fmt.Errorf("invalid network name %q: a printable name without /, not beginning with a space", o.Name)
	}
	if _, err := m.get(o.Name); err == nil {
		return nil, fmt.Errorf("network with name %s already exists", o.Name)
	}
	all, err := m.list()
	if err != nil {
		return nil, err
	}
	n := &Network{Name: o.Name, Created: time.Now().UTC(), Driver: "bridge", Internal: o.Internal, Attachable: o.Attachable, Labels: o.Labels}
	if n.Labels == nil {
		n.Labels = map[string]string{}
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	n.ID = hex.EncodeToString(b)
	if o.Name == DefaultName {
		n.Bridge = m.defaultBridge()
	} else {
		n.Bridge = "berth-" + n.ID[:9] // not Docker's br-: a name that says whose it is
	}
	taken := link.HostRoutes()
	for _, other := range all {
		taken = append(taken, other.Subnet)
	}
	if o.Subnet != "" {
		if n.Subnet, err = ParseSubnet(o.Subnet); err != nil {
			return nil, err
		}
		for _, t := range taken {
			if t.Overlaps(n.Subnet) {
				return nil, fmt.Errorf("--subnet %s overlaps %s, which is in use", n.Subnet, t)
			}
		}
	} else if n.Subnet, err = freeSubnet(taken); err != nil {
		return nil, err
	}
	if o.Gateway != "" {
		if n.Gateway, err = netip.ParseAddr(o.Gateway); err != nil || !n.Subnet.Contains(n.Gateway) {
			return nil, fmt.Errorf("--gateway %q: not an address in %s", o.Gateway, n.Subnet)
		}
	} else {
		n.Gateway = n.Subnet.Addr().Next()
	}
	if o.IPRange != "" {
		r, err := netip.ParsePrefix(o.IPRange)
		if err != nil || !n.Subnet.Contains(r.Masked().Addr()) || r.Bits() < n.Subnet.Bits() {
			return nil, fmt.Errorf("--ip-range %q: not a prefix inside %s", o.IPRange, n.Subnet)
		}
		n.IPRange = r.Masked()
	}
	if err := n.setIPv6(o, all); err != nil {
		return nil, err
	}
	if err := n.applyOptions(o.Options, all); err != nil {
		return nil, err
	}
	if err := n.setAuxAddresses(o.AuxAddresses); err != nil {
		return nil, err
	}
	if len(o.IPAMOptions) > 0 {
		n.IPAMOptions = o.IPAMOptions
	}
	if err := os.MkdirAll(m.netDir(n.ID), 0o700); err != nil {
		return nil, err
	}
	bs, _ := json.MarshalIndent(n, "", "  ")
	if err := state.WriteFileAtomic(filepath.Join(m.netDir(n.ID), "network.json"), bs, 0o600); err != nil {
		_ = os.RemoveAll(m.netDir(n.ID)) // a network record that could not be made: the error above is returned
		return nil, err
	}
	return n, nil
}

// setIPv6 gives n its IPv6 subnet, gateway and range.
func (n *Network) setIPv6(o CreateOptions, all []*Network) error {
	if !o.EnableIPv6 {
		if o.Subnet6 != "" || o.Gateway6 != "" || o.IPRange6 != "" {
			return errors.New("an IPv6 --subnet, --gateway or --ip-range needs --ipv6")
		}
		return nil
	}
	n.EnableIPv6 = true
	taken := link.HostRoutes6()
	for _, other := range all {
		if other.Subnet6.IsValid() {
			taken = append(taken, other.Subnet6)
		}
	}
	if o.Subnet6 != "" {
		p, err := netip.ParsePrefix(o.Subnet6)
		if err != nil || !p.Addr().Is6() || p.Addr().Is4In6() || p.Bits() > 120 || p.Bits() < 48 {
			return fmt.Errorf("--subnet %q: not an IPv6 prefix of length 48 to 120", o.Subnet6)
		}
		n.Subnet6 = p.Masked()
		for _, t := range taken {
			if t.Overlaps(n.Subnet6) {
				return fmt.Errorf("--subnet %s overlaps %s, which is in use", n.Subnet6, t)
			}
		}
	} else {
		n.Subnet6 = uniqueLocal(n.ID, taken)
	}
	if o.Gateway6 != "" {
		g, err := netip.ParseAddr(o.Gateway6)
		if err != nil || !n.Subnet6.Contains(g) || g == n.Subnet6.Addr() {
			return fmt.Errorf("--gateway %q: not an address in %s", o.Gateway6, n.Subnet6)
		}
		n.Gateway6 = g
	} else {
		n.Gateway6 = n.Subnet6.Addr().Next()
	}
	if o.IPRange6 != "" {
		r, err := netip.ParsePrefix(o.IPRange6)
		if err != nil || !r.Addr().Is6() || !n.Subnet6.Contains(r.Masked().Addr()) || r.Bits() < n.Subnet6.Bits() {
			return fmt.Errorf("--ip-range %q: not a prefix inside %s", o.IPRange6, n.Subnet6)
		}
		n.IPRange6 = r.Masked()
	}
	return nil
}

// uniqueLocal is a /64 of fd00::/8 whose 40-bit global ID comes from
// the network's ID (RFC 4193 draws it at random; the ID is), the first
// that overlaps nothing taken.
func uniqueLocal(id string, taken []netip.Prefix) netip.Prefix {
	for i := 0; ; i++ {
		h := sha256.Sum256([]byte(id + strconv.Itoa(i)))
		var b [16]byte
		b[0] = 0xfd
		copy(b[1:6], h[:5])
		p := netip.PrefixFrom(netip.AddrFrom16(b), 64)
		if !slices.ContainsFunc(taken, p.Overlaps) {
			return p
		}
	}
}

// freeSubnet picks the first of Docker's default pools that overlaps
// nothing in use.
func freeSubnet(taken []netip.Prefix) (netip.Prefix, error) {
	var cands []netip.Prefix
	for i := 17; i <= 31; i++ {
		cands = append(cands, netip.PrefixFrom(netip.AddrFrom4([4]byte{172, byte(i), 0, 0}), 16))
	}
	for i := 0; i < 256; i += 16 {
		cands = append(cands, netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 168, byte(i), 0}), 20))
	}
	for _, c := range cands {
		if !slices.ContainsFunc(taken, c.Overlaps) {
			return c, nil
		}
	}
	return netip.Prefix{}, errors.New("no free subnet left in the default pools: give --subnet")
}

// Get finds a network by name, ID or ID prefix; the default network is
// made on first use.
func (m *Manager) Get(ref string) (*Network, error) {
	n, err := m.get(ref)
	if err == nil || ref != DefaultName {
		return n, err
	}
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	return m.getLocked(ref)
}

func (m *Manager) get(ref string) (*Network, error) {
	all, err := m.list()
	if err != nil {
		return nil, err
	}
	var hit *Network
	for _, n := range all {
		if n.Name == ref || n.ID == ref {
			return n, nil
		}
		if len(ref) >= 3 && strings.HasPrefix(n.ID, ref) {
			hit = n
		}
	}
	if hit != nil {
		return hit, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

// List returns the networks by name.
func (m *Manager) List() ([]*Network, error) {
	if _, err := m.Get(DefaultName); err != nil {
		return nil, err
	}
	return m.list()
}

func (m *Manager) list() ([]*Network, error) {
	ents, err := os.ReadDir(m.dir())
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []*Network
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(m.dir(), e.Name(), "network.json"))
		if err != nil {
			continue
		}
		var n Network
		if json.Unmarshal(b, &n) == nil {
			out = append(out, &n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Endpoints lists a network's endpoints.
func (m *Manager) Endpoints(n *Network) ([]Endpoint, error) {
	ents, err := os.ReadDir(m.endpoints(n.ID))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Endpoint
	for _, e := range ents {
		ctr, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue // a temporary file of an endpoint being saved
		}
		b, err := os.ReadFile(filepath.Join(m.endpoints(n.ID), e.Name()))
		if errors.Is(err, os.ErrNotExist) {
			continue // disconnected meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("read endpoint %s of network %s: %w", ctr, n.Name, err)
		}
		var ep Endpoint
		if json.Unmarshal(b, &ep) != nil {
			// Still a container on the network, whose record is damaged.
			ep = Endpoint{Container: ctr, Name: ctr}
		}
		out = append(out, ep)
	}
	return out, nil
}

// Remove deletes a user-defined network without endpoints.
func (m *Manager) Remove(ref string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := m.get(ref)
	if err != nil {
		return err
	}
	if n.Name == DefaultName {
		return fmt.Errorf("%s is a pre-defined network and cannot be removed", n.Name)
	}
	eps, err := m.Endpoints(n)
	if err != nil {
		// Fail closed: a network whose endpoints cannot be read may
		// still have containers on it.
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	if len(eps) > 0 {
		names := make([]string, len(eps))
		for i, ep := range eps {
			names[i] = ep.Name
		}
		return fmt.Errorf("remove network %s: %w: %s", n.Name, ErrInUse, strings.Join(names, ", "))
	}
	all, err := m.list()
	if err != nil {
		return err
	}
	if err := m.removeKernelObjects(n, all); err != nil {
		return fmt.Errorf("remove network %s: %w", n.Name, err)
	}
	return os.RemoveAll(m.netDir(n.ID))
}

// Attachment asks for a container on one network.
type Attachment struct {
	Network string
	IP      netip.Addr // zero: any
	IP6     netip.Addr // on a network with IPv6; zero: any
	Aliases []string
	MAC     net.HardwareAddr // nil: derived from the IP
	Links   []string         // TARGET:ALIAS, for this container's name server
	// LinkLocalIPs are more addresses on the interface, from no pool.
	LinkLocalIPs []netip.Addr
	// GwPriority: of a container's networks, the one of the highest
	// gives the default route (ties: the first); internal ones none.
	GwPriority int
}

// Request is a container's networking, as its monitor asks for it.
type Request struct {
	Container string // ID
	Name      string
	Networks  []Attachment
	Ports     []PortSpec
	NsPath    string // the container's network namespace
}

// Connect puts a started (not yet running) container on its networks:
// addresses, veths, NAT and published ports. On error nothing it made
// remains.
func (m *Manager) Connect(req Request) (eps []Endpoint, err error) {
	unlock, err := m.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	defer func() {
		if err != nil {
			_ = m.disconnect(req.Container) // undoes a half connect; its error is returned
		}
	}()
	ports, err := m.reservePorts(req)
	if err != nil {
		return nil, err
	}
	gateway := -1
	for i, a := range req.Networks {
		n, err := m.getLocked(a.Network)
		if err != nil {
			return nil, err
		}
		if !n.Internal && (gateway < 0 || a.GwPriority > req.Networks[gateway].GwPriority) {
			gateway = i
		}
	}
	for i, a := range req.Networks {
		ep, err := m.connectOne(req, a, i, i == gateway)
		if err != nil {
			return nil, err
		}
		if i == 0 && len(ports) > 0 {
			// The ports are recorded before their rules exist: a
			// teardown after a crash in between removes what the
			// record names, and a rule it did not name would outlive
			// the container and serve its address to the next lessee.
			ep.Ports = ports
			if err := m.saveEndpoint(ep); err != nil {
				return nil, err
			}
			fw := make([]firewall.Port, len(ports))
			for j, p := range ports {
				fw[j] = firewall.Port{HostIP: p.HostIP, HostPort: p.HostPort, ContainerIP: ep.Addr.Addr(), ContainerIP6: ep.Addr6.Addr(), ContainerPort: p.ContainerPort, Proto: p.Proto}
			}
			if err := m.Firewall().AddPorts(req.Container, fw); err != nil {
				return nil, err
			}
			trace.Phase("network", "ports published")
		}
		eps = append(eps, ep)
	}
	return eps, nil
}

// ConnectOne adds one network to a running container (network connect).
// A network of a higher gw-priority than the one that gives the default
// route takes it over.
func (m *Manager) ConnectOne(req Request, a Attachment, index int) (Endpoint, error) {
	unlock, err := m.lock()
	if err != nil {
		return Endpoint{}, err
	}
	defer unlock()
	ep, err := m.connectOne(req, a, index, false)
	if err != nil {
		return ep, err
	}
	n, err := m.getLocked(a.Network)
	if err != nil || n.Internal {
		return ep, err
	}
	cur, ok := m.gatewayOf(req.Container)
	if ok && a.GwPriority <= cur.GwPriority {
		return ep, nil
	}
	if err := m.moveDefaultRoute(req.NsPath, cur, ok, &ep); err != nil {
		_ = m.disconnectFrom(req.Container, n, true) // undoes the connect, whose error is the one to report
		return Endpoint{}, err
	}
	return ep, nil
}

// gatewayOf is the endpoint that gives ctr its default route. A record
// from before gw-priority has none marked: then it is eth0's.
func (m *Manager) gatewayOf(ctr string) (Endpoint, bool) {
	eps := m.EndpointsOf(ctr)
	for _, ep := range eps {
		if ep.DefaultRoute {
			return ep, true
		}
	}
	for _, ep := range eps {
		if ep.IfName == "eth0" {
			if n, err := m.getLocked(ep.NetworkID); err == nil && !n.Internal {
				return ep, true
			}
		}
	}
	return Endpoint{}, false
}

// moveDefaultRoute points the default route of the namespace at nsPath
// at to's gateway, and records that to, not from, gives it.
func (m *Manager) moveDefaultRoute(nsPath string, from Endpoint, hadOne bool, to *Endpoint) error {
	if err := link.ReplaceDefaultRoute(nsPath, to.IfName, to.Gateway, to.Gateway6); err != nil {
		return err
	}
	if hadOne && from.NetworkID != to.NetworkID {
		from.DefaultRoute = false
		if err := m.saveEndpoint(from); err != nil {
			return err
		}
	}
	to.DefaultRoute = true
	return m.saveEndpoint(*to)
}

func (m *Manager) connectOne(req Request, a Attachment, index int, defaultRoute bool) (Endpoint, error) {
	n, err := m.getLocked(a.Network)
	if err != nil {
		return Endpoint{}, err
	}
	if _, err := os.Stat(filepath.Join(m.endpoints(n.ID), req.Container+".json")); err == nil {
		return Endpoint{}, fmt.Errorf("container %s is already on network %s", req.Name, n.Name)
	}
	for _, al := range a.Aliases {
		if !nameRE.MatchString(al) {
			return Endpoint{}, fmt.Errorf("--network-alias %q: invalid name", al)
		}
	}
	if a.IP.IsValid() && !n.UserDefined() {
		return Endpoint{}, errors.New("--ip is only for user-defined networks")
	}
	if a.IP6.IsValid() && !n.EnableIPv6 {
		return Endpoint{}, fmt.Errorf("--ip6: network %s has no IPv6", n.Name)
	}
	pool := m.pool(n)
	ip, err := pool.Allocate(req.Container, a.IP)
	if err != nil {
		return Endpoint{}, fmt.Errorf("network %s: %w", n.Name, err)
	}
	ep := Endpoint{Container: req.Container, Name: req.Name, Aliases: a.Aliases, Addr: netip.PrefixFrom(ip, n.Subnet.Bits()),
		Gateway: n.Gateway, MAC: macFor(ip), IfName: fmt.Sprintf("eth%d", index), HostVeth: hostVeth(req.Container, n.ID),
		NetworkID: n.ID, Network: n.Name, Links: a.Links, LinkLocalIPs: a.LinkLocalIPs, GwPriority: a.GwPriority, DefaultRoute: defaultRoute}
	if n.EnableIPv6 {
		ip6, err := m.pool6(n).Allocate(req.Container, a.IP6)
		if err != nil {
			_ = pool.Release(req.Container) // undoes the IPv4 lease; this error is returned
			return Endpoint{}, fmt.Errorf("network %s: %w", n.Name, err)
		}
		ep.Addr6, ep.Gateway6 = netip.PrefixFrom(ip6, n.Subnet6.Bits()), n.Gateway6
	}
	if a.MAC != nil {
		ep.MAC = a.MAC.String()
	}
	// The record first: a teardown after a crash finds what to undo.
	if err := m.saveEndpoint(ep); err != nil {
		// Undoes the leases; the save's error is returned.
		_ = pool.Release(req.Container)
		if n.EnableIPv6 {
			_ = m.pool6(n).Release(req.Container) // a network without IPv6 has no lease file to touch
		}
		return Endpoint{}, err
	}
	var gw6 netip.Prefix
	if n.EnableIPv6 {
		gw6 = netip.PrefixFrom(n.Gateway6, n.Subnet6.Bits())
	}
	created, err := link.EnsureBridge(n.Bridge, netip.PrefixFrom(n.Gateway, n.Subnet.Bits()), gw6, !n.Internal, n.MTU)
	if err != nil {
		return Endpoint{}, err
	}
	// The marker says the network's rules are this berth's: a network an
	// older berth made lacks the loopback rule (CVE-2020-8558) until its
	// rules are made again.
	marker := filepath.Join(m.netDir(n.ID), "rules-v2")
	if _, err := os.Stat(marker); created || err != nil || !m.Firewall().Exists(n.EnableIPv6) {
		if err := m.Firewall().AddNetwork(firewall.Network{ID: n.ID, Bridge: n.Bridge, Subnet: n.Subnet, Subnet6: n.Subnet6, Internal: n.Internal}); err != nil {
			return Endpoint{}, err
		}
		if err := os.WriteFile(marker, nil, 0o600); err != nil {
			return Endpoint{}, err
		}
	}
	mac, _ := net.ParseMAC(ep.MAC)
	if err := link.Plumb(req.NsPath, link.Endpoint{HostVeth: ep.HostVeth, Bridge: n.Bridge, IfName: ep.IfName, Addr: ep.Addr,
		Gateway: n.Gateway, Addr6: ep.Addr6, Gateway6: ep.Gateway6, MAC: mac, DefaultRoute: defaultRoute, LinkLocal: linkLocalPrefixes(a.LinkLocalIPs)}); err != nil {
		return Endpoint{}, err
	}
	return ep, nil
}

// linkLocalPrefixes give link-local addresses their link's length, so
// that peers on the link are reached without a route (169.254.0.0/16,
// fe80::/64); any other address is a host address.
func linkLocalPrefixes(addrs []netip.Addr) []netip.Prefix {
	var out []netip.Prefix
	for _, a := range addrs {
		bits := a.BitLen()
		switch {
		case a.Is4() && a.IsLinkLocalUnicast():
			bits = 16
		case a.Is6() && a.IsLinkLocalUnicast():
			bits = 64
		}
		out = append(out, netip.PrefixFrom(a, bits))
	}
	return out
}

// getLocked is Get for a caller holding the lock.
func (m *Manager) getLocked(ref string) (*Network, error) {
	n, err := m.get(ref)
	if err == nil || ref != DefaultName {
		return n, err
	}
	return m.create(CreateOptions{Name: DefaultName})
}

func (m *Manager) pool(n *Network) ipam.Pool {
	p := ipam.Pool{Dir: m.netDir(n.ID), Subnet: n.Subnet, Range: n.IPRange, Gateway: n.Gateway}
	for _, a := range n.AuxAddresses {
		p.Reserved = append(p.Reserved, a)
	}
	return p
}

// pool6 is n's IPv6 address space, leased apart from its IPv4 one.
func (m *Manager) pool6(n *Network) ipam.Pool {
	return ipam.Pool{Dir: filepath.Join(m.netDir(n.ID), "ipv6"), Subnet: n.Subnet6, Range: n.IPRange6, Gateway: n.Gateway6}
}

func (m *Manager) saveEndpoint(ep Endpoint) error {
	if err := os.MkdirAll(m.endpoints(ep.NetworkID), 0o700); err != nil {
		return err
	}
	b, _ := json.Marshal(ep)
	return state.WriteFileAtomic(filepath.Join(m.endpoints(ep.NetworkID), ep.Container+".json"), b, 0o600)
}

// hostVeth names the host end of a container's veth on a network.
func hostVeth(ctr, netID string) string { return "vb" + ctr[:7] + netID[:6] }

// macFor derives the MAC from the address, as Docker does (02:42:IP).
func macFor(ip netip.Addr) string {
	b := ip.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

// reservePorts checks the requested host ports against other
// containers' and the host's, and picks free ones for -p PORT.
func (m *Manager) reservePorts(req Request) ([]PortSpec, error) {
	if len(req.Ports) == 0 {
		return nil, nil
	}
	if len(req.Networks) == 0 {
		return nil, errors.New("published ports need a network (not none or host)")
	}
	all, err := m.list()
	if err != nil {
		return nil, err
	}
	type key struct {
		ip    netip.Addr
		port  uint16
		proto string
	}
	used := map[key]string{}
	publishers := map[string]bool{}
	for _, n := range all {
		eps, _ := m.Endpoints(n)
		for _, ep := range eps {
			for _, p := range ep.Ports {
				used[key{p.HostIP, p.HostPort, p.Proto}] = ep.Name
				publishers[ep.Container] = true
			}
		}
	}
	if err := m.removeStalePorts(publishers); err != nil {
		return nil, err
	}
	out := make([]PortSpec, len(req.Ports))
	for i, p := range req.Ports {
		if p.HostPort != 0 {
			for k, owner := range used {
				if k.port == p.HostPort && k.proto == p.Proto && (!k.ip.IsValid() || !p.HostIP.IsValid() || k.ip == p.HostIP) {
					return nil, fmt.Errorf("bind for %s:%d failed: port is already allocated (container %s)", hostOf(p.HostIP), p.HostPort, owner)
				}
			}
		}
		if err := checkFree(&p); err != nil {
			return nil, fmt.Errorf("publish port %d/%s: %w", p.ContainerPort, p.Proto, err)
		}
		used[key{p.HostIP, p.HostPort, p.Proto}] = req.Name
		out[i] = p
	}
	return out, nil
}

// removeStalePorts removes port rules that no endpoint record names
// (an older berth's crash between rule and record left them): such a
// rule would take the port from its next owner, and forward to whoever
// leases the address next.
func (m *Manager) removeStalePorts(publishers map[string]bool) error {
	rules, err := m.Firewall().Rules()
	if err != nil {
		return err
	}
	for tag := range rules {
		if ctr, ok := strings.CutPrefix(tag, "ctr:"); ok && !publishers[ctr] {
			if err := m.Firewall().RemovePorts(ctr); err != nil {
				return err
			}
		}
	}
	return nil
}

func hostOf(a netip.Addr) string {
	if a.IsValid() {
		return a.String()
	}
	return "0.0.0.0"
}

// Disconnect undoes a container's networking: veths, ports, leases,
// records; and a network's bridge and rules once it has no endpoint,
// the table once no network has one. It is idempotent.
func (m *Manager) Disconnect(ctr string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.disconnect(ctr)
}

// DisconnectOne takes a container, whose network namespace is at
// nsPath, off one network (network disconnect). When that network gave
// the default route, the remaining one of the highest gw-priority
// (ties: the first) gives it now.
func (m *Manager) DisconnectOne(ctr, network, nsPath string) error {
	unlock, err := m.lock()
	if err != nil {
		return err
	}
	defer unlock()
	n, err := m.get(network)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(m.endpoints(n.ID), ctr+".json")); err != nil {
		return fmt.Errorf("container is not connected to network %s", n.Name)
	}
	cur, hadOne := m.gatewayOf(ctr)
	if err := m.disconnectFrom(ctr, n, true); err != nil {
		return err
	}
	if !hadOne || cur.NetworkID != n.ID {
		return nil
	}
	var next *Endpoint
	for _, ep := range m.EndpointsOf(ctr) { // in interface order: the first wins a tie
		if nn, err := m.getLocked(ep.NetworkID); err != nil || nn.Internal {
			continue
		}
		if next == nil || ep.GwPriority > next.GwPriority {
			next = &ep
		}
	}
	if next == nil {
		return nil // the route went with the interface
	}
	return m.moveDefaultRoute(nsPath, Endpoint{}, false, next)
}

func (m *Manager) disconnect(ctr string) error {
	all, err := m.list()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		errs = append(errs, m.disconnectFrom(ctr, n, false))
	}
	return errors.Join(errs...)
}

// disconnectFrom removes ctr's endpoint on n. The veth is deleted only
// with deleteVeth (a running container leaving one network): after the
// container exited, the kernel deletes it with the namespace, and a
// synchronous delete would cost the stop ~20 ms.
func (m *Manager) disconnectFrom(ctr string, n *Network, deleteVeth bool) error {
	rec := filepath.Join(m.endpoints(n.ID), ctr+".json")
	b, err := os.ReadFile(rec)
	if errors.Is(err, os.ErrNotExist) {
		return nil // not on this network
	}
	var ep Endpoint
	damaged := err != nil || json.Unmarshal(b, &ep) != nil
	var errs []error
	if len(ep.Ports) > 0 || damaged {
		// A damaged record may have had ports: the rules go by the
		// container's tag in any case.
		errs = append(errs, m.Firewall().RemovePorts(ctr))
	}
	if deleteVeth {
		errs = append(errs, link.Delete(hostVeth(ctr, n.ID)))
	}
	errs = append(errs, m.pool(n).Release(ctr))
	if n.EnableIPv6 {
		errs = append(errs, m.pool6(n).Release(ctr))
	}
	if err := os.Remove(rec); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// removeKernelObjects deletes n's bridge and rules, and the table when
// no other network's bridge remains. The caller holds the lock and has
// checked that n has no endpoint.
func (m *Manager) removeKernelObjects(n *Network, all []*Network) error {
	errs := []error{link.Delete(n.Bridge), m.Firewall().RemoveNetwork(n.ID)}
	for _, o := range all {
		if o.ID != n.ID && link.Exists(o.Bridge) {
			return errors.Join(errs...)
		}
	}
	return errors.Join(append(errs, m.Firewall().DeleteTable())...)
}

// DeleteVeths deletes the host ends of ctr's veths that the kernel has
// not yet removed with the container's namespace (rm waits for that
// instead of leaving it to the kernel's asynchronous cleanup).
func (m *Manager) DeleteVeths(ctr string) error {
	all, err := m.list()
	if err != nil {
		return err
	}
	var errs []error
	for _, n := range all {
		errs = append(errs, link.Delete(hostVeth(ctr, n.ID)))
	}
	return errors.Join(errs...)
}

// Lookup answers a DNS name for container ctr: the containers that
// share a user-defined network with it, by name, alias, or short ID.
func (m *Manager) Lookup(ctr string) func(name string) []netip.Addr {
	return names.Lookup(m.RecordsDir(), ctr)
}

// RecordsDir holds the networks' records, which names.Lookup reads (the
// idle stage does so without a Manager).
func (m *Manager) RecordsDir() string { return m.dir() }

// EndpointsOf returns a container's current endpoints.
func (m *Manager) EndpointsOf(ctr string) []Endpoint {
	all, _ := m.list()
	var out []Endpoint
	for _, n := range all {
		b, err := os.ReadFile(filepath.Join(m.endpoints(n.ID), ctr+".json"))
		if err != nil {
			continue
		}
		var ep Endpoint
		if json.Unmarshal(b, &ep) == nil {
			out = append(out, ep)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].IfName < out[j].IfName })
	return out
}

// Prune removes user-defined networks without endpoints, and the
// default network's bridge and rules when no container is on it (the
// network itself stays; its bridge comes back with its next container).
func (m *Manager) Prune() ([]string, error) {
	all, err := m.list()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range all {
		eps, err := m.Endpoints(n)
		if err != nil {
			// Fail closed: a network whose endpoints cannot be read may
			// still have containers on it.
			return out, fmt.Errorf("prune network %s: %w", n.Name, err)
		}
		if len(eps) > 0 {
			continue
		}
		if n.Name == DefaultName {
			unlock, err := m.lock()
			if err != nil {
				return out, err
			}
			err = m.removeKernelObjects(n, all)
			unlock()
			if err != nil {
				return out, err
			}
			continue
		}
		if err := m.Remove(n.ID); err == nil {
			out = append(out, n.Name)
		}
	}
	return out, nil
}
