package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/rootless"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/sys"
)

// rootfs returns a container's root filesystem for reading (export,
// cp): the live mount while it runs, else its layers mounted for the
// call. The returned function undoes that mount.
func (e *Engine) rootfs(c *container.Container) (string, func(), error) {
	if c.State.Status == container.Running {
		return filepath.Join(e.containers.Dir(c.ID), "merged"), func() {}, nil
	}
	img, err := e.images.Get(c.Image)
	if err != nil {
		return "", nil, err
	}
	return e.mountRootfs(c, img, false)
}

// mountRootfs mounts the image's layers under the container's own upper
// dir at <container>/merged, in the caller's mount namespace.
// With mapped, a container with a user namespace gets its layers through
// idmapped mounts (its own start); cp and export read them as they are.
func (e *Engine) mountRootfs(c *container.Container, img *image.Image, mapped bool) (string, func(), error) {
	dir := e.containers.Dir(c.ID)
	unmountLayer, err := e.mountLayer(c)
	if err != nil {
		return "", nil, err
	}
	upper, work, merged := e.upperDir(c), e.workDir(c), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			unmountLayer()
			return "", nil, err
		}
	}
	unmount := func() { unmounter(merged)(); unmountLayer() }
	if mapped && c.Host.IDMap != nil {
		mount := e.mountMapped
		if rootless.Active() {
			mount = e.mountShifted
		}
		if err := mount(c, img, merged); err != nil {
			unmountLayer()
			return "", nil, err
		}
		return merged, unmount, nil
	}
	mounts, err := e.images.Snapshots.Mounts(img.ChainIDs, upper, work)
	if err != nil {
		unmountLayer()
		return "", nil, err
	}
	if err := mountOverlay(merged, work, mounts[0], mapped && c.Host.AutoRemove); err != nil {
		unmountLayer()
		return "", nil, fmt.Errorf("mount the container's root filesystem: %w", err)
	}
	return merged, unmount, nil
}

// mountOverlay mounts a container's overlay at merged. A volatile one
// (a --rm container's, as Podman does) never syncs its upper dir, and
// so neither the whole host filesystem at unmount: what a container
// that is removed when it ends wrote never needs to reach the disk, and
// blocks never written are freed without a discard. A crash leaves its
// work dir marked (WORKDIR/work/incompat/volatile); the container is removed in
// any case, so a new volatile mount clears the mark. Kernels before
// 5.10 lack the option, and get a plain mount.
func mountOverlay(merged, work string, m specs.Mount, volatile bool) error {
	if rootless.Active() {
		return mountRootlessOverlay(merged, work, m, volatile)
	}
	return mountNativeOverlay(merged, work, m, volatile)
}

// StorageDriverEnv chooses a rootless berth's overlay mounts: unset or
// "overlay", native overlayfs in the user namespace, with fuse-overlayfs
// only where the kernel refuses that (and /dev/fuse is usable);
// "fuse-overlayfs", always that. No copying driver, ever.
const StorageDriverEnv = "BERTH_STORAGE_DRIVER"

func mountRootlessOverlay(merged, work string, m specs.Mount, volatile bool) error {
	switch d := os.Getenv(StorageDriverEnv); d {
	case snapshot.FuseOverlayfs:
		if err := snapshot.FuseUsable(); err != nil {
			return fmt.Errorf("%s=%s: %w", StorageDriverEnv, d, err)
		}
		return snapshot.MountFuse(m, merged)
	case "", "overlay":
	default:
		return fmt.Errorf("%s=%s: want overlay or %s", StorageDriverEnv, d, snapshot.FuseOverlayfs)
	}
	err := mountNativeOverlay(merged, work, m, volatile)
	if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)) {
		return err
	}
	if ferr := snapshot.FuseUsable(); ferr != nil {
		return fmt.Errorf("%w (rootless berth needs overlayfs in a user namespace, Linux 5.11 or later, or else fuse-overlayfs: %v)", err, ferr)
	}
	return snapshot.MountFuse(m, merged)
}

