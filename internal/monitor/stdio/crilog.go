package stdio

import (
	"bytes"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// CRI is the Kubernetes log format's driver: the kubelet (and crictl
// logs) read the file at the container's LogPath, one line per entry:
// "<RFC3339Nano> stdout|stderr F|P <text>", P for a part of a line that
// was longer than 16 KiB. The kubelet rotates the file; Reopen starts
// a new one at the path.
const CRI = "cri"

// CRILog writes a container's output in the CRI log format.
type CRILog struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

// OpenCRILog appends to the CRI log at path, making it (and its
// directory: crictl names one that need not exist) if need be.
func OpenCRILog(path string) (*CRILog, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	return &CRILog{path: path, f: f}, nil
}

// Reopen closes the log and opens its path again: the kubelet renamed
// the file to rotate it (ReopenContainerLog).
func (l *CRILog) Reopen() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("reopen log %s: %w", l.path, err)
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *CRILog) write(stream string, tag byte, text []byte) {
	b := make([]byte, 0, len(text)+48)
	b = time.Now().UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, stream...)
	b = append(b, ' ', tag, ' ')
	b = append(b, text...)
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(b) // the log keeps going past a full disk, as the json-file log does
}

// Lines is the writer of one stream.
func (l *CRILog) Lines(stream string) LineWriter { return &criLines{l: l, stream: stream} }

// Close closes the log file.
func (l *CRILog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

type criLines struct {
	l      *CRILog
	stream string
	buf    []byte
}

func (w *criLines) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.l.write(w.stream, 'F', w.buf[:i])
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= 16<<10 {
		w.l.write(w.stream, 'P', w.buf[:16<<10])
		w.buf = w.buf[16<<10:]
	}
	return len(p), nil
}

// Flush logs a last line without its newline, whole.
func (w *criLines) Flush() {
	if len(w.buf) > 0 {
		w.l.write(w.stream, 'F', w.buf)
		w.buf = nil
	}
}

// ReopenSignal is what a monitor that writes a CRI log takes to reopen
// it (ReopenContainerLog); only such a monitor may be sent it.
const ReopenSignal = syscall.SIGUSR1

// ReopenOnSignal reopens a CRI log at each ReopenSignal; other drivers
// need no reopening.
func ReopenOnSignal(d LogDriver) {
	l, ok := d.(*CRILog)
	if !ok {
		return
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, ReopenSignal)
	go func() {
		for range sigs {
			// A failed reopen keeps the old file: the output is not lost.
			_ = l.Reopen()
		}
	}()
}

// ParseCRILine reads one line of a CRI log as an entry: its text gets
// back its newline unless it was a part (P).
func ParseCRILine(line []byte) (LogEntry, bool) {
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return LogEntry{}, false
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return LogEntry{}, false
	}
	tag, text, ok := bytes.Cut(rest, []byte{' '})
	if !ok || len(tag) != 1 || tag[0] != 'F' && tag[0] != 'P' {
		return LogEntry{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return LogEntry{}, false
	}
	e := LogEntry{Log: string(text), Stream: string(stream), Time: t}
	if tag[0] == 'F' {
		e.Log += "\n"
	}
	return e, true
}
