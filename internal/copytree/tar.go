package copytree

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// WriteTar writes src of tree from, and all it holds, to w as a tar
// whose top entry is named name: the archive of the Docker API's
// container copy. Links are archived as links; owners, modes, times and
// device numbers are kept.
func WriteTar(from Tree, src, name string, w io.Writer) error {
	tw := tar.NewWriter(w)
	fi, err := from.Lstat(src)
	if err != nil {
		return err
	}
	if err := writeEntry(tw, from, src, name, fi); err != nil {
		return err
	}
	return tw.Close()
}

func writeEntry(tw *tar.Writer, from Tree, src, name string, fi fs.FileInfo) error {
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		var err error
		if link, err = from.Readlink(src); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("archive %s: %w", src, err)
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", "" // the host's names mean nothing in the container
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		if fi.Mode()&(fs.ModeDevice|fs.ModeCharDevice) != 0 {
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		}
	}
	if fi.IsDir() && !strings.HasSuffix(hdr.Name, "/") {
		hdr.Name += "/"
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	switch {
	case fi.Mode().IsRegular():
		f, err := from.Open(src)
		if err != nil {
			return err
		}
		defer f.Close() // read only
		if _, err := io.CopyN(tw, f, fi.Size()); err != nil {
			return fmt.Errorf("archive %s: %w", src, err)
		}
	case fi.IsDir():
		sub, dir, done, err := descend(from, src)
		if err != nil {
			return err
		}
		defer done()
		infos, err := listDir(sub, dir, true)
		if err != nil {
			return err
		}
		for _, info := range infos {
			if err := writeEntry(tw, sub, path.Join(dir, info.Name()), path.Join(name, info.Name()), info); err != nil {
				return err
			}
		}
	}
	return nil
}

// pseudo reports whether the directory d is on a kernel file system
// (proc, sysfs, cgroup, devpts, …): a running container's view has
// them mounted, and their files are no content of its own. Such a
// directory is archived empty, as Docker's copy of a container has it.
func pseudo(d *os.File) bool {
	var st unix.Statfs_t
	if unix.Fstatfs(int(d.Fd()), &st) != nil {
		return false
	}
	switch st.Type {
	case unix.PROC_SUPER_MAGIC, unix.SYSFS_MAGIC, unix.CGROUP_SUPER_MAGIC, unix.CGROUP2_SUPER_MAGIC, unix.DEVPTS_SUPER_MAGIC,
		unix.SECURITYFS_MAGIC, unix.DEBUGFS_MAGIC, unix.TRACEFS_MAGIC, unix.BPF_FS_MAGIC:
		return true
	}
	return false
}

// ExtractOptions tune ExtractTar.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory or the other way round.
	NoOverwriteDirNonDir bool
	// Owner, if set, owns everything extracted (uid, gid); else the
	// archive's owners are kept.
	Owner *[2]int
}

// ExtractTar unpacks the tar r into the directory dst of tree to, as
// the Docker API's container copy does: entries replace what is there
// (a directory is merged into), parents are made, links stay links.
// Names resolve inside to: a tree that is an *os.Root confines every
// entry, link and link target to it, whatever the archive says.
func ExtractTar(r io.Reader, to Tree, dst string, o ExtractOptions) error {
	tr := tar.NewReader(r)
	type dirTime struct {
		name  string
		mtime time.Time
	}
	var dirs []dirTime // a directory's time is set once its entries are in
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the archive: %w", err)
		}
		rel := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if rel == "" {
			continue // the extraction point itself
		}
		name := path.Join(dst, rel)
		if err := to.MkdirAll(path.Dir(name), 0o755); err != nil {
			return err
		}
		if err := o.replace(to, name, hdr); err != nil {
			return err
		}
		mode := fs.FileMode(hdr.Mode).Perm()
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := to.MkdirAll(name, mode); err != nil {
				return err
			}
			if err := to.Chmod(name, mode); err != nil {
				return err
			}
			dirs = append(dirs, dirTime{name, hdr.ModTime})
		case tar.TypeReg, tar.TypeRegA:
			f, err := to.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, tr); err != nil {
				_ = f.Close() // the copy's error is the one to report
				return fmt.Errorf("extract %s: %w", hdr.Name, err)
			}
			if err := f.Close(); err != nil {
				return err
			}
		case tar.TypeSymlink:
			if err := to.Symlink(hdr.Linkname, name); err != nil {
				return err
			}
		case tar.TypeLink:
			target := path.Join(dst, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
			if err := to.Link(target, name); err != nil {
				return err
			}
		default:
			continue // devices, fifos: not made by a copy, as Docker's rootless copy skips them
		}
		if err := o.own(to, name, hdr); err != nil {
			return err
		}
		if hdr.Typeflag != tar.TypeSymlink && hdr.Typeflag != tar.TypeDir {
			if err := to.Chtimes(name, time.Time{}, hdr.ModTime); err != nil {
				return err
			}
		}
	}
	for i := len(dirs) - 1; i >= 0; i-- {
		if err := to.Chtimes(dirs[i].name, time.Time{}, dirs[i].mtime); err != nil {
			return err
		}
	}
	return nil
}

// errDirNonDir is NoOverwriteDirNonDir's refusal.
var errDirNonDir = errors.New("cannot overwrite a directory with a non-directory, or a non-directory with a directory")

// replace clears the way for entry hdr at name: what is there goes,
// unless both are directories (merged).
func (o ExtractOptions) replace(to Tree, name string, hdr *tar.Header) error {
	fi, err := to.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	isDir := hdr.Typeflag == tar.TypeDir
	if fi.IsDir() && isDir {
		return nil
	}
	if o.NoOverwriteDirNonDir && fi.IsDir() != isDir {
		return fmt.Errorf("%s: %w", hdr.Name, errDirNonDir)
	}
	return to.RemoveAll(name)
}

func (o ExtractOptions) own(to Tree, name string, hdr *tar.Header) error {
	uid, gid := hdr.Uid, hdr.Gid
	if o.Owner != nil {
		uid, gid = o.Owner[0], o.Owner[1]
	}
	if err := to.Lchown(name, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", name, err)
	}
	if hdr.Typeflag == tar.TypeSymlink || hdr.Typeflag == tar.TypeLink {
		return nil
	}
	// After chown, which clears setuid: the archive's exact mode.
	return to.Chmod(name, fs.FileMode(hdr.Mode)&fs.ModePerm|tarSpecial(hdr.Mode))
}

func tarSpecial(m int64) fs.FileMode {
	var out fs.FileMode
	if m&0o4000 != 0 {
		out |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= fs.ModeSticky
	}
	return out
}
