package progress

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestLinesAndBars(t *testing.T) {
	var b bytes.Buffer
	r := New(&b, Auto) // a buffer is not a terminal: lines
	it := r.Item("abc", 10)
	it.Status("Downloading")
	it.Add(10)
	it.Done("Pull complete", nil)
	r.Item("def", -1).Done("", errors.New("boom"))
	r.Wait()
	if want := "abc: Downloading\nabc: Pull complete\ndef: failed: boom\n"; b.String() != want {
		t.Fatalf("lines = %q, want %q", b.String(), want)
	}
	b.Reset()
	r = New(&b, Bars)
	it = r.Item("abc", 1<<20)
	it.Status("Downloading")
	it.Add(1 << 20)
	it.Done("Pull complete", nil)
	r.Item("def", -1).Done("", errors.New("boom"))
	r.Wait()
	if !strings.Contains(b.String(), "Pull complete") || !strings.Contains(b.String(), "MiB") {
		t.Fatalf("bars = %q", b.String())
	}
	b.Reset()
	r = New(&b, Quiet)
	r.Item("x", 1).Done("done", nil)
	r.Wait()
	if b.Len() != 0 {
		t.Fatalf("quiet wrote %q", b.String())
	}
}
