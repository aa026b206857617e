// Package attach is the protocol between a container's monitor and the
// clients attached to it (a foreground run, `attach`, `start -a`): the
// frames on the attach socket, the socket itself, and the client's
// side, with the detach keys.
//
// Every message is a frame: an 8-byte header (kind, three zero bytes,
// the payload's length as a big-endian uint32) and the payload. Output
// frames are Docker's stdcopy format, so a future API can pass them on.
package attach

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Frame kinds.
const (
	Stdin      byte = 0 // client -> monitor: input
	Stdout     byte = 1 // monitor -> client
	Stderr     byte = 2 // monitor -> client
	CloseStdin byte = 3 // client -> monitor: end of input
	Resize     byte = 4 // client -> monitor: rows, cols (2 x uint16)
	Exit       byte = 5 // monitor -> client: the container's exit code (int32), last
)

// ExitPayload encodes an exit code.
func ExitPayload(code int) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, uint32(int32(code)))
	return b
}

// maxFrame bounds a payload: a peer cannot make the other allocate more.
const maxFrame = 1 << 20

// WriteFrame writes one frame.
func WriteFrame(w io.Writer, kind byte, p []byte) error {
	buf := make([]byte, 8+len(p))
	buf[0] = kind
	binary.BigEndian.PutUint32(buf[4:], uint32(len(p)))
	copy(buf[8:], p)
	_, err := w.Write(buf)
	return err
}

// ReadFrame reads one frame; the payload is valid until the next call.
func ReadFrame(r *bufio.Reader, buf *[]byte) (byte, []byte, error) {
	var h [8]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	if n > maxFrame {
		return 0, nil, fmt.Errorf("attach frame of %d bytes: too large", n)
	}
	if cap(*buf) < int(n) {
		*buf = make([]byte, n)
	}
	p := (*buf)[:n]
	if _, err := io.ReadFull(r, p); err != nil {
		return 0, nil, err
	}
	return h[0], p, nil
}

// ResizePayload encodes a terminal size.
func ResizePayload(rows, cols uint16) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint16(b, rows)
	binary.BigEndian.PutUint16(b[2:], cols)
	return b
}

// ParseResize decodes a terminal size.
func ParseResize(p []byte) (rows, cols uint16, ok bool) {
	if len(p) != 4 {
		return 0, 0, false
	}
	return binary.BigEndian.Uint16(p), binary.BigEndian.Uint16(p[2:]), true
}

// viaDir turns path into one that fits sun_path (108 bytes) whatever
// the length of its directory: /proc/self/fd/N/NAME, with N the
// directory opened O_PATH. The returned function closes it.
func viaDir(path string) (string, func(), error) {
	if len(path) < 100 {
		return path, func() {}, nil
	}
	d, err := os.OpenFile(filepath.Dir(path), os.O_RDONLY|0x200000 /* O_PATH */, 0)
	if err != nil {
		return "", nil, err
	}
	return "/proc/self/fd/" + strconv.Itoa(int(d.Fd())) + "/" + filepath.Base(path), func() { _ = d.Close() }, nil // a directory handle for the path
}

// Listen listens on the attach socket at path, replacing a stale one.
func Listen(path string) (*net.UnixListener, error) {
	_ = os.Remove(path) // a stale socket, if any: Listen fails and says so if it stays
	p, done, err := viaDir(path)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	defer done()
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: p, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	l.SetUnlinkOnClose(false) // the name may be a /proc path; the monitor removes it
	_ = os.Chmod(path, 0o600) // best effort: the directory is the container's, mode 0711
	return l, nil
}

// Dial connects to the attach socket at path.
func Dial(path string) (*net.UnixConn, error) {
	p, done, err := viaDir(path)
	if err != nil {
		return nil, err
	}
	defer done()
	return net.DialUnix("unix", nil, &net.UnixAddr{Name: p, Net: "unix"})
}

// DefaultDetachKeys is Docker's ctrl-p,ctrl-q.
const DefaultDetachKeys = "ctrl-p,ctrl-q"

// ParseDetachKeys reads a detach sequence as Docker writes it: a comma
// list of single characters and ctrl-<x> (ctrl-a … ctrl-z, ctrl-@,
// ctrl-[, ctrl-\, ctrl-], ctrl-^, ctrl-_).
func ParseDetachKeys(s string) ([]byte, error) {
	var out []byte
	for _, k := range strings.Split(s, ",") {
		switch {
		case len(k) == 1:
			out = append(out, k[0])
		case strings.HasPrefix(k, "ctrl-") && len(k) == 6:
			c := k[5]
			switch {
			case c >= 'a' && c <= 'z':
				out = append(out, c-'a'+1)
			case c >= '@' && c <= '_' && !(c >= 'A' && c <= 'Z'):
				out = append(out, c-'@')
			default:
				return nil, fmt.Errorf("invalid detach key %q", k)
			}
		default:
			return nil, fmt.Errorf("invalid detach keys %q: want a comma list of characters and ctrl-<x>", s)
		}
	}
	return out, nil
}

