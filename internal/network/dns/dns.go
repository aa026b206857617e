// Package dns is the name server a container on a user-defined network
// asks (127.0.0.11, as Docker's): it answers for the containers of the
// container's networks, by name, alias and short ID, and forwards every
// other question to the host's resolvers. It runs in the container's
// monitor, on a socket opened inside the container's network namespace,
// so no daemon and no port on the host are needed.
package dns

import (
	"bufio"
	"errors"
	"net"
	"net/netip"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/vishvananda/netns"
	"golang.org/x/net/dns/dnsmessage"
)

// Address is where containers find the server.
const Address = "127.0.0.11"

// Server answers one container's questions.
type Server struct {
	// Lookup returns the addresses of a container name on the networks
	// the container is on, nil when the name is not one of theirs.
	Lookup func(name string) []netip.Addr
	// Upstreams are the host's resolvers (host:port), asked for the rest.
	Upstreams []string
}

// ListenInNamespace opens the server's UDP socket at 127.0.0.11:53 in
// the network namespace at nsPath. The socket stays in that namespace
// whatever thread later uses it.
func ListenInNamespace(nsPath string) (net.PacketConn, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer orig.Close() // a namespace handle: the thread is back in it below
	target, err := netns.GetFromPath(nsPath)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer target.Close() // a namespace handle: the socket keeps the namespace
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	pc, lerr := net.ListenPacket("udp4", Address+":53")
	if err := netns.Set(orig); err != nil {
		// This thread is in the wrong namespace for good: leaving it
		// locked makes Go end it with this goroutine.
		if pc != nil {
			_ = pc.Close() // a socket not served: the error above is returned
		}
		return nil, err
	}
	runtime.UnlockOSThread()
	return pc, lerr
}

// HostResolvers reads the host's nameservers from resolv.conf.
func HostResolvers(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close() // read only
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "nameserver" {
			if a, err := netip.ParseAddr(fields[1]); err == nil {
				out = append(out, netip.AddrPortFrom(a, 53).String())
			}
		}
	}
	return out
}

// Serve answers on pc until it is closed.
func (s *Server) Serve(pc net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		q := append([]byte(nil), buf[:n]...)
		if resp, ok := s.answer(q); ok {
			_, _ = pc.WriteTo(resp, from) // a lost answer is a query the client retries
			continue
		}
		go func() {
			if resp := s.forward(q); resp != nil {
				_, _ = pc.WriteTo(resp, from) // as above
			}
		}()
	}
}

// answer answers q itself when it asks about a container name (or is
// malformed); ok is false when q is for the upstream resolvers.
func (s *Server) answer(q []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(q)
	if err != nil {
		return nil, false
	}
	question, err := p.Question()
	if err != nil {
		return reply(h, nil, dnsmessage.RCodeFormatError, nil), true
	}
	name := strings.ToLower(strings.TrimSuffix(question.Name.String(), "."))
	var addrs []netip.Addr
	if s.Lookup != nil {
		addrs = s.Lookup(name)
	}
	if addrs == nil {
		if !strings.Contains(name, ".") || len(s.Upstreams) == 0 {
			// A single label that is no container's is nobody's: it is
			// not sent to the host's resolvers.
			return reply(h, &question, dnsmessage.RCodeNameError, nil), true
		}
		return nil, false
	}
	var answers []dnsmessage.Resource
	all := question.Type == dnsmessage.TypeALL
	for _, a := range addrs {
		switch {
		case a.Is4() && (all || question.Type == dnsmessage.TypeA):
			answers = append(answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET, TTL: 600},
				Body:   &dnsmessage.AResource{A: a.As4()},
			})
		case a.Is6() && (all || question.Type == dnsmessage.TypeAAAA):
			answers = append(answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: question.Name, Type: dnsmessage.TypeAAAA, Class: dnsmessage.ClassINET, TTL: 600},
				Body:   &dnsmessage.AAAAResource{AAAA: a.As16()},
			})
		}
	}
	return reply(h, &question, dnsmessage.RCodeSuccess, answers), true
}

func reply(h dnsmessage.Header, q *dnsmessage.Question, rcode dnsmessage.RCode, answers []dnsmessage.Resource) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, OpCode: h.OpCode, RecursionDesired: h.RecursionDesired, RecursionAvailable: true, Authoritative: true, RCode: rcode})
	b.EnableCompression()
	_ = b.StartQuestions() // a builder over a fresh buffer: it fails only on a bad message, which the parser refused
	if q != nil {
		_ = b.Question(*q) // a builder over a fresh buffer: it fails only on a bad message, which the parser refused
	}
	_ = b.StartAnswers() // a builder over a fresh buffer: it fails only on a bad message, which the parser refused
	// A builder over a fresh buffer fails only on a bad message, which
	// the parser refused.
	for _, a := range answers {
		switch body := a.Body.(type) {
		case *dnsmessage.AResource:
			_ = b.AResource(a.Header, *body)
		case *dnsmessage.AAAAResource:
			_ = b.AAAAResource(a.Header, *body)
		}
	}
	out, _ := b.Finish()
	return out
}

// forward asks the upstream resolvers in turn and returns the first
// answer.
func (s *Server) forward(q []byte) []byte {
	for _, up := range s.Upstreams {
		c, err := net.DialTimeout("udp", up, 2*time.Second)
		if err != nil {
			continue
		}
		_ = c.SetDeadline(time.Now().Add(2 * time.Second)) // a UDP socket: cannot fail
		if _, err := c.Write(q); err != nil {
			_ = c.Close() // a connection to an upstream, done with
			continue
		}
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		_ = c.Close() // as above
		if err == nil {
			return buf[:n]
		}
	}
	return nil
}
