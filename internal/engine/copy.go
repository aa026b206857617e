package engine

import (
	"fmt"
	"io"
	"os"
	"path"
	"strings"

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
		return wrapCp(copytree.Copy(root, inside(src), copytree.Host{}, dst, copytree.Options{}))
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
		d, opts := inside(dst), copytree.Options{KeepOwner: o.KeepOwner}
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
