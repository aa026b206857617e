// Package copytree copies file trees between the host and a container's
// root as cp -a does, without following symlinks, keeping modification
// times: `berth cp` in both directions, a build's COPY and ADD, and
// filling a new volume from the image.
package copytree

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"syscall"
	"time"
)

// Tree is one side of a copy: a container's root (an *os.Root, which
// confines every path to it) or the host (Host, plain paths).
type Tree interface {
	Lstat(name string) (fs.FileInfo, error)
	Stat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
	Symlink(target, name string) error
	Open(name string) (*os.File, error)
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	MkdirAll(name string, perm fs.FileMode) error
	Lchown(name string, uid, gid int) error
	Chmod(name string, mode fs.FileMode) error
	Chtimes(name string, atime, mtime time.Time) error
	Link(oldname, newname string) error
	RemoveAll(name string) error
}

// Host is the host's file system.
type Host struct{}

func (Host) Lstat(n string) (fs.FileInfo, error)                       { return os.Lstat(n) }
func (Host) Stat(n string) (fs.FileInfo, error)                        { return os.Stat(n) }
func (Host) Readlink(n string) (string, error)                         { return os.Readlink(n) }
func (Host) Symlink(t, n string) error                                 { return os.Symlink(t, n) }
func (Host) Open(n string) (*os.File, error)                           { return os.Open(n) }
func (Host) MkdirAll(n string, p fs.FileMode) error                    { return os.MkdirAll(n, p) }
func (Host) Lchown(n string, uid, gid int) error                       { return os.Lchown(n, uid, gid) }
func (Host) Chmod(n string, m fs.FileMode) error                       { return os.Chmod(n, m) }
func (Host) Chtimes(n string, a, m time.Time) error                    { return os.Chtimes(n, a, m) }
func (Host) OpenFile(n string, f int, p fs.FileMode) (*os.File, error) { return os.OpenFile(n, f, p) }
func (Host) Link(o, n string) error                                    { return os.Link(o, n) }
func (Host) RemoveAll(n string) error                                  { return os.RemoveAll(n) }

// Options tune a copy.
type Options struct {
	// KeepOwner copies owners and exact modes (setuid, sticky).
	KeepOwner bool
	// Name is what a copy into a directory is called; "" is src's
	// base name (a followed link's copy takes the link's: cp -L).
	Name string
}

// Copy copies src from one tree to dst in the other: into dst when dst
// is a directory (under o.Name, else src's name); symlinks are copied
// as links, never followed.
func Copy(from Tree, src string, to Tree, dst string, o Options) error {
	fi, err := from.Lstat(src)
	if err != nil {
		return err
	}
	if st, err := to.Stat(dst); err == nil && st.IsDir() {
		name := o.Name
		if name == "" {
			name = path.Base("/" + filepath.ToSlash(src))
		}
		dst = path.Join(dst, name)
	}
	return o.entry(from, src, to, dst, fi)
}

// Contents copies what the directory src holds into the directory dst.
func Contents(from Tree, src string, to Tree, dst string, o Options) error {
	infos, err := listDir(from, src, false)
	if err != nil {
		return err
	}
	for _, info := range infos {
		if err := o.entry(from, path.Join(src, info.Name()), to, path.Join(dst, info.Name()), info); err != nil {
			return err
		}
	}
	return nil
}

// listDir is what the directory dir of t holds; with skipPseudo,
// nothing for a directory on a kernel file system (see pseudo).
func listDir(t Tree, dir string, skipPseudo bool) ([]fs.FileInfo, error) {
	d, err := t.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close() // a directory handle, read through
	if skipPseudo && pseudo(d) {
		return nil, nil
	}
	ents, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	infos := make([]fs.FileInfo, 0, len(ents))
	for _, e := range ents {
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		infos = append(infos, info)
	}
	return infos, nil
}

// within copies a directory's contents from inside it: a side that is
// an *os.Root is descended into as a root of its own, so that each entry
// resolves one path component, not the whole path from the top (which
// an os.Root does one openat at a time: a deep tree of small files
// would cost tens of system calls per file).
func (o Options) within(from Tree, src string, to Tree, dst string) error {
	from, src, fromDone, err := descend(from, src)
	if err != nil {
		return err
	}
	defer fromDone()
	to, dst, toDone, err := descend(to, dst)
	if err != nil {
		return err
	}
	defer toDone()
	return Contents(from, src, to, dst, o)
}

func descend(t Tree, name string) (Tree, string, func(), error) {
	r, ok := t.(*os.Root)
	if !ok {
		return t, name, func() {}, nil
	}
	sub, err := r.OpenRoot(name)
	if err != nil {
		return nil, "", nil, err
	}
	return sub, ".", func() { _ = sub.Close() }, nil // a directory handle
}

func (o Options) entry(from Tree, src string, to Tree, dst string, fi fs.FileInfo) error {
	switch {
	case fi.IsDir():
		if err := to.MkdirAll(dst, fi.Mode().Perm()|0o700); err != nil {
			return err
		}
		if err := o.within(from, src, to, dst); err != nil {
			return err
		}
	case fi.Mode()&fs.ModeSymlink != 0:
		link, err := from.Readlink(src)
		if err != nil {
			return err
		}
		if err := to.Symlink(link, dst); err != nil {
			return err
		}
	case fi.Mode().IsRegular():
		in, err := from.Open(src)
		if err != nil {
			return err
		}
		defer in.Close() // read only
		out, err := to.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close() // the copy's error is the one to report
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
	default:
		return nil // devices, fifos, sockets: not copied
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		// Last for a directory: filling it changed its time. A link's
		// own time is not kept: Chtimes would follow it.
		if err := to.Chtimes(dst, time.Time{}, fi.ModTime()); err != nil {
			return fmt.Errorf("set times of %s: %w", dst, err)
		}
	}
	if !o.KeepOwner {
		return nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if err := to.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return fmt.Errorf("chown %s: %w", dst, err)
	}
	if fi.Mode()&fs.ModeSymlink == 0 {
		// After chown, which clears setuid: the exact mode.
		return to.Chmod(dst, fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky))
	}
	return nil
}
