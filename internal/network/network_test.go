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
