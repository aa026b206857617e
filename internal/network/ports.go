package network

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// PortSpec is one -p: a host address and port range published to a
// container port range (a zero HostPort picks a free port).
type PortSpec struct {
	HostIP        netip.Addr `json:"hostIp,omitempty"`
	HostPort      uint16     `json:"hostPort,omitempty"`
	ContainerPort uint16     `json:"containerPort"`
	Proto         string     `json:"proto"`
}

// ParsePublish reads -p [IP:][HOSTPORT:]CONTAINERPORT[/PROTO], with
// ranges (8000-8002:80-82, or a host range for one container port is
// refused as ambiguous).
func ParsePublish(s string) ([]PortSpec, error) {
	bad := func(why string) ([]PortSpec, error) {
		return nil, fmt.Errorf("-p %q: %s (want [IP:][HOST-PORT:]CONTAINER-PORT[/tcp|udp])", s, why)
	}
	rest, proto, _ := strings.Cut(s, "/")
	if proto == "" {
		proto = "tcp"
	}
	if proto != "tcp" && proto != "udp" {
		return bad("unknown protocol " + strconv.Quote(proto))
	}
	var ipStr, hostStr, ctrStr string
	if strings.HasPrefix(rest, "[") {
		return bad("IPv6 addresses are not supported")
	}
	parts := strings.Split(rest, ":")
	switch len(parts) {
	case 1:
		ctrStr = parts[0]
	case 2:
		hostStr, ctrStr = parts[0], parts[1]
	case 3:
		ipStr, hostStr, ctrStr = parts[0], parts[1], parts[2]
	default:
		return bad("too many colons")
	}
	var ip netip.Addr
	if ipStr != "" {
		a, err := netip.ParseAddr(ipStr)
		if err != nil || !a.Is4() {
			return bad("invalid host IPv4 address " + strconv.Quote(ipStr))
		}
		ip = a
	}
	cLo, cHi, err := portRange(ctrStr)
	if err != nil || cLo == 0 {
		return bad("invalid container port " + strconv.Quote(ctrStr))
	}
	var hLo, hHi uint16
	if hostStr != "" {
		if hLo, hHi, err = portRange(hostStr); err != nil || hLo == 0 {
			return bad("invalid host port " + strconv.Quote(hostStr))
		}
		if hHi-hLo != cHi-cLo {
			return bad("the host and container port ranges differ in size")
		}
	}
	var out []PortSpec
	for i := 0; i <= int(cHi-cLo); i++ {
		p := PortSpec{HostIP: ip, ContainerPort: cLo + uint16(i), Proto: proto}
		if hLo != 0 {
			p.HostPort = hLo + uint16(i)
		}
		out = append(out, p)
	}
	return out, nil
}

func portRange(s string) (uint16, uint16, error) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return 0, 0, err
	}
	b := a
	if isRange {
		if b, err = strconv.ParseUint(hi, 10, 16); err != nil || b < a {
			return 0, 0, fmt.Errorf("invalid range %q", s)
		}
	}
	if b-a > 1000 {
		return 0, 0, fmt.Errorf("range %q too large", s)
	}
	return uint16(a), uint16(b), nil
}

// ExposedPort reads an image's ExposedPorts key: "80/tcp".
func ExposedPort(k string) (PortSpec, error) {
	ps, err := ParsePublish(k)
	if err != nil || len(ps) != 1 {
		return PortSpec{}, fmt.Errorf("exposed port %q: invalid", k)
	}
	return ps[0], nil
}

// checkFree fails when something on the host holds the port, and picks
// a free one when p.HostPort is zero.
func checkFree(p *PortSpec) error {
	host := "0.0.0.0"
	if p.HostIP.IsValid() {
		host = p.HostIP.String()
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(p.HostPort)))
	if p.Proto == "udp" {
		c, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return fmt.Errorf("bind %s/udp: %w", addr, err)
		}
		p.HostPort = uint16(c.LocalAddr().(*net.UDPAddr).Port)
		return c.Close()
	}
	l, err := net.Listen("tcp4", addr)
	if err != nil {
		return fmt.Errorf("bind %s/tcp: %w", addr, err)
	}
	p.HostPort = uint16(l.Addr().(*net.TCPAddr).Port)
	return l.Close()
}

// ParseSubnet reads --subnet: an IPv4 prefix, its host bits ignored.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: not an IPv4 CIDR prefix", s)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: only IPv4 networks are supported", s)
	}
	if p.Bits() > 30 || p.Bits() < 8 {
		return netip.Prefix{}, fmt.Errorf("--subnet %q: the prefix length must be between 8 and 30", s)
	}
	return p.Masked(), nil
}
