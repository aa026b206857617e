// Package disk makes a container's size-limited writable layer
// (--storage-opt size=N): an ext4 file system in a sparse file of that
// size beside the container, loop-mounted where overlayfs takes its
// upper and work dirs. Docker's overlay2 limits the size with project
// quotas, which need xfs mounted with pquota and a kernel with quota
// support; a file system of its own needs neither, and what the
// container writes past its size fails with ENOSPC inside it only.
package disk

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MinSize is the smallest layer: ext4's metadata takes a few MiB.
const MinSize = 8 << 20

// Create makes the file system in a new sparse file at image.
func Create(image string, size int64) error {
	f, err := os.OpenFile(image, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("writable layer %s: %w", image, err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// No journal (the container's data is as durable as an overlay
		// upper dir's), no reserved blocks, and the inode tables left
		// to be written lazily: a second, not tens, for a large size.
		out, merr := exec.Command("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-m", "0",
			"-E", "nodiscard,lazy_itable_init=1", image).CombinedOutput()
		if merr != nil {
			err = fmt.Errorf("mkfs.ext4: %v: %s", merr, strings.TrimSpace(string(out)))
		}
	}
	if err != nil {
		_ = os.Remove(image) // a half-made image: the error above is returned
		return fmt.Errorf("writable layer %s: %w", image, err)
	}
	return nil
}

// Mount attaches image to a free loop device that detaches itself when
// the file system is unmounted, and mounts it at target.
func Mount(image, target string) error { return mount(image, target, false) }

// MountReadOnly mounts image read-only at target, for a look at what a
// stopped container wrote.
func MountReadOnly(image, target string) error { return mount(image, target, true) }

func mount(image, target string, ro bool) error {
	mode, loopFlags, flags := os.O_RDWR, uint32(unix.LO_FLAGS_AUTOCLEAR), uintptr(unix.MS_NOATIME)
	if ro {
		mode, loopFlags, flags = os.O_RDONLY, loopFlags|unix.LO_FLAGS_READ_ONLY, flags|unix.MS_RDONLY
	}
	f, err := os.OpenFile(image, mode|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("writable layer %s: %w", image, err)
	}
	defer f.Close() // the loop device holds the file once configured
	ctl, err := unix.Open("/dev/loop-control", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("writable layer: /dev/loop-control: %w", err)
	}
	defer unix.Close(ctl) // asked for a number only
	var dev string
	lfd := -1
	for try := 0; ; try++ {
		n, err := unix.IoctlRetInt(ctl, unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return fmt.Errorf("writable layer: no free loop device: %w", err)
		}
		dev = "/dev/loop" + strconv.Itoa(n)
		if lfd, err = unix.Open(dev, unix.O_RDWR|unix.O_CLOEXEC, 0); err != nil {
			return fmt.Errorf("writable layer: %s: %w", dev, err)
		}
		cfg := unix.LoopConfig{Fd: uint32(f.Fd())}
		cfg.Info.Flags = loopFlags
		copy(cfg.Info.File_name[:], filepath.Base(image))
		if err = unix.IoctlLoopConfigure(lfd, &cfg); err == nil {
			break
		}
		_ = unix.Close(lfd) // not ours: another attach took it
		lfd = -1
		if !errors.Is(err, unix.EBUSY) || try == 20 {
			return fmt.Errorf("writable layer: attach %s to %s: %w", image, dev, err)
		}
		// Another attach took that device between the two calls.
	}
	// Autoclear detaches the device at its last close: this descriptor
	// stays open until the mount holds the device, and then the mount's
	// end detaches it; a failed mount's close detaches it at once.
	defer unix.Close(lfd)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	if err := unix.Mount(dev, target, "ext4", flags, ""); err != nil {
		return fmt.Errorf("writable layer: mount %s: %w", dev, err)
	}
	return nil
}

// Mounted reports whether a file system other than its parent's is at
// target.
func Mounted(target string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(target, &st) != nil || unix.Stat(filepath.Dir(target), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}

// Unmount unmounts target (lazily, after the overlay above it), which
// detaches its loop device once the last user is gone; nothing mounted
// there is not an error.
func Unmount(target string) error {
	if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount the writable layer %s: %w", target, err)
	}
	return nil
}
