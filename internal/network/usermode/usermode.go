// Package usermode is a rootless container's network: slirp4netns
// gives its namespace an eth0 (10.0.2.100/24, gateway 10.0.2.2, name
// server 10.0.2.3) and the outside through the user's own sockets, and a
// port forwarder of berth's own, in the host's namespace, serves the
// published ports by dialling the container's loopback from a thread in
// its namespace and splicing the two connections, which is several
// times faster than slirp4netns's own forwarding.
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
	Proto         string // tcp
}

// Net is a container's running user-mode network.
type Net struct {
	slirp     *exec.Cmd
	exit      *os.File // closing it ends slirp4netns
	listeners []net.Listener
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

// CheckPorts refuses what the forwarder cannot publish: UDP, and ports
// below the host's unprivileged port start.
func CheckPorts(ports []Port) error {
	start := 1024
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			start = n
		}
	}
	for _, p := range ports {
		if p.Proto != "tcp" {
			return fmt.Errorf("publish %d/%s: rootless berth forwards tcp ports only", p.ContainerPort, p.Proto)
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
		l, err := net.Listen("tcp", addr.String())
		if err != nil {
			if errors.Is(err, unix.EADDRINUSE) {
				return n, fmt.Errorf("bind for %s failed: port is already allocated", addr)
			}
			return n, fmt.Errorf("publish port %d: %w", p.HostPort, err)
		}
		n.listeners = append(n.listeners, l)
		n.wg.Add(1)
		go n.serve(l, p.ContainerPort)
	}
	return n, nil
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
	reply := make(chan dialRes, 1)
	select {
	case n.dial <- dialReq{port: port, reply: reply}:
	case <-n.done:
		return
	}
	r := <-reply
	if r.err != nil {
		return // refused inside: the client sees the connection end
	}
	defer r.conn.Close() // as above
	done := make(chan struct{})
	go func() {
		_, _ = io.Copy(r.conn, c) // splice(2) between TCP sockets; an error ends it as EOF does
		_ = r.conn.CloseWrite()   // the container sees EOF
		close(done)
	}()
	_, _ = io.Copy(c, r.conn) // as above
	_ = c.CloseWrite()        // the client sees EOF
	<-done
}

type dialReq struct {
	port  uint16
	reply chan dialRes
}

type dialRes struct {
	conn *net.TCPConn
	err  error
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
				c, err := net.DialTCP("tcp", nil, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: int(req.port)})
				req.reply <- dialRes{c, err}
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
	n.wg.Wait()
	close(n.done)
	_ = n.exit.Close() // slirp4netns ends when its exit fd closes
	if n.slirp.ProcessState == nil {
		_ = n.slirp.Wait() // reaps it; its status says nothing we need
	}
}
