// Package stdio is a container's output and input as its monitor owns
// them: the rotating json-file log, and the hub that fans output out to
// attached clients and feeds their input to the container. It is light
// on purpose: the idle monitor (cmd/berth-monitor) is built from it.
package stdio

import (
	"bufio"
	"net"
	"os"
	"sync"
	"time"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/console"
)

// Hub owns the container's stdio for the monitor: it fans output out
// to the log and to every attached client, and feeds the clients' input
// to the container (its stdin pipe, or the pty).
type Hub struct {
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

func NewHub(stdinOnce bool) *Hub {
	return &Hub{clients: map[net.Conn]struct{}{}, stdinOnce: stdinOnce}
}

// SetInput points input at the current run of the container.
func (h *Hub) SetInput(stdin, tty *os.File) {
	h.mu.Lock()
	h.stdin, h.tty = stdin, tty
	h.mu.Unlock()
}

// Add attaches a client and serves its input.
func (h *Hub) Add(c net.Conn) { h.AddWatched(c, nil) }

// AddWatched is Add; gone, when set, is called once the client's end of
// the connection closes (it detached, ended, or its process died).
func (h *Hub) AddWatched(c net.Conn, gone func()) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
	go h.serve(c, gone)
}

func (h *Hub) serve(c net.Conn, gone func()) {
	r := bufio.NewReader(c)
	var buf []byte
	for {
		kind, p, err := attach.ReadFrame(r, &buf)
		if err != nil {
			if gone != nil {
				gone()
			}
			return // the client detached or went away; output to it stops at the next write
		}
		h.mu.Lock()
		in, tty := h.stdin, h.tty
		h.mu.Unlock()
		switch kind {
		case attach.Stdin:
			if in != nil {
				// A container that closed its input drops it, as a pipe would.
				_, _ = in.Write(p)
			}
		case attach.CloseStdin:
			if in != nil && tty == nil && h.stdinOnce {
				h.mu.Lock()
				h.stdin = nil
				h.mu.Unlock()
				_ = in.Close() // EOF for the container: nothing buffered
			}
		case attach.Resize:
			if rows, cols, ok := attach.ParseResize(p); ok && tty != nil {
				_ = console.SetSize(tty, uint(cols), uint(rows)) // the pty is gone: the container ended
			}
		}
	}
}

// broadcast sends output to every client. A client that does not take
// it within a few seconds is dropped rather than stalling the container.
func (h *Hub) broadcast(kind byte, p []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		_ = c.SetWriteDeadline(time.Now().Add(5 * time.Second)) // a unix socket: cannot fail
		if attach.WriteFrame(c, kind, p) != nil {
			_ = c.Close() // dropped: a client that does not read
			delete(h.clients, c)
		}
	}
}

// Attached counts the attached clients.
func (h *Hub) Attached() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// Exited tells every client the container's exit code, then ends the
// attachments: a foreground run exits with that code.
func (h *Hub) Exited(code int) {
	h.broadcast(attach.Exit, attach.ExitPayload(code))
	h.CloseAll()
}

// CloseAll ends every attachment: the container is done.
func (h *Hub) CloseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		_ = c.Close() // the attachment ends; the client sees EOF
		delete(h.clients, c)
	}
}

// Pump copies one output stream of the container to the clients at
// once and to the log line by line.
func (h *Hub) Pump(kind byte, stream string, r *os.File, logs LogDriver) {
	lines := logs.Lines(stream)
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			h.broadcast(kind, buf[:n])
			_, _ = lines.Write(buf[:n]) // the log writer keeps going past a full disk, as Docker's
		}
		if err != nil { // EOF, or EIO from a pty whose last user closed it
			lines.Flush()
			return
		}
	}
}

// ServeSocket accepts clients on the attach socket until it is closed.
func (h *Hub) ServeSocket(l *net.UnixListener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		h.Add(c)
	}
}
