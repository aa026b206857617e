package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/stdio"
)

// LogsOptions are logs'.
type LogsOptions struct {
	// Follow keeps printing what the container writes until it ends or
	// ctx is done.
	Follow bool
	// Timestamps puts each entry's time (RFC 3339, nanoseconds) before it.
	Timestamps bool
	// Tail is how many entries from the end: "all" (or "") or a count.
	Tail string
	// Since and Until bound the entries' times; zero: no bound.
	Since, Until time.Time
}

// logPath is a container's log file.
func (e *Engine) logPath(c *container.Container) string { return e.containers.LogPath(c) }

// ContainerLogs writes a container's log to stdout and stderr, each
// entry to the stream it came from: the rotated files the container
// keeps, oldest first, then with Follow what comes.
func (e *Engine) ContainerLogs(ctx context.Context, ref string, o LogsOptions, stdout, stderr io.Writer) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	if c.Host.LogDriver == stdio.NoLog {
		return conflict(fmt.Errorf("configured logging driver does not support reading"))
	}
	tail := -1
	if o.Tail != "" && o.Tail != "all" {
		if tail, err = strconv.Atoi(o.Tail); err != nil || tail < 0 {
			return invalid(fmt.Errorf("--tail %q: want a count or all", o.Tail))
		}
	}
	w := &logWriter{o: o, stdout: stdout, stderr: stderr}
	var lines [][]byte
	for _, p := range stdio.LogFiles(e.logPath(c), stdio.LogOptions{MaxFiles: c.Host.LogMaxFiles}) {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue // not rotated that far, or rotated away meanwhile
		}
		if err != nil {
			return fmt.Errorf("read the log of %s: %w", c.Name, err)
		}
		for len(b) > 0 {
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				break // a line being written: the follower gets it
			}
			lines = append(lines, b[:i])
			b = b[i+1:]
		}
	}
	if tail >= 0 && tail < len(lines) {
		lines = lines[len(lines)-tail:]
	}
	for _, l := range lines {
		if err := w.entry(l); err != nil {
			return err
		}
	}
	if !o.Follow || c.State.Status != container.Running {
		return nil
	}
	f, err := os.Open(e.logPath(c))
	if err != nil {
		return fmt.Errorf("follow the log of %s: %w", c.Name, err)
	}
	defer f.Close() // read only
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		return fmt.Errorf("follow the log of %s: %w", c.Name, err)
	}
	for {
		if err := w.drain(f); err != nil {
			return err
		}
		cur, err := e.containers.Load(c.ID)
		if err != nil || cur.State.Status != container.Running {
			return w.drain(f)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logWriter writes json-file entries to the streams they came from.
type logWriter struct {
	o              LogsOptions
	stdout, stderr io.Writer
	partial        []byte
}

// drain writes every complete entry written to f so far.
func (l *logWriter) drain(f *os.File) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := f.Read(buf)
		l.partial = append(l.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			if werr := l.entry(l.partial[:i]); werr != nil {
				return werr
			}
			l.partial = l.partial[i+1:]
		}
		if errors.Is(err, io.EOF) || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read the log: %w", err)
		}
	}
}

func (l *logWriter) entry(line []byte) error {
	var e stdio.LogEntry
	if json.Unmarshal(line, &e) != nil {
		var ok bool
		if e, ok = stdio.ParseCRILine(line); !ok {
			return nil // a damaged entry (a crash mid-write) is skipped, as Docker does
		}
	}
	if !l.o.Since.IsZero() && e.Time.Before(l.o.Since) || !l.o.Until.IsZero() && !e.Time.Before(l.o.Until) {
		return nil
	}
	out := l.stdout
	if e.Stream == "stderr" {
		out = l.stderr
	}
	if l.o.Timestamps {
		if _, err := io.WriteString(out, e.Time.Format(time.RFC3339Nano)+" "); err != nil {
			return err
		}
	}
	_, err := io.WriteString(out, e.Log)
	return err
}

// ContainerReopenLog has a running container's monitor reopen its log
// at its path (the cri driver's, which the kubelet rotates by renaming).
func (e *Engine) ContainerReopenLog(ref string) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	if c.Host.LogDriver != stdio.CRI {
		return invalid(fmt.Errorf("container %s: its log driver (%s) is not cri: nothing to reopen", c.Name, orDefault(c.Host.LogDriver, stdio.JSONFile)))
	}
	if c.State.Status != container.Running || !monitor.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		return conflict(fmt.Errorf("container %s is not running", c.Name))
	}
	if err := unix.Kill(c.State.MonitorPid, stdio.ReopenSignal); err != nil {
		return fmt.Errorf("reopen the log of %s: %w", c.Name, err)
	}
	// The kubelet goes on as soon as the call returns: wait for the new
	// file, briefly (a renamed log is reopened at once).
	path := e.logPath(c)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
	}
	return fmt.Errorf("reopen the log of %s: %s did not come back", c.Name, path)
}
