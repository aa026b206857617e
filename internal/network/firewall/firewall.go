// Package firewall keeps berth's nftables tables: NAT for networks'
// outbound traffic, forwarding for their bridges, and the DNAT rules of
// published ports, spoken over netlink (no iptables or nft binary). The
// tables are berth's own, one of family ip and, for networks with IPv6,
// one of family ip6 of the same name; each rule carries a comment naming
// its network or container, which is how rules are found again and
// removed.
package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Firewall is one berth table.
type Firewall struct {
	Table string
}

// Network is what the rules of one network need.
type Network struct {
	ID       string
	Bridge   string
	Subnet   netip.Prefix
	Subnet6  netip.Prefix // zero without IPv6
	Internal bool
}

// Port is one published port.
type Port struct {
	HostIP        netip.Addr // unspecified: every local address
	HostPort      uint16
	ContainerIP   netip.Addr
	ContainerIP6  netip.Addr // zero without IPv6: the port is IPv4's only
	ContainerPort uint16
	Proto         string // tcp or udp
}

const (
	chainPre, chainOut, chainPorts, chainPost, chainFwd, chainIn = "prerouting", "output", "ports", "postrouting", "forward", "input"
)

// family is what differs between the ip and ip6 tables' rules: where
// the addresses are in the header, and how long they are.
type family struct {
	table        nftables.TableFamily
	nfproto      uint32
	saddr, daddr uint32
	addrLen      uint32
}

var (
	ipv4 = family{nftables.TableFamilyIPv4, unix.NFPROTO_IPV4, 12, 16, 4}
	ipv6 = family{nftables.TableFamilyIPv6, unix.NFPROTO_IPV6, 8, 24, 16}
)

var families = []family{ipv4, ipv6}

// Available reports, in one line, why nftables cannot be used here.
func Available() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables is not available: %w", err)
	}
	if _, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4); err != nil {
		return fmt.Errorf("nftables is not available (kernel without nf_tables, or no CAP_NET_ADMIN): %w", err)
	}
	return nil
}

// Exists reports whether the table is there, and its ip6 twin too when
// withIPv6.
func (f Firewall) Exists(withIPv6 bool) bool {
	c, err := nftables.New()
	if err != nil {
		return false
	}
	t, err := c.ListTableOfFamily(f.Table, nftables.TableFamilyIPv4)
	if err != nil || t == nil {
		return false
	}
	if withIPv6 {
		t, err = c.ListTableOfFamily(f.Table, nftables.TableFamilyIPv6)
		return err == nil && t != nil
	}
	return true
}

func (f Firewall) table(fam family) *nftables.Table {
	return &nftables.Table{Name: f.Table, Family: fam.table}
}

// ensure creates the family's table and its chains if missing (adding
// an existing table or chain is a no-op in nf_tables).
func (f Firewall) ensure(c *nftables.Conn, fam family) map[string]*nftables.Chain {
	t := c.AddTable(f.table(fam))
	accept := nftables.ChainPolicyAccept
	chains := map[string]*nftables.Chain{
		chainPre:   c.AddChain(&nftables.Chain{Name: chainPre, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest}),
		chainOut:   c.AddChain(&nftables.Chain{Name: chainOut, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest}),
		chainPorts: c.AddChain(&nftables.Chain{Name: chainPorts, Table: t}),
		chainPost:  c.AddChain(&nftables.Chain{Name: chainPost, Table: t, Type: nftables.ChainTypeNAT, Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}),
		chainFwd:   c.AddChain(&nftables.Chain{Name: chainFwd, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookForward, Priority: nftables.ChainPriorityFilter, Policy: &accept}),
		chainIn:    c.AddChain(&nftables.Chain{Name: chainIn, Table: t, Type: nftables.ChainTypeFilter, Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter, Policy: &accept}),
	}
	return chains
}

func comment(s string) []byte { return userdata.AppendString(nil, userdata.TypeComment, s) }

