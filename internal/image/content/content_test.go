package content

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func TestPutReadAndVerify(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Put([]byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := s.ReadSmall(d); err != nil || string(b) != "hello" {
		t.Fatalf("ReadSmall = %q, %v", b, err)
	}
	// The same content again is stored once.
	if d2, err := s.Put([]byte("hello")); err != nil || d2 != d {
		t.Fatalf("second Put = %v, %v", d2, err)
	}
	// Content that does not match its announced digest is refused and
	// leaves nothing behind.
	w, _ := s.Writer(d, -1)
	w.Write([]byte("HELLO"))
	if _, err := w.Commit(); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("mismatched commit = %v", err)
	}
	w, _ = s.Writer(v1.Hash{}, 3)
	if _, err := w.Write([]byte("four")); err != ErrTooLong {
		t.Fatalf("overlong write = %v", err)
	}
	w.Close()
	if ents, _ := os.ReadDir(filepath.Join(s.Dir(), "ingest")); len(ents) != 0 {
		t.Fatalf("ingest not empty: %v", ents)
	}
	if l, _ := s.List(); len(l) != 1 {
		t.Fatalf("List = %v", l)
	}
	if _, err := s.ReadSmall(v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("0", 64)}); err == nil {
		t.Fatal("missing blob read")
	}
}

func TestAbandonedIngestRemovedOnOpen(t *testing.T) {
	root := t.TempDir()
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	// pid 0x7fffffff does not exist.
	junk := filepath.Join(root, "ingest", "2147483647-1")
	os.WriteFile(junk, []byte("x"), 0o600)
	if _, err := Open(root); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Fatal("abandoned ingest file kept")
	}
}

// Idle lock files are removed; a held one stays, and a lock taken while
// its file is being removed still excludes the next taker.
func TestRemoveIdleLocks(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	release, err := s.Lock("sha256:aa")
	if err != nil {
		t.Fatal(err)
	}
	idle, err := s.Lock("sha256:bb")
	if err != nil {
		t.Fatal(err)
	}
	idle()
	s.RemoveIdleLocks()
	ents, _ := os.ReadDir(filepath.Join(s.Dir(), "locks"))
	if len(ents) != 1 || ents[0].Name() != "sha256-aa" {
		t.Fatalf("locks after sweep: %v", ents)
	}
	got := make(chan func())
	go func() {
		r, err := s.Lock("sha256:aa")
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	release()
	s.RemoveIdleLocks() // may unlink the file the waiter is about to hold
	r := <-got
	defer r()
	held, err := os.OpenFile(filepath.Join(s.Dir(), "locks", "sha256-aa"), os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("the waiter holds no lock file: %v", err)
	}
	defer held.Close()
	if err := unix.Flock(int(held.Fd()), unix.LOCK_EX|unix.LOCK_NB); err == nil {
		t.Fatal("the path's lock file is not the one the waiter holds")
	}
}
