package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// inRoot opens path inside root with every symlink resolved as if root
// were "/", so "../../etc" or a link to /etc stays inside.
func inRoot(rootFd int, path string, flags uint64) (int, error) {
	how := unix.OpenHow{
		Flags:   flags | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	rel := strings.TrimLeft(filepath.Clean("/"+path), "/")
	if rel == "" {
		rel = "."
	}
	for {
		fd, err := unix.Openat2(rootFd, rel, &how)
		if err == unix.EINTR || err == unix.EAGAIN {
			continue
		}
		return fd, err
	}
}

// mkdirAllInRoot creates path (and its parents) inside root, resolving
// each existing component inside root, and returns an O_PATH fd on it.
// When asFile is set the last component is created as an empty file (the
// target of a file bind mount or a device).
func mkdirAllInRoot(rootFd int, path string, asFile bool) (int, error) {
	clean := filepath.Clean("/" + path)
	if fd, err := inRoot(rootFd, clean, unix.O_PATH); err == nil {
		return fd, nil
	} else if !errors.Is(err, unix.ENOENT) {
		return -1, fmt.Errorf("open %s in rootfs: %w", clean, err)
	}
	parent, name := filepath.Split(clean)
	var pfd int
	var err error
	if parent == "/" {
		pfd, err = unix.Dup(rootFd)
	} else {
		pfd, err = mkdirAllInRoot(rootFd, filepath.Clean(parent), false)
	}
	if err != nil {
		return -1, err
	}
	defer unix.Close(pfd) // a descriptor of ours: close fails only on a bad one
	// pfd is O_PATH: reopen it as a directory to create in it.
	dfd, err := unix.Openat(pfd, ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("open %s in rootfs: %w", parent, err)
	}
	defer unix.Close(dfd) // a descriptor of ours: close fails only on a bad one
	if asFile {
		fd, err := unix.Openat(dfd, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, fmt.Errorf("create %s in rootfs: %w", clean, err)
		}
		if err == nil {
			_ = unix.Close(fd) // a descriptor of ours
		}
	} else if err := unix.Mkdirat(dfd, name, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %s in rootfs: %w", clean, err)
	}
	fd, err := inRoot(rootFd, clean, unix.O_PATH)
	if err != nil {
		return -1, fmt.Errorf("open %s in rootfs: %w", clean, err)
	}
	return fd, nil
}

// fdPath names an open fd so mount(2) acts on exactly the inode we
// resolved, not on whatever the path names by the time the kernel looks.
func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// isDir reports whether path (on the host side) is a directory; a missing
// path counts as a directory, which is what a mount target defaults to.
func isDir(path string) bool {
	fi, err := os.Stat(path)
	return err != nil || fi.IsDir()
}