// Setup makes the table with its base chains once: traffic to a local
// address goes through the ports chain, from outside and from the host.
func (f Firewall) Setup() error { return f.setup(ipv4) }

func (f Firewall) setup(fam family) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	existing, _ := c.ListTableOfFamily(f.Table, fam.table)
	chains := f.ensure(c, fam)
	if existing == nil {
		for _, name := range []string{chainPre, chainOut} {
			c.AddRule(&nftables.Rule{Table: chains[name].Table, Chain: chains[name], UserData: comment("berth"), Exprs: []expr.Any{
				&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
				&expr.Verdict{Kind: expr.VerdictJump, Chain: chainPorts},
			}})
		}
	}
	return flush(c, "set up table "+f.Table)
}

// AddNetwork adds a network's rules: masquerade of what leaves it for
// elsewhere (not for internal networks, whose traffic stays on the
// bridge), masquerade of DNATed traffic coming back onto the bridge
// (hairpin, and the host's 127.0.0.1), and forwarding.
func (f Firewall) AddNetwork(n Network) error {
	if err := f.Setup(); err != nil {
		return err
	}
	f.RemoveNetwork(n.ID) // idempotent: the rules once
	if n.Subnet6.IsValid() {
		if err := f.setup(ipv6); err != nil {
			return err
		}
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	f.addNetwork(c, ipv4, n, n.Subnet)
	if n.Subnet6.IsValid() {
		f.addNetwork(c, ipv6, n, n.Subnet6)
	}
	return flush(c, "add the rules of network "+n.ID)
}

// addNetwork queues n's rules in fam's table, for its subnet of that
// family.
func (f Firewall) addNetwork(c *nftables.Conn, fam family, n Network, subnet netip.Prefix) {
	chains := f.ensure(c, fam)
	tag := comment("net:" + n.ID)
	add := func(chain string, ex ...expr.Any) {
		c.AddRule(&nftables.Rule{Table: chains[chain].Table, Chain: chains[chain], UserData: tag, Exprs: ex})
	}
	// Drops go first in the forward chain (inserted, not appended), so
	// that no other network's accept lets a packet in.
	first := func(ex ...expr.Any) {
		c.InsertRule(&nftables.Rule{Table: chains[chainFwd].Table, Chain: chains[chainFwd], UserData: tag, Exprs: ex})
	}
	if n.Internal {
		first(cat(ifname(unix.NFT_META_IIFNAME, expr.CmpOpEq, n.Bridge), ifname(unix.NFT_META_OIFNAME, expr.CmpOpNeq, n.Bridge), verdict(expr.VerdictDrop))...)
		first(cat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq, n.Bridge), ifname(unix.NFT_META_IIFNAME, expr.CmpOpNeq, n.Bridge), verdict(expr.VerdictDrop))...)
	} else {
		add(chainPost, cat(fam.saddrIn(subnet), ifname(unix.NFT_META_OIFNAME, expr.CmpOpNeq, n.Bridge), []expr.Any{&expr.Masq{}})...)
		// Into the network from elsewhere (another network, another
		// host): only replies and published ports, as Docker 28 does.
		first(cat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq, n.Bridge), ifname(unix.NFT_META_IIFNAME, expr.CmpOpNeq, n.Bridge),
			ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, false), ctBits(expr.CtKeySTATUS, ipsDstNAT, false), verdict(expr.VerdictDrop))...)
		add(chainFwd, cat(ifname(unix.NFT_META_IIFNAME, expr.CmpOpEq, n.Bridge), verdict(expr.VerdictAccept))...)
	}
	// The bridges have route_localnet (for ports published on
	// 127.0.0.1), which also lets a container with CAP_NET_RAW send a
	// packet to the host's 127.0.0.1 through the gateway's MAC and reach
	// services bound there (CVE-2020-8558). Only replies (of connections
	// the host's loopback made to a published port) may come that way,
	// as kube-proxy's rule has it. (IPv6 has no route_localnet: ::1 is
	// never routed off the loopback.)
	if fam == ipv4 {
		add(chainIn, cat(ifname(unix.NFT_META_IIFNAME, expr.CmpOpEq, n.Bridge), fam.daddrIn(netip.MustParsePrefix("127.0.0.0/8")),
			ctBits(expr.CtKeySTATE, expr.CtStateBitESTABLISHED|expr.CtStateBitRELATED, false), verdict(expr.VerdictDrop))...)
	}
	// Back onto the bridge after DNAT, from a container of the network
	// (hairpin) or from the host's loopback: the reply must come back
	// through us, so the source becomes the gateway. Other clients keep
	// their address.
	add(chainPost, cat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq, n.Bridge), ctBits(expr.CtKeySTATUS, ipsDstNAT, true), fam.saddrIn(subnet), []expr.Any{&expr.Masq{}})...)
	if fam == ipv4 {
		add(chainPost, cat(ifname(unix.NFT_META_OIFNAME, expr.CmpOpEq, n.Bridge), fam.saddrIn(netip.MustParsePrefix("127.0.0.0/8")), []expr.Any{&expr.Masq{}})...)
	}
}

