package snapshot

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Shifted returns a copy of snapshot chainID whose owners are passed
// through owner, a container ID range's mapping named key (a mapping
// that has no place for an owner gives it an ID the container sees as
// nobody's). It is for where an idmapped mount is refused: an
// unprivileged user's store, whose file system only the host's root may
// idmap. The copy is made once per mapping and kept in the snapshot's
// directory, so that it goes with the snapshot and the next container
// with the same mapping shares it.
func (s *Store) Shifted(chainID v1.Hash, key string, owner func(uid, gid uint32) (uint32, uint32)) (string, error) {
	if key == "" || strings.ContainsAny(key, "/.") {
		return "", fmt.Errorf("shift snapshot %s: bad mapping name %q", chainID, key)
	}
	base := filepath.Join(s.root, chainID.Hex, "shifted")
	dst := filepath.Join(base, key)
	if _, err := os.Lstat(dst); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", fmt.Errorf("shift snapshot %s: %w", chainID, err)
	}
	tmp, err := os.MkdirTemp(base, ".tmp-")
	if err != nil {
		return "", fmt.Errorf("shift snapshot %s: %w", chainID, err)
	}
	fail := func(err error) (string, error) {
		_ = os.RemoveAll(tmp) // a partial copy of ours
		return "", fmt.Errorf("shift snapshot %s for %s: %w", chainID, key, err)
	}
	if err := ShiftCopy(s.Dir(chainID), filepath.Join(tmp, "fs"), owner); err != nil {
		return fail(err)
	}
	// One rename publishes the whole copy; a concurrent maker's copy
	// that got there first is the same, and kept.
	if err := os.Rename(filepath.Join(tmp, "fs"), dst); err != nil && !errors.Is(err, fs.ErrExist) && !errors.Is(err, unix.ENOTEMPTY) {
		return fail(err)
	}
	_ = os.RemoveAll(tmp) // empty, or the copy that lost the race
	return dst, nil
}

// ShiftCopy copies the tree src to dst (which must not exist) as it is,
// files, links, device nodes (whiteouts), modes, extended attributes,
// times and hard links, with each owner passed through owner.
func ShiftCopy(src, dst string, owner func(uid, gid uint32) (uint32, uint32)) error {
	links := map[[2]uint64]string{}
	var dirs []string // set their times last: filling them changes them
	err := filepath.WalkDir(src, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p) // p is under src
		to := filepath.Join(dst, rel)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		perm := st.Mode & 0o7777
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFDIR:
			if err := os.Mkdir(to, 0o700); err != nil {
				return err
			}
			dirs = append(dirs, p)
		case unix.S_IFREG:
			key := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[key]; ok && st.Nlink > 1 {
				return os.Link(first, to)
			}
			if err := copyFile(p, to); err != nil {
				return err
			}
			if st.Nlink > 1 {
				links[key] = to
			}
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(target, to); err != nil {
				return err
			}
		default: // devices (an overlay whiteout is 0:0), fifos, sockets
			if err := unix.Mknod(to, st.Mode, int(st.Rdev)); err != nil {
				return &fs.PathError{Op: "mknod", Path: to, Err: err}
			}
		}
		return finish(p, to, &st, perm, owner)
	})
	if err != nil {
		return err
	}
	// Deepest first, so that setting a directory's times is not undone
	// by setting its child's.
	slices.Reverse(dirs)
	for _, p := range dirs {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &fs.PathError{Op: "lstat", Path: p, Err: err}
		}
		rel, _ := filepath.Rel(src, p) // p is under src
		if err := setTimes(filepath.Join(dst, rel), &st); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close() // read only
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close() // the copy's error is the one to report
		return fmt.Errorf("copy %s: %w", from, err)
	}
	return out.Close()
}

// finish gives to the owner, mode (after the chown, which clears setuid
// bits), extended attributes and times of from.
func finish(from, to string, st *unix.Stat_t, perm uint32, owner func(uid, gid uint32) (uint32, uint32)) error {
	uid, gid := owner(st.Uid, st.Gid)
	if err := os.Lchown(to, int(uid), int(gid)); err != nil {
		return err
	}
	isLink := st.Mode&unix.S_IFMT == unix.S_IFLNK
	if !isLink {
		if err := unix.Chmod(to, perm); err != nil {
			return &fs.PathError{Op: "chmod", Path: to, Err: err}
		}
	}
	if err := copyXattrs(from, to); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil // after its contents
	}
	return setTimes(to, st)
}

func setTimes(to string, st *unix.Stat_t) error {
	ts := []unix.Timespec{st.Atim, st.Mtim}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, to, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "utimes", Path: to, Err: err}
	}
	return nil
}

// copyXattrs copies the extended attributes; the trusted and security
// ones a user namespace may not set are left, as the unpack left them.
func copyXattrs(from, to string) error {
	buf := make([]byte, 4096)
	n, err := unix.Llistxattr(from, buf)
	if errors.Is(err, unix.ERANGE) {
		if n, err = unix.Llistxattr(from, nil); err == nil {
			buf = make([]byte, n)
			n, err = unix.Llistxattr(from, buf)
		}
	}
	if err != nil {
		if errors.Is(err, unix.ENOTSUP) {
			return nil
		}
		return &fs.PathError{Op: "listxattr", Path: from, Err: err}
	}
	for _, name := range strings.Split(strings.TrimRight(string(buf[:n]), "\x00"), "\x00") {
		if name == "" {
			continue
		}
		sz, err := unix.Lgetxattr(from, name, nil)
		if err != nil {
			return &fs.PathError{Op: "getxattr " + name, Path: from, Err: err}
		}
		val := make([]byte, sz)
		if _, err := unix.Lgetxattr(from, name, val); err != nil {
			return &fs.PathError{Op: "getxattr " + name, Path: from, Err: err}
		}
		if err := unix.Lsetxattr(to, name, val, 0); err != nil {
			if errors.Is(err, unix.EPERM) && (strings.HasPrefix(name, "trusted.") || strings.HasPrefix(name, "security.")) {
				continue
			}
			return &fs.PathError{Op: "setxattr " + name, Path: to, Err: err}
		}
	}
	return nil
}
