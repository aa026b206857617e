package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/snapshot"
)

// ContainerExport writes a container's root filesystem to w as a tar.
func (e *Engine) ContainerExport(ref string, w io.Writer) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	root, done, err := e.rootfs(c)
	if err != nil {
		return err
	}
	defer done()
	if err := snapshot.WriteTar(w, root, nil); err != nil {
		return fmt.Errorf("export %s: %w", c.Name, err)
	}
	return nil
}

// ContainerCopyFrom copies src, a path in the container, to dst on the
// host, as docker cp does. Paths in the container resolve through an
// os.Root on its root filesystem: a symlink there cannot lead the copy
// out to the host (CVE-2018-15664 class), and no program of the
// container runs on the host (CVE-2019-14271 class).
// With o.FollowLink a symlink src is copied as what it names, under
// the link's name (docker cp -L).
func (e *Engine) ContainerCopyFrom(ref, src, dst string, o CopyOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.withPath(c, src, o.FollowLink, func(root *os.Root, from string) error {
		return wrapCp(copytree.Copy(root, from, copytree.Host{}, dst, copytree.Options{Name: o.copyName(src)}))
	})
}

// copyName is what a copy of src into a directory is called: with
// FollowLink, the link's name rather than its target's, as Docker
// renames it; else src's own (copytree's default).
func (o CopyOptions) copyName(src string) string {
	if !o.FollowLink {
		return ""
	}
	return path.Base("/" + filepath.ToSlash(src))
}

// ContainerCopyTo copies src on the host to dst, a path in the
// container, as ContainerCopyFrom does the other way.
func (e *Engine) ContainerCopyTo(ref, src, dst string) error {
	return e.ContainerCopyToWith(ref, src, dst, CopyOptions{})
}

// CopyOptions are a copy's.
type CopyOptions struct {
	// KeepOwner keeps the owners and exact modes of what is copied
	// (Docker's copyUIDGID); else it belongs to the container's root.
	KeepOwner bool
	// Contents copies what the directory src holds into dst, made if
	// missing, as a build's COPY dir/ does; Parents makes dst's missing
	// parents. Directories made are 0755, the container root's.
	Contents, Parents bool
	// FollowLink copies what a symlink src names rather than the link
	// (docker cp -L), under the link's name.
	FollowLink bool
}

// ContainerCopyToWith is ContainerCopyTo with options.
func (e *Engine) ContainerCopyToWith(ref, src, dst string, o CopyOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.withPath(c, dst, true, func(root *os.Root, d string) error {
		opts := copytree.Options{KeepOwner: o.KeepOwner}
		if o.Contents {
			if err := root.MkdirAll(d, 0o755); err != nil {
				return wrapCp(err)
			}
			return wrapCp(copytree.Contents(copytree.Host{}, src, root, d, opts))
		}
		if o.Parents {
			if err := root.MkdirAll(path.Dir(d), 0o755); err != nil {
				return wrapCp(err)
			}
		}
		from := src
		if o.FollowLink {
			var err error
			if from, err = filepath.EvalSymlinks(src); err != nil {
				return wrapCp(err)
			}
			opts.Name = o.copyName(src)
		}
		return wrapCp(copytree.Copy(copytree.Host{}, from, root, d, opts))
	})
}

// ContainerUser resolves user[:group] as the container's /etc/passwd
// and /etc/group have them: numbers as they are, names looked up. With
// no group the group is the user's number, as COPY --chown has it.
func (e *Engine) ContainerUser(ref, spec string) (uid, gid uint32, err error) {
	c, err := e.get(ref)
	if err != nil {
		return 0, 0, err
	}
	dir, done, err := e.rootfs(c)
	if err != nil {
		return 0, 0, err
	}
	defer done()
	u, err := container.ResolveUser(dir, spec)
	if err != nil {
		return 0, 0, invalid(err)
	}
	if !strings.Contains(spec, ":") {
		u.GID = u.UID
	}
	return u.UID, u.GID, nil
}

// withPath runs fn on the tree that path p of container c is in, and
// p's path in it, its links resolved (the last one too with
// followLast): the container's own view while it runs (its init's
// root, mounts and all), else its root filesystem with its mounts'
// sources in their places.
func (e *Engine) withPath(c *container.Container, p string, followLast bool, fn func(root *os.Root, rel string) error) error {
	if c.State.Status == container.Running && c.State.Pid > 0 && monitorAlive(c) {
		if root, err := os.OpenRoot("/proc/" + strconv.Itoa(c.State.Pid) + "/root"); err == nil {
			defer root.Close() // a directory handle, read through
			rel, err := scoped(root, p, followLast)
			if err != nil {
				return wrapCp(err)
			}
			return fn(root, rel)
		}
		// Its init has just ended: the files are where a stopped
		// container has them.
	}
	dir, done, err := e.rootfs(c)
	if err != nil {
		return err
	}
	defer done()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	defer root.Close() // a directory handle, read through
	rel, err := scoped(root, p, followLast)
	if err != nil {
		return wrapCp(err)
	}
	src, sub, ok := e.mountFor(c, "/"+rel)
	if !ok {
		return fn(root, rel)
	}
	mroot, err := os.OpenRoot(src)
	if err != nil {
		return wrapCp(err)
	}
	defer mroot.Close() // a directory handle, read through
	return fn(mroot, sub)
}