// RemoveNetwork removes a network's rules.
func (f Firewall) RemoveNetwork(id string) error { return f.removeTagged("net:" + id) }

// AddPorts publishes ports to a container, tagged with owner.
func (f Firewall) AddPorts(owner string, ports []Port) error {
	if len(ports) == 0 {
		return nil
	}
	for _, p := range ports {
		if p.HostIP.Is6() && !p.HostIP.IsUnspecified() && !p.ContainerIP6.IsValid() {
			return fmt.Errorf("publish %s port %d: the container has no IPv6 address (a network with --ipv6 gives one)", p.HostIP, p.HostPort)
		}
	}
	if err := f.Setup(); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return err
	}
	v6Setup := false
	for _, p := range ports {
		// An unspecified host address is every local one, of both
		// families when the container has both.
		any := !p.HostIP.IsValid() || p.HostIP.IsUnspecified()
		if any || p.HostIP.Is4() {
			f.addPort(c, ipv4, owner, p, p.ContainerIP)
		}
		if p.ContainerIP6.IsValid() && (any || p.HostIP.Is6()) {
			if !v6Setup {
				if err := f.setup(ipv6); err != nil {
					return err
				}
				v6Setup = true
			}
			f.addPort(c, ipv6, owner, p, p.ContainerIP6)
		}
	}
	return flush(c, "publish ports of "+owner)
}

// addPort queues one port's DNAT rule in fam's table, to the
// container's address of that family.
func (f Firewall) addPort(c *nftables.Conn, fam family, owner string, p Port, to netip.Addr) {
	chains := f.ensure(c, fam)
	proto := byte(unix.IPPROTO_TCP)
	if p.Proto == "udp" {
		proto = unix.IPPROTO_UDP
	}
	var ex []expr.Any
	if p.HostIP.IsValid() && !p.HostIP.IsUnspecified() {
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: fam.daddr, Len: fam.addrLen},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.HostIP.AsSlice()})
	}
	ex = append(ex,
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(p.HostPort)},
		&expr.Immediate{Register: 1, Data: to.AsSlice()},
		&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(p.ContainerPort)},
		&expr.NAT{Type: expr.NATTypeDestNAT, Family: fam.nfproto, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
	)
	c.AddRule(&nftables.Rule{Table: chains[chainPorts].Table, Chain: chains[chainPorts], UserData: comment("ctr:" + owner), Exprs: ex})
}

// RemovePorts removes the ports published for owner.
func (f Firewall) RemovePorts(owner string) error { return f.removeTagged("ctr:" + owner) }

