package rootless

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestSubIDsByNameOrUID(t *testing.T) {
	f := filepath.Join(t.TempDir(), "subuid")
	os.WriteFile(f, []byte("other:100000:65536\nalice:200000:65536\n# alice:1:1\n1000:300000:10\nalice:bad:1\nalice:5:0\n"), 0o644)
	got, err := SubIDs(f, "alice", 1000)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Range{{200000, 65536}, {300000, 10}}; !slices.Equal(got, want) {
		t.Fatalf("SubIDs = %v, want %v", got, want)
	}
	if got, err := SubIDs(filepath.Join(t.TempDir(), "none"), "alice", 1000); err != nil || got != nil {
		t.Fatalf("a missing file: %v, %v", got, err)
	}
}

// The user's own id is 0; the ranges follow it, back to back.
func TestMapArgs(t *testing.T) {
	got := mapArgs(1000, []Range{{200000, 65536}, {300000, 10}})
	want := []string{"0", "1000", "1", "1", "200000", "65536", "65537", "300000", "10"}
	if !slices.Equal(got, want) {
		t.Fatalf("mapArgs = %v, want %v", got, want)
	}
	if n := (Identity{}).Size([]Range{{200000, 65536}, {300000, 10}}); n != 65547 {
		t.Fatalf("Size = %d", n)
	}
}
