package network

import (
	"net/netip"
	"testing"
)

// A drawn IPv6 subnet is a unique local /64 that overlaps nothing taken,
// the same for the same network.
func TestUniqueLocalSubnets(t *testing.T) {
	a := uniqueLocal("net-a", nil)
	if a.Bits() != 64 || a.Addr().As16()[0] != 0xfd || uniqueLocal("net-a", nil) != a || uniqueLocal("net-b", nil) == a {
		t.Fatalf("drawn: %s", a)
	}
	b := uniqueLocal("net-a", []netip.Prefix{a})
	if b == a || b.Overlaps(a) || b.Bits() != 64 {
		t.Fatalf("with the first taken: %s", b)
	}
}

func TestIPv6NeedsEnableIPv6(t *testing.T) {
	var n Network
	if err := n.setIPv6(CreateOptions{Subnet6: "fd42::/64"}, nil); err == nil {
		t.Fatal("an IPv6 subnet without --ipv6 was taken")
	}
	if err := n.setIPv6(CreateOptions{EnableIPv6: true, Subnet6: "fd42::/64", Gateway6: "fd43::1"}, nil); err == nil {
		t.Fatal("a gateway outside the subnet was taken")
	}
	n = Network{ID: "x"}
	if err := n.setIPv6(CreateOptions{EnableIPv6: true, Subnet6: "fd42::5/64"}, nil); err != nil || n.Subnet6.String() != "fd42::/64" || n.Gateway6.String() != "fd42::1" {
		t.Fatalf("a subnet: %+v %v", n, err)
	}
}

// The name server's lookup (internal/network/names, which the idle
// stage links) reads the records this package writes.
func TestLookupReadsTheManagersRecords(t *testing.T) {
	m := &Manager{Root: t.TempDir(), Isolated: true}
	n, err := m.create(CreateOptions{Name: "back", Subnet: "10.77.0.0/24", EnableIPv6: true, Subnet6: "fd77::/64"})
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range []Endpoint{
		{Container: "aaaaaaaaaaaaaaaa", Name: "web", Aliases: []string{"www"}, Addr: netip.MustParsePrefix("10.77.0.2/24"), Addr6: netip.MustParsePrefix("fd77::2/64"), NetworkID: n.ID},
		{Container: "bbbbbbbbbbbbbbbb", Name: "client", Links: []string{"web:frontend"}, Addr: netip.MustParsePrefix("10.77.0.3/24"), NetworkID: n.ID},
	} {
		if err := m.saveEndpoint(ep); err != nil {
			t.Fatal(err)
		}
	}
	look := m.Lookup("bbbbbbbbbbbbbbbb")
	want := []netip.Addr{netip.MustParseAddr("10.77.0.2"), netip.MustParseAddr("fd77::2")}
	for _, name := range []string{"web", "WWW", "frontend", "aaaaaaaaaaaa"} {
		if got := look(name); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("%s: %v", name, got)
		}
	}
	if got := look("nobody"); got != nil {
		t.Errorf("nobody: %v", got)
	}
	if got := m.Lookup("cccccccccccccccc")("web"); got != nil {
		t.Errorf("a container on none of the networks: %v", got)
	}
}
