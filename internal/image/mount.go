package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// MountPoint is where `image mount` shows an image.
func (s *Service) MountPoint(img *Image) string {
	return filepath.Join(s.root, "mounts", img.ID.Hex)
}

// Mount shows an image's layers stacked read-only at its MountPoint, as
// Podman's `image mount` does, for looking inside without running it. A
// mounted image counts as in use until Unmount.
func (s *Service) Mount(img *Image) (string, error) {
	target := s.MountPoint(img)
	if isMountPoint(target) {
		return target, nil
	}
	mounts, err := s.Snapshots.Mounts(img.ChainIDs, "", "")
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return "", fmt.Errorf("image mount: %w", err)
	}
	m := mounts[0]
	var flags uintptr = unix.MS_RDONLY | unix.MS_NODEV | unix.MS_NOSUID
	if m.Type == "bind" {
		// A bind mount takes read-only only on a remount.
		if err := unix.Mount(m.Source, target, "", unix.MS_BIND, ""); err != nil {
			os.Remove(target)
			return "", fmt.Errorf("mount %s on %s: %w", m.Source, target, err)
		}
		if err := unix.Mount("", target, "", flags|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
			unix.Unmount(target, unix.MNT_DETACH)
			os.Remove(target)
			return "", fmt.Errorf("remount %s read-only: %w", target, err)
		}
		return target, nil
	}
	var opts []string
	for _, o := range m.Options {
		if o != "ro" {
			opts = append(opts, o)
		}
	}
	if err := unix.Mount("overlay", target, "overlay", flags, strings.Join(opts, ",")); err != nil {
		os.Remove(target)
		return "", fmt.Errorf("mount overlay on %s: %w", target, err)
	}
	return target, nil
}

// Unmount undoes Mount.
func (s *Service) Unmount(img *Image) error {
	target := s.MountPoint(img)
	if !isMountPoint(target) {
		return fmt.Errorf("image %s is not mounted", short(img.ID))
	}
	if err := unix.Unmount(target, 0); err != nil {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unmount %s: %w", target, err)
	}
	return nil
}

// isMountPoint reports whether p is the root of a mount. A device
// comparison would miss a bind mount from the same filesystem (a
// single-layer image), so ask statx.
func isMountPoint(p string) bool {
	var stx unix.Statx_t
	if unix.Statx(unix.AT_FDCWD, p, unix.AT_SYMLINK_NOFOLLOW, 0, &stx) != nil {
		return false
	}
	return stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT != 0
}
