package snapshot

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// TestChangesAndDiffOfAnUpperDir: a file added, one changed, one
// deleted (an overlay whiteout), and the /etc mount points the runtime
// made, which are no change of the user's.
func TestChangesAndDiffOfAnUpperDir(t *testing.T) {
	lower, upper := t.TempDir(), t.TempDir()
	for _, p := range []string{"etc/passwd", "bin/sh"} {
		must(t, os.MkdirAll(filepath.Join(lower, filepath.Dir(p)), 0o755))
		must(t, os.WriteFile(filepath.Join(lower, p), []byte("x"), 0o644))
	}
	must(t, os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	must(t, os.WriteFile(filepath.Join(upper, "etc/passwd"), []byte("changed"), 0o644))
	must(t, os.WriteFile(filepath.Join(upper, "etc/hosts"), nil, 0o644)) // a mount point
	must(t, os.WriteFile(filepath.Join(upper, "new"), []byte("added"), 0o644))
	whiteout := true
	must(t, os.MkdirAll(filepath.Join(upper, "bin"), 0o755))
	if err := unix.Mknod(filepath.Join(upper, "bin/sh"), unix.S_IFCHR, 0); errors.Is(err, unix.EPERM) {
		whiteout = false // no CAP_MKNOD here: the deletion is not checked
	} else {
		must(t, err)
	}
	changes, err := Changes(upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Modified, "/bin"}, {Modified, "/etc"}, {Modified, "/etc/passwd"}, {Added, "/new"}}
	if whiteout {
		want = slices.Insert(want, 1, Change{Deleted, "/bin/sh"})
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes %v, want %v", changes, want)
	}
	var b bytes.Buffer
	if err := WriteDiff(&b, upper, nil); err != nil {
		t.Fatal(err)
	}
	var names []string
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	if slices.Contains(names, "etc/hosts") {
		t.Errorf("the layer holds the runtime's mount point: %v", names)
	}
	if whiteout && !slices.Contains(names, "bin/.wh.sh") {
		t.Errorf("the layer lacks the whiteout in the image spec's form: %v", names)
	}
	if !slices.Contains(names, "new") || !slices.Contains(names, "etc/passwd") {
		t.Errorf("layer entries: %v", names)
	}
	if c, err := Changes(filepath.Join(upper, "never-started"), nil); err != nil || len(c) != 0 {
		t.Errorf("a missing upper dir: %v %v", c, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWriteDiffAndTrimLeavesTheDirAsTheTar: the runtime's empty mount
// points and a socket are neither in the tar nor, after, in the dir; a
// second name of a file is a hard link in the tar.
func TestWriteDiffAndTrimLeavesTheDirAsTheTar(t *testing.T) {
	upper := t.TempDir()
	must(t, os.MkdirAll(filepath.Join(upper, "etc"), 0o755))
	must(t, os.MkdirAll(filepath.Join(upper, "mnt/cache"), 0o755))
	must(t, os.WriteFile(filepath.Join(upper, "etc/hosts"), nil, 0o644))
	must(t, os.WriteFile(filepath.Join(upper, "a"), []byte("a"), 0o644))
	must(t, os.Link(filepath.Join(upper, "a"), filepath.Join(upper, "b")))
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	must(t, err)
	defer unix.Close(fd)
	must(t, unix.Bind(fd, &unix.SockaddrUnix{Name: filepath.Join(upper, "sock")}))
	var b bytes.Buffer
	adoptable, err := WriteDiffAndTrim(&b, upper, "/mnt/cache")
	must(t, err)
	if !adoptable {
		t.Error("not adoptable")
	}
	var got []string
	tr := tar.NewReader(&b)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		got = append(got, h.Name+" "+h.Linkname)
	}
	if want := []string{"a ", "b a", "etc/ ", "mnt/ "}; !slices.Equal(got, want) {
		t.Errorf("tar %v, want %v", got, want)
	}
	var left []string
	must(t, filepath.WalkDir(upper, func(p string, _ os.DirEntry, err error) error {
		rel, _ := filepath.Rel(upper, p)
		left = append(left, rel)
		return err
	}))
	if want := []string{".", "a", "b", "etc", "mnt"}; !slices.Equal(left, want) {
		t.Errorf("dir holds %v, want %v", left, want)
	}
}

func TestAnUpperDirWithWhiteoutNamesIsNotAdoptable(t *testing.T) {
	upper := t.TempDir()
	must(t, os.WriteFile(filepath.Join(upper, ".wh.x"), nil, 0o644))
	if adoptable, err := WriteDiffAndTrim(io.Discard, upper); err != nil || adoptable {
		t.Errorf("adoptable %v, %v", adoptable, err)
	}
}
