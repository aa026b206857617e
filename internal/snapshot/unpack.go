// Package snapshot unpacks image layers into directories, once per layer,
// converting OCI whiteouts into overlayfs form, and returns the mounts a
// container rootfs needs (it never mounts anything itself: the runtime
// does).
//
// Unpacking treats every layer as hostile. All writes go through an
// os.Root on the target directory, so no entry name, symlink or hard link
// can reach outside it: "../x" and "/x" land inside, and an entry that
// would have to pass through a symlink pointing out is refused. Device
// nodes are refused unless allowed; setuid bits are kept (they are data)
// but the Store keeps every snapshot under a mode 0700 directory, so no
// host user can run them; and the total size is bounded, sparse files
// counted at their full size.
package snapshot

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Whiteout markers of the OCI image layer format.
const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// errTooLarge is a layer past Options.MaxBytes; Unpack says which bound.
var errTooLarge = errors.New("layer too large")

// freeSpace is what dir's filesystem has free for unprivileged writes
// (a variable: tests fake a full disk).
var freeSpace = func(dir string) (int64, bool) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * st.Bsize, true
}

// Options bound an unpack.
type Options struct {
	// MaxBytes is the most file content a layer may unpack to (0: 64 GiB,
	// or what the filesystem has free when that is less: a gzip bomb
	// fails before it fills the disk).
	MaxBytes int64
	// AllowDevices lets character and block device entries through.
	AllowDevices bool
	// NoChown keeps files owned by the caller (rootless unpacking).
	NoChown bool
	// Plain unpacks an archive that is not a layer (a Dockerfile ADD's):
	// entries named .wh.* are files like any other.
	Plain bool
}

