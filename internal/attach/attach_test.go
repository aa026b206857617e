package attach

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDetachReader(t *testing.T) {
	keys := []byte{16, 17} // ctrl-p, ctrl-q
	read := func(in string) (string, error) {
		var out []byte
		r := NewDetachReader(iotest.OneByteReader(strings.NewReader(in)), keys)
		buf := make([]byte, 8)
		for {
			n, err := r.Read(buf)
			out = append(out, buf[:n]...)
			if err != nil {
				return string(out), err
			}
		}
	}
	if out, err := read("ab\x10\x11cd"); out != "ab" || !errors.Is(err, ErrDetached) {
		t.Fatalf("the keys: %q %v", out, err)
	}
	if out, err := read("a\x10b\x10\x10\x11"); out != "a\x10b\x10" || !errors.Is(err, ErrDetached) {
		t.Fatalf("a false start, then the keys: %q %v", out, err)
	}
	if out, err := read("xy\x10"); out != "xy\x10" || err != io.EOF {
		t.Fatalf("input ending in a part of the keys: %q %v", out, err)
	}
	r := NewDetachReader(strings.NewReader("\x10\x11"), nil)
	if b, err := io.ReadAll(r); string(b) != "\x10\x11" || err != nil {
		t.Fatalf("no keys: %q %v", b, err)
	}
	if _, err := ParseDetachKeys("ctrl-p,ctrl-q"); err != nil {
		t.Fatal(err)
	}
}
