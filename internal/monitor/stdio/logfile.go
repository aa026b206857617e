package stdio

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// LogEntry is one line of a container's log, in Docker's json-file form.
type LogEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

// LogOptions choose a log driver and bound its files: rotation is on by
// default (Docker's json-file never rotates unless told, a common way
// to fill a disk).
type LogOptions struct {
	// Driver is "json-file" (or ""), "cri" or "none".
	Driver   string
	MaxSize  int64 // bytes per file (default 10 MB)
	MaxFiles int   // files kept, the current one included (default 3)
}

// Log drivers.
const (
	JSONFile = "json-file"
	NoLog    = "none"
)

// A LogDriver keeps a container's output: JSONFile writes Docker's
// json-file log with rotation (LogWriter), CRI the Kubernetes format
// (CRILog), NoLog keeps nothing.
type LogDriver interface {
	// Lines is the writer of one stream ("stdout" or "stderr"), which
	// cuts what it is given into entries.
	Lines(stream string) LineWriter
	Close() error
}

// A LineWriter takes a stream's bytes; Flush logs a last, unfinished
// line.
type LineWriter interface {
	io.Writer
	Flush()
}

// OpenDriver opens the log driver o names for a container whose log
// file (for the drivers that keep one) is path.
func OpenDriver(path string, o LogOptions) (LogDriver, error) {
	switch o.Driver {
	case "", JSONFile:
		return OpenLog(path, o)
	case NoLog:
		return Discard, nil
	case CRI:
		return OpenCRILog(path)
	}
	return nil, fmt.Errorf("log driver %q: want json-file, cri or none", o.Driver)
}

// Discard is the none driver: it keeps nothing.
var Discard LogDriver = discard{}

type discard struct{}

func (discard) Lines(string) LineWriter { return discardLines{} }
func (discard) Close() error            { return nil }

type discardLines struct{}

func (discardLines) Write(p []byte) (int, error) { return len(p), nil }
func (discardLines) Flush()                      {}

// LogWriter appends entries to path, rotating path -> path.1 -> ... .
type LogWriter struct {
	mu   sync.Mutex
	path string
	f    *os.File
	size int64
	o    LogOptions
}

func OpenLog(path string, o LogOptions) (*LogWriter, error) {
	if o.MaxSize <= 0 {
		o.MaxSize = 10 << 20
	}
	if o.MaxFiles <= 0 {
		o.MaxFiles = 3
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log %s: %w", path, err)
	}
	fi, _ := f.Stat()
	return &LogWriter{path: path, f: f, size: fi.Size(), o: o}, nil
}

func (l *LogWriter) write(stream, line string) {
	b, _ := json.Marshal(LogEntry{Log: line, Stream: stream, Time: time.Now().UTC()})
	b = append(b, '\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size+int64(len(b)) > l.o.MaxSize && l.size > 0 {
		l.rotate()
	}
	n, _ := l.f.Write(b)
	l.size += int64(n)
}

func (l *LogWriter) rotate() {
	_ = l.f.Close() // written through (no buffer)
	for i := l.o.MaxFiles - 1; i >= 1; i-- {
		from := l.path
		if i > 1 {
			from += "." + strconv.Itoa(i-1)
		}
		_ = os.Rename(from, l.path+"."+strconv.Itoa(i)) // a file not there yet: fewer rotations so far
	}
	if l.o.MaxFiles == 1 {
		_ = os.Remove(l.path) // truncated below in any case
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_TRUNC, 0o640)
	if err == nil {
		l.f, l.size = f, 0
	}
}

// LineLogger cuts a stream into log entries: one per line, and a line
// longer than 16 KiB split, as Docker does.
type LineLogger struct {
	l      *LogWriter
	stream string
	buf    []byte
}

// Lines is the writer of one stream.
func (l *LogWriter) Lines(stream string) LineWriter { return &LineLogger{l: l, stream: stream} }

// Close closes the log file.
func (l *LogWriter) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

func (w *LineLogger) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.l.write(w.stream, string(w.buf[:i+1]))
		w.buf = w.buf[i+1:]
	}
	for len(w.buf) >= 16<<10 {
		w.l.write(w.stream, string(w.buf[:16<<10]))
		w.buf = w.buf[16<<10:]
	}
	return len(p), nil
}

// Flush logs a last line without its newline.
func (w *LineLogger) Flush() {
	if len(w.buf) > 0 {
		w.l.write(w.stream, string(w.buf))
		w.buf = nil
	}
}

// LogFiles lists a log's files, oldest first.
func LogFiles(path string, o LogOptions) []string {
	if o.MaxFiles <= 0 {
		o.MaxFiles = 3
	}
	var out []string
	for i := o.MaxFiles - 1; i >= 1; i-- {
		p := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return append(out, path)
}
