package engine

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/berth-project/berth/internal/container"
)

func TestParseLinks(t *testing.T) {
	got, err := parseLinks([]string{"db:data", "web", "/cache:/app/mem"})
	if err != nil || !slices.Equal(got, []string{"db:data", "web:web", "cache:mem"}) {
		t.Fatalf("parseLinks: %v %v", got, err)
	}
	if _, err := parseLinks([]string{":x"}); err == nil {
		t.Fatal("a link without a target")
	}
}

func TestLinkVariables(t *testing.T) {
	target := &container.Container{Name: "db", Config: container.Config{
		Env:          []string{"PATH=/bin", "PASSWORD=x", "HOME=/root"},
		ExposedPorts: map[string]struct{}{"5432/tcp": {}, "53/udp": {}}}}
	got := linkVariables("app", target, "my-db", netip.MustParseAddr("172.17.0.5"))
	want := []string{"MY_DB_NAME=/app/my-db", "MY_DB_PORT=udp://172.17.0.5:53",
		"MY_DB_PORT_53_UDP=udp://172.17.0.5:53", "MY_DB_PORT_53_UDP_ADDR=172.17.0.5", "MY_DB_PORT_53_UDP_PORT=53", "MY_DB_PORT_53_UDP_PROTO=udp",
		"MY_DB_PORT_5432_TCP=tcp://172.17.0.5:5432", "MY_DB_PORT_5432_TCP_ADDR=172.17.0.5", "MY_DB_PORT_5432_TCP_PORT=5432", "MY_DB_PORT_5432_TCP_PROTO=tcp",
		"MY_DB_ENV_PASSWORD=x"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
