package ipam

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
)

func TestAllocateIsUniqueUnderConcurrency(t *testing.T) {
	p := Pool{Dir: t.TempDir(), Subnet: netip.MustParsePrefix("10.9.0.0/24"), Gateway: netip.MustParseAddr("10.9.0.1")}
	var mu sync.Mutex
	seen := map[netip.Addr]string{}
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := string(rune('a'+i%26)) + string(rune('0'+i/26))
			a, err := p.Allocate(owner, netip.Addr{})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if o, dup := seen[a]; dup {
				t.Errorf("%s handed to %s and %s", a, o, owner)
			}
			if a == p.Gateway || a.String() == "10.9.0.0" || a.String() == "10.9.0.255" {
				t.Errorf("handed out %s", a)
			}
			seen[a] = owner
		}()
	}
	wg.Wait()
}

func TestAllocateReleaseAndExhaustion(t *testing.T) {
	p := Pool{Dir: t.TempDir(), Subnet: netip.MustParsePrefix("10.9.0.0/29"), Gateway: netip.MustParseAddr("10.9.0.1")}
	var got []netip.Addr
	for _, o := range []string{"a", "b", "c", "d", "e"} {
		a, err := p.Allocate(o, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a)
	}
	if again, _ := p.Allocate("a", netip.Addr{}); again != got[0] {
		t.Fatalf("owner a got %s then %s", got[0], again)
	}
	if _, err := p.Allocate("f", netip.Addr{}); err == nil {
		t.Fatal("a /29 with a gateway holds 5 containers")
	}
	p.Release("c")
	if a, err := p.Allocate("f", netip.Addr{}); err != nil || a != got[2] {
		t.Fatalf("after release: %s %v", a, err)
	}
	if _, err := p.Allocate("g", netip.MustParseAddr("10.9.0.2")); err == nil {
		t.Fatal("a taken address was handed out twice")
	}
	if _, err := p.Allocate("g", netip.MustParseAddr("10.9.0.7")); err == nil {
		t.Fatal("the broadcast address was handed out")
	}
	r := Pool{Dir: t.TempDir(), Subnet: netip.MustParsePrefix("10.8.0.0/16"), Range: netip.MustParsePrefix("10.8.5.0/30"), Gateway: netip.MustParseAddr("10.8.0.1")}
	if a, err := r.Allocate("x", netip.Addr{}); err != nil || a.String() != "10.8.5.1" {
		t.Fatalf("--ip-range: %s %v", a, err)
	}
}

func TestReservedAddressesAreNeverHandedOut(t *testing.T) {
	p := Pool{Dir: t.TempDir(), Subnet: netip.MustParsePrefix("10.9.0.0/29"), Gateway: netip.MustParseAddr("10.9.0.1"),
		Reserved: []netip.Addr{netip.MustParseAddr("10.9.0.2"), netip.MustParseAddr("10.9.0.4")}}
	var got []string
	for _, owner := range []string{"a", "b", "c"} {
		a, err := p.Allocate(owner, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, a.String())
	}
	if want := "[10.9.0.3 10.9.0.5 10.9.0.6]"; fmt.Sprint(got) != want {
		t.Fatalf("handed out %v, want %s", got, want)
	}
	if _, err := p.Allocate("d", netip.MustParseAddr("10.9.0.4")); err == nil {
		t.Fatal("a reserved address asked for by name was handed out")
	}
}

// An IPv6 pool hands out its addresses as an IPv4 one does, without a
// broadcast address to skip, and refuses one outside its range.
func TestAllocateIPv6(t *testing.T) {
	p := Pool{Dir: t.TempDir(), Subnet: netip.MustParsePrefix("fd42::/64"), Gateway: netip.MustParseAddr("fd42::1"),
		Range: netip.MustParsePrefix("fd42::ff00/120")}
	a, err := p.Allocate("one", netip.Addr{})
	if err != nil || a.String() != "fd42::ff01" {
		t.Fatalf("first: %s %v", a, err)
	}
	if b, err := p.Allocate("two", netip.MustParseAddr("fd42::ffff")); err != nil || b.String() != "fd42::ffff" {
		t.Fatalf("the range's last address: %s %v", b, err)
	}
	if _, err := p.Allocate("three", netip.MustParseAddr("fd42::5")); err == nil {
		t.Fatal("an address outside the range was handed out")
	}
	if again, err := p.Allocate("one", netip.Addr{}); err != nil || again != a {
		t.Fatalf("the owner's lease again: %s %v", again, err)
	}
}
