package network

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/berth-project/berth/internal/network/dns"
)

// EtcConfig is what a container's /etc/hosts and /etc/resolv.conf are
// made from: its names, its network mode and endpoints, and its
// --add-host, --dns, --dns-search and --dns-option values.
type EtcConfig struct {
	Hostname, Domainname string
	// NetworkMode is "none", "host", "container:…" or a network's name.
	NetworkMode string
	// ExtraHosts are NAME:IP, where IP may be host-gateway.
	ExtraHosts                 []string
	DNS, DNSSearch, DNSOptions []string
	// Endpoints are the container's, the first network's first; none
	// before the container is connected, or without a network of its own.
	Endpoints []Endpoint
	// HostResolvConf is the host's resolv.conf; "" is /etc/resolv.conf.
	HostResolvConf string
}

// Hosts is the container's /etc/hosts: localhost, its own address and
// names, and the --add-host entries.
func Hosts(c EtcConfig) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	names := c.Hostname
	if c.Domainname != "" {
		names = c.Hostname + "." + c.Domainname + " " + c.Hostname
	}
	if len(c.Endpoints) > 0 {
		fmt.Fprintf(&b, "%s\t%s\n", c.Endpoints[0].Addr.Addr(), names)
	} else if c.NetworkMode != "host" {
		fmt.Fprintf(&b, "127.0.1.1\t%s\n", names)
	}
	for _, x := range c.ExtraHosts {
		name, ip, err := ParseExtraHost(x)
		if err != nil {
			return nil, err
		}
		if ip == "host-gateway" {
			if len(c.Endpoints) == 0 {
				continue
			}
			ip = c.Endpoints[0].Gateway.String()
		}
		fmt.Fprintf(&b, "%s\t%s\n", ip, name)
	}
	return b.Bytes(), nil
}

// ResolvConf is the container's /etc/resolv.conf: empty without a
// network unless --dns names servers (a pod whose network CNI plugins
// make is "none" to the engine); the monitor's name server on a user-defined network; else
// --dns or the host's resolvers, less the loopback ones a container
// cannot reach (Docker's public fallback when none is left).
func ResolvConf(c EtcConfig) []byte {
	if c.NetworkMode == "none" && len(c.DNS) == 0 {
		return nil
	}
	path := c.HostResolvConf
	if path == "" {
		path = "/etc/resolv.conf"
	}
	servers, search, opts := hostResolv(path)
	userDefined := slices.ContainsFunc(c.Endpoints, func(ep Endpoint) bool { return ep.Network != DefaultName })
	switch {
	case userDefined:
		servers = []string{dns.Address} // the monitor's name server
	case len(c.DNS) > 0:
		servers = c.DNS
	case c.NetworkMode != "host":
		servers = slices.DeleteFunc(servers, func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.IsLoopback() })
		if len(servers) == 0 {
			servers = []string{"8.8.8.8", "8.8.4.4"}
		}
	}
	if len(c.DNSSearch) > 0 {
		search = c.DNSSearch
	}
	if len(c.DNSOptions) > 0 {
		opts = c.DNSOptions
	}
	var b bytes.Buffer
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return b.Bytes()
}

// WriteEtc writes a container's hosts and resolv.conf into dir. The
// files are rewritten in place: they are bind-mounted into the
// container.
func WriteEtc(dir string, c EtcConfig) error {
	hosts, err := Hosts(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "hosts"), hosts, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "resolv.conf"), ResolvConf(c), 0o644)
}

// hostResolv reads a resolv.conf's servers, search list and options; a
// missing file has none.
func hostResolv(path string) (servers, search, opts []string) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil
	}
	defer f.Close() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		switch fields[0] {
		case "nameserver":
			servers = append(servers, fields[1])
		case "search", "domain":
			search = fields[1:]
		case "options":
			opts = fields[1:]
		}
	}
	return servers, search, opts
}

// ParseExtraHost reads --add-host NAME:IP (IP may be host-gateway).
func ParseExtraHost(s string) (name, ip string, err error) {
	name, ip, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", "", fmt.Errorf("--add-host %q: want NAME:IP", s)
	}
	if ip != "host-gateway" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return "", "", fmt.Errorf("--add-host %q: invalid IP address", s)
		}
	}
	return name, ip, nil
}
