package network

import (
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func TestParsePublish(t *testing.T) {
	for in, want := range map[string]string{
		"80":                    ":0->80/tcp",
		"8080:80":               ":8080->80/tcp",
		"127.0.0.1:8080:80/udp": "127.0.0.1:8080->80/udp",
		"127.0.0.1::80":         "127.0.0.1:0->80/tcp",
		"8000-8001:80-81":       ":8000->80/tcp :8001->81/tcp",
	} {
		ps, err := ParsePublish(in)
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		var got []string
		for _, p := range ps {
			ip := ""
			if p.HostIP.IsValid() {
				ip = p.HostIP.String()
			}
			got = append(got, ip+":"+itoa(p.HostPort)+"->"+itoa(p.ContainerPort)+"/"+p.Proto)
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%s: %v, want %s", in, got, want)
		}
	}
	for _, bad := range []string{"", "0", "80/sctp", "x:80", "1.2.3:80:80", "65536", "8000-8002:80-81", "a:b:c:d", "[::1]:80:80", "80-70"} {
		if _, err := ParsePublish(bad); err == nil || strings.Count(err.Error(), "\n") > 0 {
			t.Errorf("%q: accepted (%v)", bad, err)
		}
	}
}

func itoa(n uint16) string { return strconv.Itoa(int(n)) }

func TestParseSubnet(t *testing.T) {
	if p, err := ParseSubnet("10.5.3.7/16"); err != nil || p != netip.MustParsePrefix("10.5.0.0/16") {
		t.Fatalf("%v %v", p, err)
	}
	for _, bad := range []string{"10.0.0.0", "fd00::/64", "10.0.0.0/31", "10.0.0.0/4", "x/24"} {
		if _, err := ParseSubnet(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParsePublish(f *testing.F) {
	for _, s := range []string{"80", "127.0.0.1:8080:80/udp", "8000-8010:80-90", "::", "1-65535"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePublish(s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q", s)
			}
			return
		}
		for _, p := range ps {
			if p.ContainerPort == 0 || (p.Proto != "tcp" && p.Proto != "udp") {
				t.Fatalf("%q gave %+v", s, p)
			}
		}
	})
}

func FuzzParseSubnet(f *testing.F) {
	for _, s := range []string{"10.0.0.0/8", "192.168.1.0/24", "1.2.3.4/30"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseSubnet(s)
		if err == nil && (!p.Addr().Is4() || p.Bits() < 8 || p.Bits() > 30 || p != p.Masked()) {
			t.Fatalf("%q gave %v", s, p)
		}
	})
}
