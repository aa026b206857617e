package snapshot

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func hash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, _, err := v1.SHA256(strings.NewReader(s))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestChainIDs(t *testing.T) {
	a, b := hash(t, "a"), hash(t, "b")
	ids := ChainIDs([]v1.Hash{a, b})
	if ids[0] != a {
		t.Fatal("base chain ID is not its diff ID")
	}
	if want := hash(t, a.String()+" "+b.String()); ids[1] != want {
		t.Fatalf("chain ID %s, want %s", ids[1], want)
	}
}

func TestCreateIsAtomicAndMountsStackTopFirst(t *testing.T) {
	root := filepath.Join(t.TempDir(), "snap")
	s, err := OpenStore(root)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(root); fi.Mode().Perm() != 0o700 {
		t.Fatalf("store mode %v: host users could run setuid files of layers", fi.Mode().Perm())
	}
	a, b := hash(t, "a"), hash(t, "b")
	ids := ChainIDs([]v1.Hash{a, b})
	// A failed fill publishes nothing.
	if _, err := s.Create(ids[0], a, func(string) (int64, int64, error) { return 0, 0, errors.New("boom") }); err == nil {
		t.Fatal("failed fill succeeded")
	}
	if _, ok := s.Get(ids[0]); ok {
		t.Fatal("failed snapshot published")
	}
	for i, id := range ids {
		if _, err := s.Create(id, []v1.Hash{a, b}[i], func(dir string) (int64, int64, error) {
			return 1, 512, os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
		}); err != nil {
			t.Fatal(err)
		}
	}
	if l, _ := s.List(); len(l) != 2 {
		t.Fatalf("List = %v", l)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 2 {
		t.Fatalf("temp dirs left: %v", ents)
	}
	m, err := s.Mounts(ids, "/u", "/w")
	if err != nil {
		t.Fatal(err)
	}
	want := "lowerdir=" + s.Dir(ids[1]) + ":" + s.Dir(ids[0])
	if m[0].Type != "overlay" || m[0].Options[0] != want || m[0].Options[1] != "upperdir=/u" {
		t.Fatalf("mounts = %+v", m)
	}
	if m, _ := s.Mounts(ids[:1], "", ""); m[0].Type != "bind" {
		t.Fatalf("single read-only layer = %+v", m)
	}
	if err := s.Remove(ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Mounts(ids, "", ""); err == nil {
		t.Fatal("mounts of a removed snapshot")
	}
}

func TestAnImageOfNoLayersMountsAnEmptyDir(t *testing.T) {
	s, err := OpenStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ro, err := s.Mounts(nil, "", "")
	if err != nil || len(ro) != 1 || ro[0].Type != "bind" {
		t.Fatalf("read-only: %v %v", ro, err)
	}
	rw, err := s.Mounts(nil, "/u", "/w")
	if err != nil || len(rw) != 1 || !strings.Contains(strings.Join(rw[0].Options, ","), "lowerdir="+ro[0].Source+",upperdir=/u") {
		t.Fatalf("writable: %v %v", rw, err)
	}
	if ents, err := os.ReadDir(ro[0].Source); err != nil || len(ents) != 0 {
		t.Fatalf("the empty dir: %v %v", ents, err)
	}
}

// A killed pull's work dir is unlocked and goes at the next sweep; a live
// creator's, locked, stays however old it is.
func TestRemoveAbandonedTakesOnlyUnlockedWorkDirs(t *testing.T) {
	s, err := OpenStore(filepath.Join(t.TempDir(), "snap"))
	if err != nil {
		t.Fatal(err)
	}
	live, release, err := s.workDir()
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	dead, err := os.MkdirTemp(s.root, ".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dead, "layer"), make([]byte, 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	if n := s.RemoveAbandoned(); n != 0 {
		t.Fatalf("a work dir within its grace removed (%d bytes)", n)
	}
	old := time.Now().Add(-time.Minute)
	for _, d := range []string{live, dead} {
		if err := os.Chtimes(d, old, old); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.AbandonedSize(); n != 1000 {
		t.Fatalf("AbandonedSize = %d, want 1000", n)
	}
	if n := s.RemoveAbandoned(); n != 1000 {
		t.Fatalf("RemoveAbandoned freed %d, want 1000", n)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Fatal("abandoned work dir kept")
	}
	if _, err := os.Stat(live); err != nil {
		t.Fatalf("a live creator's work dir removed: %v", err)
	}
}
