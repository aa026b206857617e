// Command probe runs inside test containers and reports what the kernel
// lets it do: `probe euid` prints its effective uid; `probe syscalls`
// tries what a default-profile container must not do and prints
// "name=errno" for each ("name=ok" if it worked); `probe localnet PORT`
// sends, with CAP_NET_RAW, a TCP SYN from the container's address to
// 127.0.0.1:PORT through the gateway's MAC (CVE-2020-8558) and prints
// "answered" if the host replied, else "no answer"; `probe udpecho
// PORT` sends every datagram it gets on PORT back to its sender.
package main

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: probe euid|syscalls|keyring")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "euid":
		fmt.Println(unix.Geteuid())
	case "keyring":
		// The session keyring's description names who made it.
		id, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_SESSION_KEYRING, 0, 0, 0)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, id)
		fmt.Println(desc, err)
	case "syscalls":
		try := func(name string, err error) {
			if err == nil {
				fmt.Printf("%s=ok\n", name)
				return
			}
			fmt.Printf("%s=%s\n", name, unix.ErrnoName(err.(unix.Errno)))
		}
		try("unshare-user", unix.Unshare(unix.CLONE_NEWUSER))
		_, err := unix.KeyctlJoinSessionKeyring("probe")
		try("keyctl", err)
		try("mount", unix.Mount("tmpfs", "/tmp", "tmpfs", 0, ""))
		try("finit_module", unix.FinitModule(0, "", 0))
		try("init_module", unix.InitModule([]byte{0}, ""))
	case "localnet":
		port, _ := strconv.Atoi(os.Args[len(os.Args)-1])
		answered, err := synToLocalhost(uint16(port))
		switch {
		case err != nil:
			fmt.Println("error", err)
			os.Exit(1)
		case answered:
			fmt.Println("answered")
		default:
			fmt.Println("no answer")
		}
	case "udpecho":
		pc, err := net.ListenPacket("udp4", ":"+os.Args[len(os.Args)-1])
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		buf := make([]byte, 65536)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				os.Exit(1)
			}
			pc.WriteTo(buf[:n], from)
		}
	default:
		fmt.Fprintln(os.Stderr, "probe: unknown command", os.Args[1])
		os.Exit(2)
	}
}

// synToLocalhost sends one SYN to 127.0.0.1:port on eth0's link, to the
// gateway's MAC, and waits two seconds for any TCP reply from there.
func synToLocalhost(port uint16) (bool, error) {
	ifc, err := net.InterfaceByName("eth0")
	if err != nil {
		return false, err
	}
	addrs, _ := ifc.Addrs()
	var src net.IP
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil {
			src = ipn.IP.To4()
		}
	}
	if src == nil {
		return false, errors.New("eth0 has no IPv4 address")
	}
	gw, err := defaultGateway()
	if err != nil {
		return false, err
	}
	mac, err := macOf(gw)
	if err != nil {
		return false, err
	}
	proto := htons(unix.ETH_P_IP)
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_DGRAM, int(proto))
	if err != nil {
		return false, fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index}); err != nil {
		return false, err
	}
	const sport = 40123
	pkt := synPacket(src, net.IPv4(127, 0, 0, 1).To4(), sport, port)
	to := &unix.SockaddrLinklayer{Protocol: proto, Ifindex: ifc.Index, Halen: 6}
	copy(to.Addr[:], mac)
	if err := unix.Sendto(fd, pkt, 0, to); err != nil {
		return false, fmt.Errorf("send: %w", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	buf := make([]byte, 2048)
	for time.Now().Before(deadline) {
		tv := unix.NsecToTimeval(int64(time.Until(deadline)))
		_ = unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			break
		}
		p := buf[:n]
		if len(p) < 40 || p[0]>>4 != 4 || p[9] != unix.IPPROTO_TCP {
			continue
		}
		ihl := int(p[0]&0xf) * 4
		if len(p) < ihl+20 || !net.IP(p[12:16]).Equal(net.IPv4(127, 0, 0, 1)) {
			continue
		}
		tcp := p[ihl:]
		if binary.BigEndian.Uint16(tcp[0:2]) == port && binary.BigEndian.Uint16(tcp[2:4]) == sport {
			return true, nil
		}
	}
	return false, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// defaultGateway reads the default route's gateway from /proc/net/route.
func defaultGateway() (net.IP, error) {
	f, err := os.Open("/proc/net/route")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) > 2 && fl[1] == "00000000" {
			b, err := hex.DecodeString(fl[2])
			if err != nil || len(b) != 4 {
				continue
			}
			return net.IPv4(b[3], b[2], b[1], b[0]).To4(), nil
		}
	}
	return nil, errors.New("no default route")
}

// macOf resolves ip's MAC: a datagram to it makes the kernel ask, and
// /proc/net/arp has the answer.
func macOf(ip net.IP) (net.HardwareAddr, error) {
	if c, err := net.Dial("udp4", net.JoinHostPort(ip.String(), "9")); err == nil {
		c.Write([]byte{0})
		c.Close()
	}
	for i := 0; i < 100; i++ {
		b, _ := os.ReadFile("/proc/net/arp")
		for _, line := range strings.Split(string(b), "\n") {
			fl := strings.Fields(line)
			if len(fl) >= 4 && fl[0] == ip.String() && fl[3] != "00:00:00:00:00:00" {
				return net.ParseMAC(fl[3])
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil, fmt.Errorf("no MAC for %s", ip)
}

// synPacket is an IPv4 header and a TCP SYN, checksums filled in.
func synPacket(src, dst net.IP, sport, dport uint16) []byte {
	p := make([]byte, 40)
	p[0], p[8], p[9] = 0x45, 64, unix.IPPROTO_TCP
	binary.BigEndian.PutUint16(p[2:], 40)
	copy(p[12:16], src)
	copy(p[16:20], dst)
	binary.BigEndian.PutUint16(p[10:], checksum(p[:20]))
	t := p[20:]
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], 1)
	t[12], t[13] = 5<<4, 0x02 // 20-byte header; SYN
	binary.BigEndian.PutUint16(t[14:], 64240)
	pseudo := append(append(append([]byte{}, src...), dst...), 0, unix.IPPROTO_TCP, 0, 20)
	binary.BigEndian.PutUint16(t[16:], checksum(append(pseudo, t...)))
	return p
}

func checksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}