// mountFor finds the mount of a stopped container that abs, a resolved
// path in it, is under: the host directory it comes from and abs's
// path in that. The engine's /etc/hosts, /etc/hostname and
// /etc/resolv.conf are mounts too; a tmpfs holds nothing once stopped.
func (e *Engine) mountFor(c *container.Container, abs string) (string, string, bool) {
	best, src := "", ""
	consider := func(target, source string) {
		if (abs == target || strings.HasPrefix(abs, target+"/")) && len(target) > len(best) {
			best, src = target, source
		}
	}
	for _, m := range c.Host.Mounts {
		switch m.Type {
		case "bind":
			consider(path.Clean(m.Target), m.Source)
		case "volume":
			if v, err := e.volumes.Get(m.Source); err == nil {
				consider(path.Clean(m.Target), v.Mountpoint)
			}
		}
	}
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		if host := filepath.Join(e.containers.Dir(c.ID), "etc", f); fileExists(host) {
			consider("/etc/"+f, host)
		}
	}
	if best == "" {
		return "", "", false
	}
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
		// A file mount: its directory is the tree, the file the path.
		return filepath.Dir(src), filepath.Base(src), abs == best
	}
	return src, inside(strings.TrimPrefix(abs, best)), true
}

// baseName is the name a copy of p goes by: its last component, "."
// for the root.
func baseName(p string) string {
	if b := path.Base(path.Clean("/" + p)); b != "/" {
		return b
	}
	return "."
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// ContainerStatPath describes p in the container as the archive
// endpoints' X-Docker-Container-Path-Stat header does: a symlink is
// described itself, with its target resolved in the container.
func (e *Engine) ContainerStatPath(ref, p string) (mobycontainer.PathStat, error) {
	var st mobycontainer.PathStat
	c, err := e.get(ref)
	if err != nil {
		return st, err
	}
	err = e.withPath(c, p, false, func(root *os.Root, in string) error {
		fi, err := root.Lstat(in)
		if err != nil {
			return missingPath(c, p, err)
		}
		st = mobycontainer.PathStat{Name: baseName(p), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
		if fi.Mode()&fs.ModeSymlink != 0 {
			st.LinkTarget, err = resolveIn(root, in)
		}
		return err
	})
	return st, err
}

// ContainerArchive writes p in the container, and all it holds, to w
// as a tar whose top entry is p's base name (the archive GET).
func (e *Engine) ContainerArchive(ref, p string, w io.Writer) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.withPath(c, p, false, func(root *os.Root, in string) error {
		if _, err := root.Lstat(in); err != nil {
			return missingPath(c, p, err)
		}
		name := baseName(p)
		if strings.HasSuffix(p, "/.") {
			name = "."
		}
		return wrapCp(copytree.WriteTar(root, in, name, w))
	})
}

// ExtractOptions are ContainerExtract's, the archive PUT's parameters.
type ExtractOptions struct {
	// NoOverwriteDirNonDir refuses to replace a directory with a
	// non-directory, or the other way round.
	NoOverwriteDirNonDir bool
	// CopyUIDGID gives what is extracted to the container's user; else
	// the archive's owners stay.
	CopyUIDGID bool
}

// ContainerExtract unpacks the tar r into dir, a directory in the
// container (the archive PUT). Every name resolves inside the
// container's root, whatever the archive says.
func (e *Engine) ContainerExtract(ref, dir string, r io.Reader, o ExtractOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	if c.Host.ReadonlyRootfs {
		return invalid(errors.New("container rootfs is marked read-only"))
	}
	return e.withPath(c, dir, true, func(root *os.Root, in string) error {
		fi, err := root.Stat(in)
		if err != nil {
			return missingPath(c, dir, err)
		}
		if !fi.IsDir() {
			return invalid(errors.New("extraction point is not a directory"))
		}
		xo := copytree.ExtractOptions{NoOverwriteDirNonDir: o.NoOverwriteDirNonDir}
		if o.CopyUIDGID {
			u, err := container.ResolveUser(root.Name(), c.Config.User) // "": root
			if err != nil {
				return invalid(err)
			}
			xo.Owner = &[2]int{int(u.UID), int(u.GID)}
		}
		if err := copytree.ExtractTar(r, root, in, xo); err != nil {
			return invalid(wrapCp(err))
		}
		return nil
	})
}

// missingPath is a copy's path that is not in the container, as
// Docker words it.
func missingPath(c *container.Container, p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return withKind(ErrNotFound, fmt.Errorf("Could not find the file %s in container %s", p, c.Name))
	}
	return wrapCp(err)
}

// scoped is p, a path in the container, relative to root, with the
// symlinks of its directories (and of its last component too, with
// followLast) resolved as the container sees them: os.Root refuses a
// link to an absolute path (/var/run -> /run) as an escape.
func scoped(root *os.Root, p string, followLast bool) (string, error) {
	clean := path.Clean("/" + p)
	if followLast {
		r, err := resolveIn(root, inside(clean))
		return inside(r), err
	}
	dir, base := path.Split(clean)
	r, err := resolveIn(root, inside(dir))
	return inside(path.Join(r, base)), err
}

// resolveIn follows the symlinks of p, a path in root, to the path it
// names, absolute in the container; links that point out of the root
// resolve inside it, as the kernel would see them from the container.
func resolveIn(root *os.Root, p string) (string, error) {
	done := "/"
	rest := strings.Split(p, "/")
	for hops := 0; len(rest) > 0; {
		part := rest[0]
		rest = rest[1:]
		if part == "" || part == "." {
			continue
		}
		next := path.Join(done, part)
		fi, err := root.Lstat(inside(next))
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			done = next // a missing tail resolves as it is named
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("resolve %s: too many levels of symbolic links", p)
		}
		link, err := root.Readlink(inside(next))
		if err != nil {
			return "", err
		}
		if path.IsAbs(link) {
			done = "/"
		}
		rest = append(strings.Split(link, "/"), rest...)
	}
	return done, nil
}

// inside makes a container path relative to its root.
func inside(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

func wrapCp(err error) error {
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	return nil
}