func (f Firewall) removeTagged(tag string) error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	n := 0
	err = f.eachRule(c, func(r *nftables.Rule, t string) error {
		if t != tag {
			return nil
		}
		n++
		return c.DelRule(r)
	})
	if err != nil || n == 0 {
		return err
	}
	return flush(c, "remove rules "+tag)
}

// eachRule calls fn with every rule of both tables and its comment; no
// table means no rules.
func (f Firewall) eachRule(c *nftables.Conn, fn func(r *nftables.Rule, tag string) error) error {
	for _, fam := range families {
		if err := f.eachRuleOf(c, fam, fn); err != nil {
			return err
		}
	}
	return nil
}

func (f Firewall) eachRuleOf(c *nftables.Conn, fam family, fn func(r *nftables.Rule, tag string) error) error {
	t, err := c.ListTableOfFamily(f.Table, fam.table)
	if err != nil || t == nil {
		return nil
	}
	chains, err := c.ListChainsOfTableFamily(fam.table)
	if err != nil {
		return err
	}
	for _, ch := range chains {
		if ch.Table.Name != f.Table {
			continue
		}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return err
		}
		for _, r := range rules {
			tag, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			if err := fn(r, tag); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rules counts the table's rules tagged for a network or container
// (tags: "net:ID", "ctr:ID"); the table's own jumps are not counted.
func (f Firewall) Rules() (map[string]int, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	err = f.eachRule(c, func(_ *nftables.Rule, tag string) error {
		if tag != "" && tag != "berth" {
			out[tag]++
		}
		return nil
	})
	return out, err
}

// DeleteTable removes the whole table, and its ip6 twin; a missing one
// is not an error.
func (f Firewall) DeleteTable() error {
	c, err := nftables.New()
	if err != nil {
		return err
	}
	for _, fam := range families {
		if t, err := c.ListTableOfFamily(f.Table, fam.table); err != nil || t == nil {
			continue
		}
		c.DelTable(f.table(fam))
		err = c.Flush()
		if err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete table %s: %w", f.Table, err)
		}
	}
	return nil
}

// flush sends the batch; when nftables itself is missing, the error
// says that in one line instead of the batch's failure.
func flush(c *nftables.Conn, what string) error {
	if err := c.Flush(); err != nil {
		if aerr := Available(); aerr != nil {
			return aerr
		}
		return fmt.Errorf("nftables: %s: %w", what, err)
	}
	return nil
}

func ifname(key expr.MetaKey, op expr.CmpOp, name string) []expr.Any {
	b := make([]byte, 16)
	copy(b, name)
	return []expr.Any{&expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b}}
}

func (fam family) saddrIn(p netip.Prefix) []expr.Any { return fam.addrIn(fam.saddr, p) }

func (fam family) daddrIn(p netip.Prefix) []expr.Any { return fam.addrIn(fam.daddr, p) }

// addrIn matches the address at offset in the header against p.
func (fam family) addrIn(offset uint32, p netip.Prefix) []expr.Any {
	mask := make([]byte, fam.addrLen)
	for i := 0; i < p.Bits(); i++ {
		mask[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: fam.addrLen},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: fam.addrLen, Mask: mask, Xor: make([]byte, fam.addrLen)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// ctBits matches when any of bits is set in the conntrack key (set),
// or when none is (!set).
func ctBits(key expr.CtKey, bits uint32, set bool) []expr.Any {
	op := expr.CmpOpNeq
	if !set {
		op = expr.CmpOpEq
	}
	return []expr.Any{
		&expr.Ct{Register: 1, Key: key},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(bits), Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: make([]byte, 4)},
	}
}

// ipsDstNAT is conntrack's IPS_DST_NAT status bit.
const ipsDstNAT = 0x20

func cat(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func verdict(k expr.VerdictKind) []expr.Any { return []expr.Any{&expr.Verdict{Kind: k}} }

// IsBerthTable reports whether a table name is one of berth's.
func IsBerthTable(name string) bool { return name == "berth" || strings.HasPrefix(name, "berth_") }
