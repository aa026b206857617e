package image

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/sys"
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
	// Read-only as a mount, not only as overlay's "ro" (which the data
	// keeps): nothing under it is a device or runs setuid.
	m.Options = append(m.Options, "ro", "nodev", "nosuid")
	if err := rootfs.MountAt(sys.Linux{}, m, target); err != nil {
		_ = os.Remove(target) // the empty mount point; the mount's error is reported
		return "", fmt.Errorf("image mount: %w", err)
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
