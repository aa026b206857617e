package volume

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/state"
)

// The local driver's options, as Docker's (volume create -o): a mount
// of device, of file system type, with the mount options o, made on
// the volume's _data when a container first uses it.
var optionKeys = []string{"type", "device", "o"}

// checkOptions refuses what Docker's local driver refuses: an unknown
// key, and a mount without its type or device; a bind's device must be
// a directory that exists.
func checkOptions(opts map[string]string) error {
	if len(opts) == 0 {
		return nil
	}
	for k := range opts {
		if !slices.Contains(optionKeys, k) {
			return fmt.Errorf("invalid option key: %q (the local driver takes type, device and o)", k)
		}
	}
	if opts["type"] == "" || opts["device"] == "" {
		return errors.New("the local driver's options need both type and device")
	}
	if flags, _ := rootfs.HostMountArgs(opts["o"]); flags&unix.MS_BIND != 0 {
		if !filepath.IsAbs(opts["device"]) {
			return fmt.Errorf("device %q: a bind's device is an absolute host path", opts["device"])
		}
		if fi, err := os.Stat(opts["device"]); err != nil || !fi.IsDir() {
			return fmt.Errorf("device %q: not a directory on the host", opts["device"])
		}
	}
	return nil
}

// Mount mounts v's device on its _data, if v has one and it is not
// mounted yet. It stays until the volume is removed: no daemon counts
// the containers that use it (Docker unmounts after the last one).
func (s Store) Mount(v *Volume) error {
	if len(v.Options) == 0 {
		return nil
	}
	unlock, err := s.lock()
	if err != nil {
		return err
	}
	defer unlock()
	if mounted, err := rootfs.IsMountPoint(v.Mountpoint); err != nil || mounted {
		return err
	}
	flags, data := rootfs.HostMountArgs(v.Options["o"])
	if err := unix.Mount(v.Options["device"], v.Mountpoint, v.Options["type"], flags, data); err != nil {
		return fmt.Errorf("mount volume %s (%s on %s): %w", v.Name, v.Options["device"], v.Options["type"], err)
	}
	return nil
}

func (s Store) lock() (func(), error) {
	if err := os.MkdirAll(filepath.Join(s.Root, "volumes"), 0o700); err != nil {
		return nil, err
	}
	return state.Flock(filepath.Join(s.Root, "volumes", ".lock"))
}

// unmount takes v's device off its _data; after it, nothing under the
// volume's directory is another file system, so removing it cannot
// reach into a device (a bound host directory least of all). Mount
// mounts once, under the lock, so one unmount takes it.
func (s Store) unmount(v *Volume) error {
	mounted, err := rootfs.IsMountPoint(v.Mountpoint)
	if err != nil || !mounted {
		return err
	}
	if err := unix.Unmount(v.Mountpoint, unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount volume %s: %w", v.Name, err)
	}
	if mounted, err = rootfs.IsMountPoint(v.Mountpoint); err == nil && mounted {
		err = fmt.Errorf("unmount volume %s: still mounted", v.Name)
	}
	return err
}
