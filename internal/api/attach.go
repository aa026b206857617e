package api

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/engine"
)

// attachment is a client attached to a container: the streams of its
// hijacked connection, and done once the container's run ends.
type attachment struct {
	streams engine.Streams
	// ready closes once streams are set: the attachment is registered
	// before the client has its answer, so that a start it sends at once
	// finds it, and waits for it.
	ready chan struct{}
	done  chan struct{}
	once  sync.Once
}

func (a *attachment) finish() { a.once.Do(func() { close(a.done) }) }

// fanOut is one set of streams for the clients attached before a start:
// the output goes to each, the input comes from the first that sends.
func fanOut(as []*attachment) engine.Streams {
	var out, errs []io.Writer
	var s engine.Streams
	for _, a := range as {
		select {
		case <-a.ready:
		case <-time.After(5 * time.Second):
			continue // a client that never took its stream gets none
		}
		if a.streams.Stdout != nil {
			out = append(out, a.streams.Stdout)
		}
		if a.streams.Stderr != nil {
			errs = append(errs, a.streams.Stderr)
		}
		if s.Stdin == nil {
			s.Stdin, s.DetachKeys = a.streams.Stdin, a.streams.DetachKeys
		}
	}
	s.Stdout, s.Stderr = multi(out), multi(errs)
	return s
}

func multi(ws []io.Writer) io.Writer {
	switch len(ws) {
	case 0:
		return nil
	case 1:
		return ws[0]
	}
	return tolerantMulti(ws)
}

// tolerantMulti writes to every writer; one that fails (a client gone)
// does not stop the others.
type tolerantMulti []io.Writer

func (m tolerantMulti) Write(p []byte) (int, error) {
	for _, w := range m {
		_, _ = w.Write(p) // a client that went away misses the rest
	}
	return len(p), nil
}

// containerAttach hijacks the connection and streams the container's
// output on it (and its input from it): at once for a running
// container, else from its start.
func (s *Server) containerAttach(w http.ResponseWriter, r *http.Request) {
	c, err := s.e.ContainerInspect(r.PathValue("id"))
	if err != nil {
		writeError(w, err)
		return
	}
	tty := c.Config != nil && c.Config.Tty
	a := &attachment{ready: make(chan struct{}), done: make(chan struct{})}
	pending := boolValue(r, "stream") && (c.State == nil || !c.State.Running)
	if pending {
		s.mu.Lock()
		s.attaches[c.ID] = append(s.attaches[c.ID], a)
		s.mu.Unlock()
	}
	conn, rw, err := hijack(w, r, tty)
	if err != nil {
		close(a.ready) // no streams: a start finds nobody to send to
		return         // the client is gone, or the connection could not be taken
	}
	defer conn.Close() // EOF for the client: the stream has ended
	out := newStreamWriter(rw, tty)
	if boolValue(r, "stdout") {
		a.streams.Stdout = out.stdout()
	}
	if boolValue(r, "stderr") {
		a.streams.Stderr = out.stderr()
	}
	if boolValue(r, "stdin") && c.Config != nil && c.Config.OpenStdin {
		a.streams.Stdin = rw.Reader
	}
	a.streams.DetachKeys = r.URL.Query().Get("detachKeys")
	// logs=1 sends what the container wrote so far; stream=0 ends there.
	if boolValue(r, "logs") {
		_ = s.e.ContainerLogs(r.Context(), c.ID, engine.LogsOptions{}, orDiscard(a.streams.Stdout), orDiscard(a.streams.Stderr)) // what could be read was sent
	}
	close(a.ready)
	if !boolValue(r, "stream") {
		return
	}
	if !pending {
		a.streams.Resizes = s.resizer(c.ID)
		defer s.dropResizer(c.ID)
		_, _ = s.e.ContainerAttach(r.Context(), c.ID, a.streams) // the stream is the answer: it ends with the container
		return
	}
	<-a.done
}

// hijack takes the connection over for a raw stream: 101 UPGRADED when
// the client asked to upgrade (the docker CLI does), else 200.
func hijack(w http.ResponseWriter, r *http.Request, tty bool) (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		writeError(w, fmt.Errorf("the connection cannot be hijacked"))
		return nil, nil, fmt.Errorf("not hijackable")
	}
	conn, rw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	head := "HTTP/1.1 200 OK\r\nContent-Type: " + streamType(tty) + "\r\n\r\n"
	if r.Header.Get("Upgrade") != "" {
		head = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + streamType(tty) + "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
	}
	if _, err := rw.WriteString(head); err != nil {
		_ = conn.Close() // a client gone before the stream began
		return nil, nil, err
	}
	if err := rw.Flush(); err != nil {
		_ = conn.Close() // as above
		return nil, nil, err
	}
	awaitRead(conn)
	return conn, rw, nil
}

// awaitRead waits, briefly, until the client has read what was sent on
// a unix socket (its send queue is empty). A client that parses the
// response's headers through a buffer and then reads the raw socket
// (docker-py) would lose stream bytes that arrived with the headers.
func awaitRead(conn net.Conn) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return
	}
	for range 100 {
		queued := 0
		_ = raw.Control(func(fd uintptr) {
			queued, err = unix.IoctlGetInt(int(fd), unix.SIOCOUTQ)
		})
		if err != nil || queued == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// streamType is the stream's content type: raw with a terminal, else
// multiplexed in 8-byte-header frames.
func streamType(tty bool) string {
	if tty {
		return "application/vnd.docker.raw-stream"
	}
	return "application/vnd.docker.multiplexed-stream"
}

// streamWriter writes a container's output to a client: as it is with
// a terminal, else in frames naming the stream (1 stdout, 2 stderr),
// each flushed.
type streamWriter struct {
	mu  sync.Mutex
	w   io.Writer
	tty bool
}

func newStreamWriter(w io.Writer, tty bool) *streamWriter { return &streamWriter{w: w, tty: tty} }

func (s *streamWriter) stdout() io.Writer { return frameWriter{s, 1} }
func (s *streamWriter) stderr() io.Writer { return frameWriter{s, 2} }

type frameWriter struct {
	s      *streamWriter
	stream byte
}

func (f frameWriter) Write(p []byte) (int, error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.tty {
		var hdr [8]byte
		hdr[0] = f.stream
		binary.BigEndian.PutUint32(hdr[4:], uint32(len(p)))
		if _, err := s.w.Write(hdr[:]); err != nil {
			return 0, err
		}
	}
	n, err := s.w.Write(p)
	if err != nil {
		return n, err
	}
	if bw, ok := s.w.(*bufio.ReadWriter); ok {
		return n, bw.Flush()
	}
	flush(s.w)
	return n, nil
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
