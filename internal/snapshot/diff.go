package snapshot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// The layer diff of a container: what its overlay upper dir holds
// against the image's layers, as docker diff lists it and as commit
// writes it as a new layer.

// ChangeKind is a line of docker diff: C(hanged), A(dded), D(eleted).
type ChangeKind byte

// The kinds of change.
const (
	Modified ChangeKind = 'C'
	Added    ChangeKind = 'A'
	Deleted  ChangeKind = 'D'
)

// Change is one path that a container changed.
type Change struct {
	Kind ChangeKind
	Path string // absolute, in the container
}

// isWhiteout reports overlay's mark of a deleted file: a 0/0 device.
func isWhiteout(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// generatedMountpoint reports an empty file the runtime made in the
// upper layer only to mount the engine's /etc files on: not a change
// of the user's, so neither diff nor commit shows it.
func generatedMountpoint(rel string, fi fs.FileInfo) bool {
	switch rel {
	case "etc/hostname", "etc/hosts", "etc/resolv.conf":
		return fi.Mode().IsRegular() && fi.Size() == 0
	}
	return false
}

// emptyMountpoint reports one of mountpoints that holds nothing.
func emptyMountpoint(rel, p string, fi fs.FileInfo, mountpoints []string) bool {
	for _, m := range mountpoints {
		if rel != strings.TrimPrefix(path.Clean("/"+m), "/") {
			continue
		}
		if fi.Mode().IsRegular() {
			return fi.Size() == 0
		}
		if fi.IsDir() {
			ents, err := os.ReadDir(p)
			return err == nil && len(ents) == 0
		}
	}
	return false
}

func isOpaque(p string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
}

// Changes lists what upper changed against lowers (the image's layer
// dirs), in walk order. A missing upper dir (never started) has none.
func Changes(upper string, lowers []string) ([]Change, error) {
	inImage := func(rel string) bool {
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return true
			}
		}
		return false
	}
	out := []Change{}
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == upper {
				return filepath.SkipAll // never started: no changes
			}
			return err
		}
		if p == upper {
			return nil
		}
		rel, _ := filepath.Rel(upper, p) // p is under upper
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case generatedMountpoint(rel, fi):
		case isWhiteout(fi):
			out = append(out, Change{Deleted, "/" + rel})
		case inImage(rel):
			out = append(out, Change{Modified, "/" + rel})
		default:
			out = append(out, Change{Added, "/" + rel})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return withoutMountpointParent(upper, out), nil
}

// withoutMountpointParent drops /etc from changes when all it holds in
// upper is the engine's generated mountpoints: the runtime made it, as
// Docker's init layer does, and the user changed nothing in it.
func withoutMountpointParent(upper string, changes []Change) []Change {
	i := slices.IndexFunc(changes, func(c Change) bool { return c.Path == "/etc" && c.Kind == Modified })
	if i < 0 || slices.ContainsFunc(changes, func(c Change) bool { return strings.HasPrefix(c.Path, "/etc/") }) {
		return changes
	}
	ents, err := os.ReadDir(filepath.Join(upper, "etc"))
	if err != nil {
		return changes
	}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !generatedMountpoint("etc/"+e.Name(), fi) {
			return changes
		}
	}
	return slices.Delete(changes, i, i+1)
}

// WriteDiff writes upper as an image layer: overlay's whiteouts and
// opaque dirs in the image spec's form, owners passed through owner
// when set (a container's host ID range mapped back, so the layer has
// the IDs the container saw). mountpoints are paths (relative to /) that the runtime made only
// to mount on, left out while they are empty.
func WriteDiff(w io.Writer, upper string, owner func(uid, gid uint32) (uint32, uint32), mountpoints ...string) error {
	return writeDiff(w, upper, owner, mountpoints, nil, nil)
}

// WriteDiffAndTrim is WriteDiff (with no shift) for an upper dir that
// is to become the layer's snapshot itself (Store.Adopt): what the
// layer leaves out, the runtime's empty mountpoints and what a tar
// cannot hold (sockets), is removed from upper once the tar is written,
// so that the directory holds what the tar does, already in overlay's
// form. A file named as a whiteout of the tar's form (.wh.*), which an
// unpack of the tar turns into a deletion, makes adoptable false: the
// dir then is not what the tar holds, and the tar is to be unpacked.
func WriteDiffAndTrim(w io.Writer, upper string, mountpoints ...string) (adoptable bool, err error) {
	var left []string
	adoptable = true
	if err := writeDiff(w, upper, nil, mountpoints, &left, &adoptable); err != nil {
		return false, err
	}
	// Deepest first: an empty mountpoint dir may hold a left-out socket.
	for i := len(left) - 1; i >= 0; i-- {
		if err := os.Remove(left[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("trim the container's changes: %w", err)
		}
	}
	return adoptable, nil
}

func writeDiff(w io.Writer, upper string, owner func(uid, gid uint32) (uint32, uint32), mountpoints []string, left *[]string, adoptable *bool) error {
	var leave func(string)
	if left != nil {
		leave = func(p string) { *left = append(*left, p) }
	}
	err := writeTar(w, upper, func(rel, p string, fi fs.FileInfo, h *tar.Header) (bool, []*tar.Header) {
		if generatedMountpoint(rel, fi) || emptyMountpoint(rel, p, fi, mountpoints) {
			if leave != nil {
				leave(p)
			}
			return false, nil
		}
		if adoptable != nil && strings.HasPrefix(path.Base(rel), ".wh.") {
			*adoptable = false
		}
		if isWhiteout(fi) {
			*h = tar.Header{Name: path.Join(path.Dir(rel), ".wh."+path.Base(rel)), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()}
			return true, nil
		}
		if owner != nil {
			uid, gid := owner(uint32(h.Uid), uint32(h.Gid))
			h.Uid, h.Gid = int(uid), int(gid)
		}
		if fi.IsDir() && isOpaque(p) {
			return true, []*tar.Header{{Name: rel + "/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()}}
		}
		return true, nil
	}, leave)
	if err != nil {
		return fmt.Errorf("read the container's changes: %w", err)
	}
	return nil
}
