// Package events is berth's events journal. Every berth process (the
// CLI, a monitor, a server) appends the events of what it does, in
// Docker's shape, to one file under the storage root; any reader
// follows the file, as Podman's file events backend does. No daemon
// relays them, and a reader misses nothing that happened while no
// reader ran.
//
// An event is one JSON line, written with one write(2) on a file opened
// O_APPEND, so that concurrent writers never interleave. The journal
// rotates once it passes MaxSize: the file moves to events.log.1 (the
// one before is dropped) under a lock, and followers reopen the new one.
// Events are not synced to disk: like Docker's, they are a record for
// watchers, not state.
package events

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/state"
)

// MaxSize is the journal's size at which it rotates.
const MaxSize = 8 << 20

// Journal is the events file of one storage root.
type Journal struct {
	Dir string // the storage root
}

func (j Journal) path() string     { return filepath.Join(j.Dir, "events.log") }
func (j Journal) previous() string { return filepath.Join(j.Dir, "events.log.1") }

// Append writes one event, stamped now if it has no time.
func (j Journal) Append(m mobyevents.Message) error {
	if m.TimeNano == 0 {
		now := time.Now()
		m.Time, m.TimeNano = now.Unix(), now.UnixNano()
	}
	if m.Scope == "" {
		m.Scope = "local"
	}
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("event %s %s: %w", m.Type, m.Action, err)
	}
	b = append(b, '\n')
	f, err := os.OpenFile(j.path(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("events journal: %w", err)
	}
	defer f.Close() // written below; a close error after a write is not seen on local disks
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("events journal: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > MaxSize {
		return j.rotate(fi)
	}
	return nil
}

// rotate moves a full journal aside, once, under the journal's lock.
func (j Journal) rotate(full os.FileInfo) error {
	unlock, err := state.Flock(filepath.Join(j.Dir, "events.lock"))
	if err != nil {
		return fmt.Errorf("rotate the events journal: %w", err)
	}
	defer unlock()
	cur, err := os.Stat(j.path())
	if err != nil || !os.SameFile(cur, full) {
		return nil // another writer rotated it meanwhile
	}
	if err := os.Rename(j.path(), j.previous()); err != nil {
		return fmt.Errorf("rotate the events journal: %w", err)
	}
	return nil
}

// ReadOptions bound what Read returns.
type ReadOptions struct {
	// Since and Until bound the events' times; zero: no bound. Without
	// Until and with Follow, Read runs until ctx ends.
	Since, Until time.Time
	Follow       bool
}

// Read calls fn for each event in the journal, oldest first, within the
// bounds; with Follow it then waits for new ones (polling every 50 ms,
// and reopening the journal when it rotates). It returns when the
// events are read (without Follow), Until has passed, ctx ends, or fn
// fails.
func (j Journal) Read(ctx context.Context, o ReadOptions, fn func(mobyevents.Message) error) error {
	emit := func(m mobyevents.Message) (stop bool, err error) {
		t := time.Unix(0, m.TimeNano)
		if !o.Since.IsZero() && t.Before(o.Since) {
			return false, nil
		}
		if !o.Until.IsZero() && t.After(o.Until) {
			return true, nil
		}
		return false, fn(m)
	}
	if stop, err := readFile(j.previous(), emit); stop || err != nil {
		return err
	}
	f, err := os.Open(j.path())
	if errors.Is(err, os.ErrNotExist) {
		if !o.Follow {
			return nil
		}
		f, err = waitForFile(ctx, j.path(), o.Until)
		if f == nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("events journal: %w", err)
	}
	defer func() { _ = f.Close() }() // read only
	r := bufio.NewReader(f)
	var partial []byte
	for {
		line, err := r.ReadBytes('\n')
		partial = append(partial, line...)
		if err == nil {
			var m mobyevents.Message
			if json.Unmarshal(partial, &m) == nil {
				if stop, err := emit(m); stop || err != nil {
					return err
				}
			}
			partial = partial[:0]
			continue
		}
		if !errors.Is(err, io.EOF) {
			return fmt.Errorf("events journal: %w", err)
		}
		if !o.Follow || !o.Until.IsZero() && time.Now().After(o.Until) {
			return nil
		}
		if rotated(f, j.path()) && len(partial) == 0 {
			// Everything of the old file was read: go on in the new one.
			nf, err := os.Open(j.path())
			if err == nil {
				_ = f.Close() // read to its end
				f, r = nf, bufio.NewReader(nf)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Last is the newest event for which match is true, read from the
// journal's end backwards so that the cost does not grow with the
// journal: it stops at the first match, or at an event older than
// since. contains, when not "", is a string the event's line must hold
// to be parsed at all (a container's ID).
func (j Journal) Last(since time.Time, contains string, match func(mobyevents.Message) bool) (mobyevents.Message, bool, error) {
	for _, p := range []string{j.path(), j.previous()} {
		m, found, older, err := lastIn(p, since, []byte(contains), match)
		if found || older || err != nil {
			return m, found, err
		}
	}
	return mobyevents.Message{}, false, nil
}

// lastIn is Last over one file; older reports that it reached events
// before since.
func lastIn(path string, since time.Time, contains []byte, match func(mobyevents.Message) bool) (m mobyevents.Message, found, older bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return m, false, false, nil
	}
	if err != nil {
		return m, false, false, fmt.Errorf("events journal: %w", err)
	}
	defer f.Close() // read only
	fi, err := f.Stat()
	if err != nil {
		return m, false, false, fmt.Errorf("events journal: %w", err)
	}
	pos := fi.Size()
	buf := make([]byte, 32<<10)
	var tail []byte // a line whose start is in the part not read yet
	for pos > 0 {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil {
			return m, false, false, fmt.Errorf("events journal: %w", err)
		}
		chunk := append(append([]byte(nil), buf[:n]...), tail...)
		tail = nil
		if pos > 0 {
			i := bytes.IndexByte(chunk, '\n')
			if i < 0 {
				tail = chunk
				continue
			}
			tail, chunk = chunk[:i], chunk[i+1:]
		}
		lines := bytes.Split(chunk, []byte{'\n'})
		for k := len(lines) - 1; k >= 0; k-- {
			l := lines[k]
			if len(l) == 0 || len(contains) > 0 && !bytes.Contains(l, contains) {
				continue
			}
			var ev mobyevents.Message
			if json.Unmarshal(l, &ev) != nil {
				continue // a line being written, or cut by a crash
			}
			if !since.IsZero() && time.Unix(0, ev.TimeNano).Before(since) {
				return m, false, true, nil
			}
			if match(ev) {
				return ev, true, false, nil
			}
		}
	}
	return m, false, false, nil
}

// rotated reports whether the journal's path names another file than f.
func rotated(f *os.File, path string) bool {
	a, err1 := f.Stat()
	b, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && !os.SameFile(a, b)
}

// waitForFile waits for the journal to appear (nil, nil: ctx ended or
// until passed first).
func waitForFile(ctx context.Context, path string, until time.Time) (*os.File, error) {
	for {
		f, err := os.Open(path)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("events journal: %w", err)
		}
		if !until.IsZero() && time.Now().After(until) {
			return nil, nil
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readFile emits every complete event of a file that is no longer
// written (the rotated journal); a missing file has none.
func readFile(path string, emit func(mobyevents.Message) (bool, error)) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("events journal: %w", err)
	}
	defer f.Close() // read only
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var m mobyevents.Message
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue // a line cut by a crash
		}
		if stop, err := emit(m); stop || err != nil {
			return stop, err
		}
	}
	return false, sc.Err()
}
