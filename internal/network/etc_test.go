package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestHostsFile(t *testing.T) {
	ep := Endpoint{Network: "back", Addr: netip.MustParsePrefix("10.5.0.7/24"), Gateway: netip.MustParseAddr("10.5.0.1")}
	b, err := Hosts(EtcConfig{Hostname: "web", Domainname: "example.org", NetworkMode: "back",
		ExtraHosts: []string{"db:10.0.0.9", "host.docker.internal:host-gateway"}, Endpoints: []Endpoint{ep}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"127.0.0.1\tlocalhost\n", "10.5.0.7\tweb.example.org web\n", "10.0.0.9\tdb\n", "10.5.0.1\thost.docker.internal\n"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("hosts lacks %q:\n%s", want, b)
		}
	}
	if b, _ := Hosts(EtcConfig{Hostname: "solo", NetworkMode: "none", ExtraHosts: []string{"gw:host-gateway"}}); !strings.Contains(string(b), "127.0.1.1\tsolo\n") || strings.Contains(string(b), "gw") {
		t.Errorf("hosts without a network:\n%s", b)
	}
	if _, err := Hosts(EtcConfig{ExtraHosts: []string{"nocolon"}}); err == nil {
		t.Error("a bad --add-host must fail")
	}
}

func TestResolvConf(t *testing.T) {
	host := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(host, []byte("nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp\noptions ndots:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bridge := Endpoint{Network: DefaultName}
	user := Endpoint{Network: "back"}
	for name, c := range map[string]struct {
		cfg  EtcConfig
		want string
	}{
		"default bridge drops loopback": {EtcConfig{NetworkMode: DefaultName, Endpoints: []Endpoint{bridge}}, "nameserver 192.0.2.1\nsearch corp\noptions ndots:2\n"},
		"user-defined asks the monitor": {EtcConfig{NetworkMode: "back", Endpoints: []Endpoint{user}}, "nameserver 127.0.0.11\nsearch corp\noptions ndots:2\n"},
		"--dns and --dns-search":        {EtcConfig{NetworkMode: DefaultName, DNS: []string{"9.9.9.9"}, DNSSearch: []string{"a", "b"}}, "nameserver 9.9.9.9\nsearch a b\noptions ndots:2\n"},
		"host keeps the host's":         {EtcConfig{NetworkMode: "host"}, "nameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch corp\noptions ndots:2\n"},
		"none is empty":                 {EtcConfig{NetworkMode: "none"}, ""},
		"none with --dns has it":        {EtcConfig{NetworkMode: "none", DNS: []string{"10.96.0.10"}, DNSSearch: []string{"svc"}}, "nameserver 10.96.0.10\nsearch svc\noptions ndots:2\n"},
	} {
		c.cfg.HostResolvConf = host
		if got := string(ResolvConf(c.cfg)); got != c.want {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, c.want)
		}
	}
}