// ErrDetached is what Client.Run returns when the user detached.
var ErrDetached = errors.New("detached")

// Client is the client side of an attachment.
type Client struct {
	Conn           net.Conn
	Stdin          io.Reader // nil: input not attached
	Stdout, Stderr io.Writer
	// DetachKeys, when set, end the attachment (not the container) when
	// typed on Stdin.
	DetachKeys []byte
	// Resizes are the terminal sizes to send, the first at once.
	Resizes <-chan [2]uint16
	// ExitCode is the container's, once the monitor has sent it
	// (Exited).
	ExitCode int
	Exited   bool
}

// Run copies until the monitor closes the stream (the container ended)
// or the user types the detach keys (ErrDetached).
func (c *Client) Run() error {
	var wmu sync.Mutex
	send := func(kind byte, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return WriteFrame(c.Conn, kind, p)
	}
	detached := make(chan struct{})
	if c.Stdin != nil {
		go func() {
			if c.copyInput(send) {
				close(detached)
				_ = c.Conn.Close() // ends copyOutput; the monitor sees the client go
			}
		}()
	}
	if c.Resizes != nil {
		go func() {
			for sz := range c.Resizes {
				if send(Resize, ResizePayload(sz[0], sz[1])) != nil {
					return
				}
			}
		}()
	}
	err := c.copyOutput()
	select {
	case <-detached:
		return ErrDetached
	default:
	}
	return err
}

func (c *Client) copyOutput() error {
	r := bufio.NewReaderSize(c.Conn, 64<<10)
	var buf []byte
	for {
		kind, p, err := ReadFrame(r, &buf)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if kind == Exit {
			if len(p) == 4 {
				c.ExitCode, c.Exited = int(int32(binary.BigEndian.Uint32(p))), true
			}
			continue
		}
		w := c.Stdout
		if kind == Stderr && c.Stderr != nil {
			w = c.Stderr
		}
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
}

// copyInput sends Stdin, watching for the detach keys; it reports
// whether the user detached.
func (c *Client) copyInput(send func(byte, []byte) error) bool {
	in := NewDetachReader(c.Stdin, c.DetachKeys)
	buf := make([]byte, 32<<10)
	for {
		n, err := in.Read(buf)
		if n > 0 && send(Stdin, buf[:n]) != nil {
			return false
		}
		if errors.Is(err, ErrDetached) {
			return true
		}
		if err != nil {
			_ = send(CloseStdin, nil) // input ends here; a monitor that is gone needs no more
			return false
		}
	}
}

// A DetachReader passes input through until the detach keys are typed,
// then fails with ErrDetached. Bytes that may begin the sequence are
// held back until the next tell; input that ends after a part of it
// gets that part.
type DetachReader struct {
	r       io.Reader
	keys    []byte
	matched int // how many bytes of keys the input ends with, held back
	pending []byte
	err     error
}

// NewDetachReader watches r for keys; none passes everything.
func NewDetachReader(r io.Reader, keys []byte) *DetachReader {
	return &DetachReader{r: r, keys: keys}
}

func (d *DetachReader) Read(p []byte) (int, error) {
	for len(d.pending) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		buf := make([]byte, len(p))
		n, err := d.r.Read(buf)
		d.pending = d.scan(buf[:n])
		if err != nil && d.err == nil {
			if d.matched > 0 {
				d.pending = append(d.pending, d.keys[:d.matched]...)
				d.matched = 0
			}
			d.err = err
		}
	}
	n := copy(p, d.pending)
	d.pending = d.pending[n:]
	return n, nil
}

// scan returns what of in is input, and notes a detach in d.err.
func (d *DetachReader) scan(in []byte) []byte {
	if len(d.keys) == 0 {
		return in
	}
	out := make([]byte, 0, len(in)+d.matched)
	for _, b := range in {
		if b == d.keys[d.matched] {
			d.matched++
			if d.matched == len(d.keys) {
				d.err = ErrDetached // a tail of input after the keys is dropped
				return out
			}
			continue
		}
		// Not the sequence: what was held back is input after all.
		out = append(out, d.keys[:d.matched]...)
		d.matched = 0
		if b == d.keys[0] {
			d.matched = 1
			continue
		}
		out = append(out, b)
	}
	return out
}