// Unpack extracts the tar stream r into dir, which must exist and be
// empty, and returns the bytes of file content written. On error dir may
// hold part of the layer; the caller removes it (a snapshot is
// registered only once complete).
func Unpack(r io.Reader, dir string, o Options) (int64, error) {
	what := "allowed"
	if o.MaxBytes == 0 {
		o.MaxBytes = 64 << 30
		if free, ok := freeSpace(dir); ok && free < o.MaxBytes {
			o.MaxBytes, what = free, "free on the storage root's filesystem"
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("unpack into %s: %w", dir, err)
	}
	defer root.Close() // a directory handle, written through
	tr := tar.NewReader(r)
	c := &dirCache{root: root}
	defer c.drop()
	var total int64
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, fmt.Errorf("read layer: %w", err)
		}
		name := clean(hdr.Name)
		if name == "" {
			continue // the layer's root itself ("./", "/")
		}
		if err := unpackEntry(c, tr, hdr, name, &total, o); err != nil {
			if errors.Is(err, errTooLarge) {
				return total, fmt.Errorf("layer entry %q: the layer is larger than the %d bytes %s", hdr.Name, o.MaxBytes, what)
			}
			return total, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
}

// clean confines a tar name to the layer: "../../x" and "/x" become
// "x"; the root itself ("./", "/", "..") becomes "".
func clean(name string) string {
	return strings.TrimPrefix(path.Clean("/"+name), "/")
}

// dirCache keeps the directory the last entry went into open as a root
// of its own: a layer lists a directory's entries together, and an
// os.Root resolves a path one openat per component, so each entry then
// costs a few system calls, not a few per component. Any removal drops
// it: the directory it holds may be what went.
type dirCache struct {
	root *os.Root
	name string
	sub  *os.Root
}

// open returns dir (made if missing) as a root.
func (c *dirCache) open(dir string) (*os.Root, error) {
	if dir == "." {
		return c.root, nil
	}
	if c.sub != nil && c.name == dir {
		return c.sub, nil
	}
	c.drop()
	if err := c.root.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	sub, err := c.root.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	c.sub, c.name = sub, dir
	return sub, nil
}

func (c *dirCache) drop() {
	if c.sub != nil {
		_ = c.sub.Close() // a directory handle
		c.sub = nil
	}
}

func unpackEntry(c *dirCache, tr *tar.Reader, hdr *tar.Header, name string, total *int64, o Options) error {
	root := c.root
	dir, base := path.Split(name)
	dir = strings.TrimSuffix(dir, "/")
	if dir == "" {
		dir = "."
	}
	d, err := c.open(dir)
	if err != nil {
		return err
	}
	if base == opaqueMarker && !o.Plain {
		return markOpaque(root, dir)
	}
	if strings.HasPrefix(base, whiteoutPrefix) && !o.Plain {
		c.drop()
		return whiteout(root, dir, strings.TrimPrefix(base, whiteoutPrefix))
	}
	// A later layer entry replaces an earlier one of another kind.
	if fi, err := d.Lstat(base); err == nil && !(fi.IsDir() && hdr.Typeflag == tar.TypeDir) {
		if err := d.RemoveAll(base); err != nil {
			return err
		}
		c.drop()
		if d, err = c.open(dir); err != nil {
			return err
		}
	}
	mode := hdr.FileInfo().Mode()
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := d.Mkdir(base, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	case tar.TypeReg, tar.TypeRegA:
		*total += hdr.Size
		if hdr.Size < 0 || *total > o.MaxBytes {
			return errTooLarge
		}
		f, err := d.OpenFile(base, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		n, err := io.CopyN(f, tr, hdr.Size)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %d of %d bytes: %w", n, hdr.Size, err)
		}
	case tar.TypeSymlink:
		// Any target may be stored; it is resolved inside the rootfs when
		// used, and entries below it here cannot pass through it out.
		return lchown(d, base, hdr, o, d.Symlink(hdr.Linkname, base))
	case tar.TypeLink:
		target := clean(hdr.Linkname)
		if fi, err := root.Lstat(target); err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		} else if fi.IsDir() {
			return fmt.Errorf("hard link to directory %q", hdr.Linkname)
		}
		return root.Link(target, name)
	case tar.TypeChar, tar.TypeBlock:
		if !o.AllowDevices {
			return errors.New("device nodes are not allowed in layers")
		}
		typ := uint32(unix.S_IFCHR)
		if hdr.Typeflag == tar.TypeBlock {
			typ = unix.S_IFBLK
		}
		if err := mknodIn(root, dir, base, typ|uint32(mode.Perm()), unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))); err != nil {
			return err
		}
	case tar.TypeFifo:
		if err := mknodIn(root, dir, base, unix.S_IFIFO|uint32(mode.Perm()), 0); err != nil {
			return err
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	if err := lchown(d, base, hdr, o, nil); err != nil {
		return err
	}
	// chmod after chown: chown clears setuid bits. They stay data: the
	// snapshot directory is 0700.
	if err := d.Chmod(base, mode.Perm()|mode&(os.ModeSetuid|os.ModeSetgid|os.ModeSticky)); err != nil {
		return err
	}
	return d.Chtimes(base, hdr.AccessTime, hdr.ModTime)
}

func lchown(root *os.Root, name string, hdr *tar.Header, o Options, prior error) error {
	if prior != nil || o.NoChown {
		return prior
	}
	return root.Lchown(name, hdr.Uid, hdr.Gid)
}

// whiteout records that name is deleted in this layer: overlayfs reads a
// 0/0 character device as "not there".
func whiteout(root *os.Root, dir, name string) error {
	if name == "" || strings.Contains(name, "/") {
		return fmt.Errorf("invalid whiteout %q", name)
	}
	target := path.Join(dir, name)
	if err := root.RemoveAll(target); err != nil {
		return err
	}
	return mknodIn(root, dir, name, unix.S_IFCHR, 0)
}

// markOpaque records that dir hides everything of the layers below it.
func markOpaque(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close() // read only
	if err := unix.Fsetxattr(int(d.Fd()), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		return fmt.Errorf("mark %s opaque: %w", dir, err)
	}
	return nil
}

// mknodIn makes a node in a directory opened through the root, so the
// node cannot land outside it.
func mknodIn(root *os.Root, dir, name string, mode uint32, dev uint64) error {
	d, err := root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close() // read only
	if err := unix.Mknodat(int(d.Fd()), name, mode, int(dev)); err != nil {
		return fmt.Errorf("mknod %s: %w", filepath.Join(dir, name), err)
	}
	return nil
}
