// Package progress shows the progress of long work (pull, push, load):
// one bar per layer with bytes and speed on a terminal, one plain line
// per step in a pipe, and nothing when asked to be quiet.
package progress

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/sys/unix"
)

// Reporter shows the steps of one operation.
type Reporter interface {
	// Item starts a tracked item (a layer) of size bytes (-1: unknown).
	Item(id string, size int64) Item
	// Wait flushes the display; call it once, when the work is done.
	Wait()
}

// Item is one tracked piece of work.
type Item interface {
	// Add counts n more bytes done.
	Add(n int)
	// Status names the current step ("Downloading", "Extracting").
	Status(s string)
	// Done ends the item with its final word, or with an error.
	Done(final string, err error)
}

// Mode picks how a Reporter writes.
type Mode int

// Modes: Auto picks Bars on a terminal and Lines otherwise.
const (
	Auto Mode = iota
	Bars
	Lines
	Quiet
)

// New returns a Reporter writing to w.
func New(w io.Writer, m Mode) Reporter {
	if m == Auto {
		m = Lines
		if f, ok := w.(*os.File); ok && IsTerminal(f) {
			m = Bars
		}
	}
	switch m {
	case Bars:
		return &bars{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(30), mpb.WithAutoRefresh())}
	case Quiet:
		return quiet{}
	default:
		return &lines{w: w}
	}
}

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

type quiet struct{}

func (quiet) Item(string, int64) Item { return quiet{} }
func (quiet) Wait()                   {}
func (quiet) Add(int)                 {}
func (quiet) Status(string)           {}
func (quiet) Done(string, error)      {}

// lines prints a line when an item starts and when it ends: enough to
// follow in a CI log, without the bytes of a bar.
type lines struct {
	w  io.Writer
	mu sync.Mutex
}

type lineItem struct {
	l    *lines
	id   string
	size int64
}

func (l *lines) Item(id string, size int64) Item {
	return &lineItem{l: l, id: id, size: size}
}

func (l *lines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, format, args...) // progress is best effort: a closed terminal does not fail a pull
}

func (l *lines) Wait() {}

func (i *lineItem) Add(int) {}

func (i *lineItem) Status(s string) { i.l.printf("%s: %s\n", i.id, s) }

func (i *lineItem) Done(final string, err error) {
	if err != nil {
		i.l.printf("%s: failed: %v\n", i.id, err)
		return
	}
	i.l.printf("%s: %s\n", i.id, final)
}

// bars draws one mpb bar per item.
type bars struct {
	p *mpb.Progress
}

type barItem struct {
	bar    *mpb.Bar
	status atomic.Value
}

func (b *bars) Item(id string, size int64) Item {
	it := &barItem{}
	it.status.Store("Waiting")
	total := size
	if total < 0 {
		total = 0
	}
	it.bar = b.p.AddBar(total,
		mpb.PrependDecorators(
			decor.Name(id+" ", decor.WCSyncSpaceR),
			decor.Any(func(decor.Statistics) string { return it.status.Load().(string) }, decor.WCSyncSpaceR),
		),
		mpb.AppendDecorators(
			decor.Counters(decor.SizeB1024(0), "% .1f / % .1f", decor.WCSyncSpace),
			decor.AverageSpeed(decor.SizeB1024(0), "% .1f", decor.WCSyncSpace),
		),
	)
	return it
}

func (b *bars) Wait() { b.p.Wait() }

func (i *barItem) Add(n int)       { i.bar.IncrBy(n) }
func (i *barItem) Status(s string) { i.status.Store(s) }

func (i *barItem) Done(final string, err error) {
	if err != nil {
		i.status.Store("failed: " + err.Error())
		i.bar.Abort(false)
		return
	}
	i.status.Store(final)
	i.bar.SetTotal(-1, true)
}
