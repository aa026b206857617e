package disk

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A layer holds what fits and refuses the rest with ENOSPC; unmounted,
// its loop device goes with it; read-only, it shows what was written.
func TestLayerHoldsItsSize(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("loop devices need root")
	}
	dir := t.TempDir()
	img, mnt := filepath.Join(dir, "layer.img"), filepath.Join(dir, "layer")
	if err := Create(img, 16<<20); err != nil {
		t.Fatal(err)
	}
	if err := Mount(img, mnt); err != nil {
		t.Fatal(err)
	}
	if !Mounted(mnt) {
		t.Fatal("not mounted")
	}
	if err := os.WriteFile(filepath.Join(mnt, "small"), make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	err := os.WriteFile(filepath.Join(mnt, "big"), make([]byte, 32<<20), 0o644)
	if !errors.Is(err, unix.ENOSPC) {
		t.Fatalf("32 MiB into a 16 MiB layer: %v, want ENOSPC", err)
	}
	if err := Unmount(mnt); err != nil {
		t.Fatal(err)
	}
	if Mounted(mnt) {
		t.Fatal("still mounted")
	}
	ro := filepath.Join(dir, "ro")
	if err := MountReadOnly(img, ro); err != nil {
		t.Fatal(err)
	}
	defer Unmount(ro)
	if fi, err := os.Stat(filepath.Join(ro, "small")); err != nil || fi.Size() != 1<<20 {
		t.Fatalf("read-only: %v %v", fi, err)
	}
	if err := os.WriteFile(filepath.Join(ro, "x"), nil, 0o644); err == nil {
		t.Fatal("a read-only layer took a write")
	}
}
