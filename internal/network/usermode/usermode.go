// Package usermode is a rootless container's network: slirp4netns
// gives its namespace an eth0 (10.0.2.100/24, gateway 10.0.2.2, name
// server 10.0.2.3) and the outside through the user's own sockets, and a
// port forwarder of berth's own, in the host's namespace, serves the
// published ports by dialling the container's loopback from a thread in
// its namespace: tcp connections are spliced, which is several times
// faster than slirp4netns's own forwarding; udp datagrams go through a
// socket per client, so that replies reach the client that asked.
package usermode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The addresses slirp4netns gives (its defaults, as Docker's and
// Podman's rootless modes have them).
var (
	Addr       = netip.MustParsePrefix("10.0.2.100/24")
	Gateway    = netip.MustParseAddr("10.0.2.2")
	NameServer = netip.MustParseAddr("10.0.2.3")
)

// DefaultMTU is slirp4netns's largest, and its fastest.
const DefaultMTU = 65520

// Port is one published port.
type Port struct {
	HostIP        netip.Addr // unspecified: every local address
	HostPort      uint16
	ContainerPort uint16
	Proto         string // tcp or udp
}

// Net is a container's running user-mode network.
type Net struct {
	slirp     *exec.Cmd
	exit      *os.File // closing it ends slirp4netns
	listeners []net.Listener
	packets   []*net.UDPConn
	dial      chan dialReq
	done      chan struct{} // closed by Close: the dialer and forwarders stop
	wg        sync.WaitGroup
}

// Check says what is missing for a user-mode network, in one line.
func Check() error {
	if _, err := exec.LookPath("slirp4netns"); err != nil {
		return errors.New("rootless networking needs slirp4netns (Debian: apt-get install slirp4netns); or use --network none or host")
	}
	if err := unix.Access("/dev/net/tun", unix.R_OK|unix.W_OK); err != nil {
		return fmt.Errorf("rootless networking needs /dev/net/tun readable and writable by the user (Debian makes it 0666; here: %v); or use --network none or host", err)
	}
	return nil
}

// CheckPorts refuses what the forwarder cannot publish: ports below the
// host's unprivileged port start.
func CheckPorts(ports []Port) error {
	start := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			start = n
		}
	}
	for _, p := range ports {
		if p.Proto != "tcp" && p.Proto != "udp" {
			return fmt.Errorf("publish %d/%s: rootless berth forwards tcp and udp ports", p.ContainerPort, p.Proto)
		}
		if int(p.HostPort) < start && p.HostPort != 0 {
			return fmt.Errorf("publish port %d: below net.ipv4.ip_unprivileged_port_start (%d), which a rootless user may not bind", p.HostPort, start)
		}
	}
	return nil
}

// Start gives the network namespace at nsPath (of the container whose
// init is pid) its user-mode network and publishes ports. It returns
// once eth0 is up and every port listens.
func Start(pid int, nsPath string, mtu int, ports []Port) (n *Net, err error) {
	if err := Check(); err != nil {
		return nil, err
	}
	if err := CheckPorts(ports); err != nil {
		return nil, err
	}
	if mtu == 0 {
		mtu = DefaultMTU
	}
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer readyR.Close() // read below
	exitR, exitW, err := os.Pipe()
	if err != nil {
		_ = readyW.Close() // unused: the pipe's error is returned
		return nil, err
	}
	cmd := exec.Command("slirp4netns", "--configure", "--mtu="+strconv.Itoa(mtu), "--disable-host-loopback",
		"--ready-fd=3", "--exit-fd=4", strconv.Itoa(pid), "eth0")
	cmd.ExtraFiles = []*os.File{readyW, exitR}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	err = cmd.Start()
	_ = readyW.Close() // the child has its copies
	_ = exitR.Close()
	if err != nil {
		_ = exitW.Close() // as above
		return nil, fmt.Errorf("start slirp4netns: %w", err)
	}
	n = &Net{slirp: cmd, exit: exitW, done: make(chan struct{})}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	b := make([]byte, 1)
	if _, err := io.ReadFull(readyR, b); err != nil {
		_ = cmd.Wait() // it has ended: its words say why
		return n, fmt.Errorf("slirp4netns: %s", strings.TrimSpace(lastLine(stderr.String())))
	}
	if len(ports) == 0 {
		return n, nil
	}
	if n.dial, err = dialer(nsPath, n.done); err != nil {
		return n, err
	}
	for _, p := range ports {
		addr := netip.AddrPortFrom(netip.IPv4Unspecified(), p.HostPort)
		if p.HostIP.IsValid() {
			addr = netip.AddrPortFrom(p.HostIP, p.HostPort)
		}
		if p.Proto == "udp" {
			pc, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
			if err != nil {
				return n, bindError(err, addr, p)
			}
			n.packets = append(n.packets, pc)
			n.wg.Add(1)
			go n.relay(pc, p.ContainerPort)
			continue
		}
		l, err := net.Listen("tcp", addr.String())
		if err != nil {
			return n, bindError(err, addr, p)
		}
		n.listeners = append(n.listeners, l)
		n.wg.Add(1)
		go n.serve(l, p.ContainerPort)
	}
	return n, nil
}

