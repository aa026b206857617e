package monitor

import (
	"bufio"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/console"
)

// hub owns the container's stdio for the monitor: it fans output out
// to the log and to every attached client, and feeds the clients' input
// to the container (its stdin pipe, or the pty).
type hub struct {
	mu      sync.Mutex
	clients map[net.Conn]struct{}
	// stdin is the container's input: the write end of its stdin pipe,
	// or the pty's master; nil when input is not open.
	stdin *os.File
	tty   *os.File
	// stdinOnce closes the container's input at the first client's end
	// of input (run -i), as Docker's StdinOnce.
	stdinOnce bool
}

func newHub(stdinOnce bool) *hub {
	return &hub{clients: map[net.Conn]struct{}{}, stdinOnce: stdinOnce}
}

// setInput points input at the current run of the container.
func (h *hub) setInput(stdin, tty *os.File) {
	h.mu.Lock()
	h.stdin, h.tty = stdin, tty
	h.mu.Unlock()
}

// add attaches a client and serves its input.
func (h *hub) add(c net.Conn) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	go h.serve(c)
}

func (h *hub) serve(c net.Conn) {
	r := bufio.NewReader(c)
	var buf []byte
	for {
		kind, p, err := attach.ReadFrame(r, &buf)
		if err != nil {
			return // the client detached or went away; output to it stops at the next write
		}
		h.mu.Lock()
		in, tty := h.stdin, h.tty
		h.mu.Unlock()
		switch kind {
		case attach.Stdin:
			if in != nil {
				in.Write(p)
			}
		case attach.CloseStdin:
			if in != nil && tty == nil && h.stdinOnce {
				h.mu.Lock()
				h.stdin = nil
				h.mu.Unlock()
				in.Close()
			}
		case attach.Resize:
			if rows, cols, ok := attach.ParseResize(p); ok && tty != nil {
				console.SetSize(tty, uint(cols), uint(rows))
			}
		}
	}
}

// broadcast sends output to every client. A client that does not take
// it within a few seconds is dropped rather than stalling the container.
func (h *hub) broadcast(kind byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if attach.WriteFrame(c, kind, p) != nil {
			c.Close()
			delete(h.clients, c)
		}
	}
}

// closeAll ends every attachment: the container is done.
func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.Close()
		delete(h.clients, c)
	}
}

// pump copies one output stream of the container to the clients at
// once and to the log line by line.
func (h *hub) pump(kind byte, stream string, r *os.File, logs *logWriter) {
	lines := logs.lines(stream)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.broadcast(kind, buf[:n])
			lines.Write(buf[:n])
		}
		if err != nil { // EOF, or EIO from a pty whose last user closed it
			lines.flush()
			return
		}
	}
}

// serveSocket accepts clients on the attach socket until it is closed.
func (h *hub) serveSocket(l *net.UnixListener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		h.add(c)
	}
}
