package engine

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
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
func (e *Engine) ContainerCopyFrom(ref, src, dst string) error {
	return e.withRoot(ref, func(root *os.Root) error {
		from, err := scoped(root, src, false)
		if err != nil {
			return wrapCp(err)
		}
		return wrapCp(copytree.Copy(root, from, copytree.Host{}, dst, copytree.Options{}))
	})
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
}

// ContainerCopyToWith is ContainerCopyTo with options.
func (e *Engine) ContainerCopyToWith(ref, src, dst string, o CopyOptions) error {
	return e.withRoot(ref, func(root *os.Root) error {
		d, err := scoped(root, dst, true)
		if err != nil {
			return wrapCp(err)
		}
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
		return wrapCp(copytree.Copy(copytree.Host{}, src, root, d, opts))
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

func (e *Engine) withRoot(ref string, fn func(*os.Root) error) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.withRootOf(c, fn)
}

func (e *Engine) withRootOf(c *container.Container, fn func(*os.Root) error) error {
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
	return fn(root)
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
	err = e.withRootOf(c, func(root *os.Root) error {
		in, err := scoped(root, p, false)
		if err != nil {
			return wrapCp(err)
		}
		fi, err := root.Lstat(in)
		if err != nil {
			return missingPath(c, p, err)
		}
		st = mobycontainer.PathStat{Name: path.Base("/" + in), Size: fi.Size(), Mode: fi.Mode(), Mtime: fi.ModTime()}
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
	return e.withRootOf(c, func(root *os.Root) error {
		in, err := scoped(root, p, false)
		if err != nil {
			return wrapCp(err)
		}
		if _, err := root.Lstat(in); err != nil {
			return missingPath(c, p, err)
		}
		name := path.Base(in)
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
	return e.withRootOf(c, func(root *os.Root) error {
		in, err := scoped(root, dir, true)
		if err != nil {
			return wrapCp(err)
		}
		fi, err := root.Stat(in)
		if err != nil {
			return missingPath(c, dir, err)
		}
		if !fi.IsDir() {
			return invalid(errors.New("extraction point is not a directory"))
		}
		xo := copytree.ExtractOptions{NoOverwriteDirNonDir: o.NoOverwriteDirNonDir}
		if o.CopyUIDGID {
			u, err := container.ResolveUser(root.Name(), orRoot(c.Config.User))
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

func orRoot(user string) string {
	if user == "" {
		return "0"
	}
	return user
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