// bindError says why p's host port could not be bound, in Docker's
// words when another holds it.
func bindError(err error, addr netip.AddrPort, p Port) error {
	if errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("bind for %s/%s failed: port is already allocated", addr, p.Proto)
	}
	return fmt.Errorf("publish port %d/%s: %w", p.HostPort, p.Proto, err)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// serve accepts on l and forwards each connection to the container's
// port.
func (n *Net) serve(l net.Listener, port uint16) {
	defer n.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return // closed
		}
		go n.forward(c.(*net.TCPConn), port)
	}
}

// forward splices c with a connection to the container's port; what
// one side closes, the other sees closed for writing.
func (n *Net) forward(c *net.TCPConn, port uint16) {
	defer c.Close() // both directions are done
	conn, err := n.dialIn(false, port)
	if err != nil {
		return // refused inside: the client sees the connection end
	}
	in := conn.(*net.TCPConn)
	defer in.Close() // as above
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(in, c) // splice(2) between TCP sockets; an error ends it as EOF does
		_ = in.CloseWrite()   // the container sees EOF
		close(done)
	}()
	_, _ = io.Copy(c, in) // as above
	_ = c.CloseWrite()    // the client sees EOF
	<-done
}

type dialReq struct {
	udp   bool
	port  uint16
	reply chan dialRes
}

type dialRes struct {
	conn net.Conn // *net.TCPConn or *net.UDPConn
	err  error
}

// dialIn dials the container's port from its namespace.
func (n *Net) dialIn(udp bool, port uint16) (net.Conn, error) {
	reply := make(chan dialRes, 1)
	select {
	case n.dial <- dialReq{udp: udp, port: port, reply: reply}:
	case <-n.done:
		return nil, net.ErrClosed
	}
	r := <-reply
	return r.conn, r.err
}

// udpIdle ends a client's session after this long without a datagram,
// as conntrack forgets an unreplied UDP flow.
const udpIdle = 60 * time.Second

// relay forwards the datagrams of each client of pc to the container's
// port through a socket of the client's own in the container's
// namespace, so that replies find their way back to that client.
func (n *Net) relay(pc *net.UDPConn, port uint16) {
	defer n.wg.Done()
	var mu sync.Mutex
	sessions := map[netip.AddrPort]net.Conn{}
	defer func() {
		mu.Lock()
		for _, c := range sessions {
			_ = c.Close() // a datagram socket: nothing to flush
		}
		mu.Unlock()
	}()
	buf := make([]byte, 65536)
	for {
		m, from, err := pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		mu.Lock()
		c := sessions[from]
		mu.Unlock()
		if c == nil {
			if c, err = n.dialIn(true, port); err != nil {
				continue // the datagram is lost, as on a network
			}
			mu.Lock()
			sessions[from] = c
			mu.Unlock()
			go func() {
				back := make([]byte, 65536)
				for {
					_ = c.SetReadDeadline(time.Now().Add(udpIdle))
					k, err := c.Read(back)
					if err != nil {
						break // idle, or closed
					}
					_, _ = pc.WriteToUDPAddrPort(back[:k], from) // lost like any datagram
				}
				mu.Lock()
				delete(sessions, from)
				mu.Unlock()
				_ = c.Close() // as above
			}()
		}
		_, _ = c.Write(buf[:m]) // lost like any datagram
	}
}

// dialer serves dials from a thread that lives in the namespace at
// nsPath: a socket belongs to the namespace of the thread that makes
// it, and a connection made there works from any thread after.
func dialer(nsPath string, done chan struct{}) (chan dialReq, error) {
	reqs := make(chan dialReq)
	ready := make(chan error)
	go func() {
		// The thread never leaves the namespace: it ends with the
		// goroutine, since it stays locked.
		runtime.LockOSThread()
		fd, err := unix.Open(nsPath, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
			_ = unix.Close(fd) // joined, or not: the error is setns's
		}
		if err != nil {
			ready <- fmt.Errorf("join the container's network namespace: %w", err)
			return
		}
		close(ready)
		for {
			select {
			case req := <-reqs:
				var r dialRes
				if req.udp {
					c, err := net.DialUDP("udp", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(req.port)})
					r = dialRes{c, err}
					if err != nil {
						r.conn = nil // a typed nil would not compare equal to nil
					}
				} else {
					c, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(req.port)})
					r = dialRes{c, err}
					if err != nil {
						r.conn = nil // as above
					}
				}
				req.reply <- r
			case <-done:
				return
			}
		}
	}()
	return reqs, <-ready
}

// Close ends the network: its listeners, its forwarded connections'
// acceptors, and slirp4netns.
func (n *Net) Close() {
	for _, l := range n.listeners {
		_ = l.Close() // a listener: nothing to flush
	}
	for _, pc := range n.packets {
		_ = pc.Close() // as above
	}
	n.wg.Wait()
	close(n.done)
	_ = n.exit.Close() // slirp4netns ends when its exit fd closes
	if n.slirp.ProcessState == nil {
		_ = n.slirp.Wait() // reaps it; its status says nothing we need
	}
}
