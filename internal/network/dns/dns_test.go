package dns

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func query(t *testing.T, addr net.Addr, name string, typ dnsmessage.Type) dnsmessage.Message {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
	q, _ := b.Finish()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	c.Write(q)
	buf := make([]byte, 1500)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	var m dnsmessage.Message
	if err := m.Unpack(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return m
}

// The server answers container names itself, says NXDOMAIN for other
// single labels, and forwards the rest to its upstream (here a fake on
// loopback that answers 192.0.2.1).
func TestAnswersNamesAndForwards(t *testing.T) {
	up, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer up.Close()
	go (&Server{Lookup: func(string) []netip.Addr { return []netip.Addr{netip.MustParseAddr("192.0.2.1")} }}).Serve(up)
	pc, _ := net.ListenPacket("udp", "127.0.0.1:0")
	defer pc.Close()
	s := &Server{Upstreams: []string{up.LocalAddr().String()}, Lookup: func(n string) []netip.Addr {
		switch n {
		case "web":
			return []netip.Addr{netip.MustParseAddr("10.1.0.5")}
		case "dual":
			return []netip.Addr{netip.MustParseAddr("10.1.0.6"), netip.MustParseAddr("fd00:1::6")}
		}
		return nil
	}}
	go s.Serve(pc)
	m := query(t, pc.LocalAddr(), "web.", dnsmessage.TypeA)
	if len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{10, 1, 0, 5} || m.ID != 7 {
		t.Fatalf("web: %+v", m)
	}
	if m := query(t, pc.LocalAddr(), "WEB.", dnsmessage.TypeAAAA); m.RCode != dnsmessage.RCodeSuccess || len(m.Answers) != 0 {
		t.Fatalf("web AAAA: %+v", m)
	}
	if m := query(t, pc.LocalAddr(), "dual.", dnsmessage.TypeA); len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{10, 1, 0, 6} {
		t.Fatalf("dual A: %+v", m)
	}
	if m := query(t, pc.LocalAddr(), "dual.", dnsmessage.TypeAAAA); len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AAAAResource).AAAA != netip.MustParseAddr("fd00:1::6").As16() {
		t.Fatalf("dual AAAA: %+v", m)
	}
	if m := query(t, pc.LocalAddr(), "db.", dnsmessage.TypeA); m.RCode != dnsmessage.RCodeNameError {
		t.Fatalf("unknown single label: %+v", m)
	}
	if m := query(t, pc.LocalAddr(), "example.test.", dnsmessage.TypeA); len(m.Answers) != 1 || m.Answers[0].Body.(*dnsmessage.AResource).A != [4]byte{192, 0, 2, 1} {
		t.Fatalf("forwarded: %+v", m)
	}
}