func mountNativeOverlay(merged, work string, m specs.Mount, volatile bool) error {
	if volatile {
		// The mark of a crashed volatile mount; if it stays, the mount
		// below fails and says why.
		_ = os.RemoveAll(filepath.Join(work, "work", "incompat")) // overlayfs keeps it in its own work dir
		v := m
		v.Options = append(slices.Clip(m.Options), "volatile")
		if err := rootfs.MountAt(sys.Linux{}, v, merged); err == nil || !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	return rootfs.MountAt(sys.Linux{}, m, merged)
}

// searchable makes sure the container's root, in its user namespace,
// can reach its rootfs: every directory on the way needs o+x, as with
// Docker's userns-remap. berth's own directories get it; another one
// that lacks it is a one-line error.
func searchable(dir string) error {
	root := filepath.Dir(filepath.Dir(dir)) // the storage root
	for _, d := range []string{root, filepath.Dir(dir), dir, filepath.Join(root, "volumes")} {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			// If this fails, the walk below names the directory.
			_ = os.Chmod(d, fi.Mode().Perm()|0o011)
		}
	}
	var closed []string
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			closed = append(closed, d)
		}
		if d == "/" {
			break
		}
	}
	if len(closed) > 0 {
		slices.Reverse(closed)
		return fmt.Errorf("--userns: %s is not searchable by the container's user (chmod o+x %s)", closed[0], strings.Join(closed, " "))
	}
	return nil
}

// idRanges hands out --userns=auto ranges: above the host's users for
// root, out of the user's subordinate range (its own namespace's IDs
// but the user's) for a rootless berth.
func (e *Engine) idRanges() idmap.Allocator {
	a := e.storage().IDRanges()
	if rootless.Active() {
		// An unreadable map leaves Limit at 1: nothing fits, and the
		// allocation says so.
		own, _ := idmap.ReadOwn()
		a.First, a.Limit = 1, max(own.Extent, 1)
	}
	return a
}

// mountShifted is mountMapped for a rootless berth, which may not idmap
// the store's file system (the kernel grants that to its namespace's
// owner, the host's root): each layer is a copy with its owners shifted
// into the container's range, made once per range (Podman's way; the
// idmapped mounts spare root that copy).
func (e *Engine) mountShifted(c *container.Container, img *image.Image, merged string) error {
	if err := searchable(e.containers.Dir(c.ID)); err != nil {
		return err
	}
	m := c.Host.IDMap
	return e.mountOnLayers(c, img, merged, "shifted layers", func(i int) (string, error) {
		return e.images.Snapshots.Shifted(img.ChainIDs[i], m.Key(), m.HostIDs)
	})
}

// mountMapped mounts the overlay rootfs of a container with a user
// namespace: every image layer through an idmapped mount with the
// container's mapping, so files owned by root on disk are the container
// root's, with no chown of the shared layers. The staging mounts go once
// overlay holds its layers.
func (e *Engine) mountMapped(c *container.Container, img *image.Image, merged string) error {
	dir := e.containers.Dir(c.ID)
	if err := searchable(dir); err != nil {
		return err
	}
	userns, err := idmap.UserNamespace(*c.Host.IDMap)
	if err != nil {
		return err
	}
	defer userns.Close() // a namespace handle: the idmapped mounts hold their own
	staging := filepath.Join(dir, "idmapped")
	var staged []string
	defer func() {
		for _, s := range staged {
			// Staging mounts: overlay holds the layers now; one that stays
			// goes with the container's directory.
			_ = unix.Unmount(s, unix.MNT_DETACH)
		}
		_ = os.RemoveAll(staging) // empty mount points; rm removes what stays
	}()
	return e.mountOnLayers(c, img, merged, "idmapped layers", func(i int) (string, error) {
		t := filepath.Join(staging, "l"+strconv.Itoa(i))
		if err := idmap.MountMapped(e.images.Snapshots.Dir(img.ChainIDs[i]), t, userns); err != nil {
			return "", err
		}
		staged = append(staged, t)
		return t, nil
	})
}

// mountOnLayers mounts the overlay rootfs of a container with a user
// namespace on the image's layers as layer gives each (by index, base
// first). The upper dir is not mapped: overlay writes it with its
// mounter's credentials, so what the container writes is stored under
// its host IDs, and the top of the upper dir belongs to the container's
// root so that it can create files in /.
func (e *Engine) mountOnLayers(c *container.Container, img *image.Image, merged, what string, layer func(int) (string, error)) error {
	var lowers []string
	if len(img.ChainIDs) == 0 {
		// FROM scratch: the store's empty dir, which has nothing to map.
		empty, err := e.images.Snapshots.EmptyDir()
		if err != nil {
			return err
		}
		lowers = append(lowers, empty)
	}
	for i := len(img.ChainIDs) - 1; i >= 0; i-- { // overlayfs lists the top first
		dir, err := layer(i)
		if err != nil {
			return err
		}
		lowers = append(lowers, dir)
	}
	upper, work := e.upperDir(c), e.workDir(c)
	uid, gid := c.Host.IDMap.HostIDs(0, 0)
	if err := os.Lchown(upper, int(uid), int(gid)); err != nil {
		return err
	}
	if err := mountOverlay(merged, work, snapshot.Overlay(lowers, upper, work), c.Host.AutoRemove); err != nil {
		return fmt.Errorf("mount the container's root filesystem on %s: %w", what, err)
	}
	return nil
}
