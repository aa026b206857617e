package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func u32(v uint32) *uint32            { return &v }
func mode(v os.FileMode) *os.FileMode { return &v }

// DefaultDevices are created in every container, as the spec requires.
var DefaultDevices = []specs.LinuxDevice{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: mode(0o666), UID: u32(0), GID: u32(0)},
}

// allDevices is the config's linux.devices and the default devices;
// config entries win over defaults with the same path.
func allDevices(l *specs.Linux) []specs.LinuxDevice {
	seen := map[string]bool{}
	var all []specs.LinuxDevice
	for _, d := range l.Devices {
		seen[filepath.Clean(d.Path)] = true
		all = append(all, d)
	}
	for _, d := range DefaultDevices {
		if !seen[d.Path] {
			all = append(all, d)
		}
	}
	return all
}

// deviceType is the S_IF* file type of a device's type letter.
func deviceType(d specs.LinuxDevice) (uint32, error) {
	switch d.Type {
	case "c", "u":
		return unix.S_IFCHR, nil
	case "b":
		return unix.S_IFBLK, nil
	case "p":
		return unix.S_IFIFO, nil
	}
	return 0, fmt.Errorf("unknown device type %q", d.Type)
}

// createDevices makes the default devices and the config's linux.devices.
func (st *Setup) createDevices() error {
	for _, d := range allDevices(st.cfg.Spec.Linux) {
		if err := st.createDevice(d); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	return nil
}

func (st *Setup) createDevice(d specs.LinuxDevice) error {
	typ, err := deviceType(d)
	if err != nil {
		return err
	}
	dst := filepath.Clean("/" + d.Path)
	if st.cfg.InUserNS {
		// mknod is not permitted in a user namespace: show the host's node.
		fd, err := mkdirAllInRoot(st.rootFd, dst, true)
		if err != nil {
			return err
		}
		defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
		return st.Sys.Mount(dst, fdPath(fd), "", unix.MS_BIND, "")
	}
	parent, name := filepath.Split(dst)
	pfd, err := mkdirAllInRoot(st.rootFd, parent, false)
	if err != nil {
		return err
	}
	defer unix.Close(pfd) // a descriptor of ours: close fails only on a bad one
	dfd, err := unix.Openat(pfd, ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(dfd) // a descriptor of ours: close fails only on a bad one
	perm := uint32(0o666)
	if d.FileMode != nil {
		perm = uint32(d.FileMode.Perm())
	}
	// Replace whatever the image had at that path.
	if err := unix.Unlinkat(dfd, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return err
	}
	if err := unix.Mknodat(dfd, name, typ|perm, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil {
		return err
	}
	// mknod applies the umask; set the mode exactly.
	if err := unix.Fchmodat(dfd, name, perm, 0); err != nil {
		return err
	}
	uid, gid := 0, 0
	if d.UID != nil {
		uid = int(*d.UID)
	}
	if d.GID != nil {
		gid = int(*d.GID)
	}
	return unix.Fchownat(dfd, name, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
}

// devLinks makes the /dev symlinks every Linux program expects, and
// /dev/ptmx pointing at the container's own devpts instance.
func (st *Setup) devLinks() error {
	links := devLinkList(st.cfg.Spec)
	dfd, err := mkdirAllInRoot(st.rootFd, "/dev", false)
	if err != nil {
		return err
	}
	defer unix.Close(dfd) // a descriptor of ours: close fails only on a bad one
	dir, err := unix.Openat(dfd, ".", unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open /dev in rootfs: %w", err)
	}
	defer unix.Close(dir) // a descriptor of ours: close fails only on a bad one
	for _, l := range links {
		name := filepath.Base(l[1])
		if l[1] == "/dev/ptmx" {
			// The image or the default devices may hold a node here.
			if err := unix.Unlinkat(dir, name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("replace /dev/ptmx: %w", err)
			}
		}
		if err := unix.Symlinkat(l[0], dir, name); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("symlink %s -> %s: %w", l[1], l[0], err)
		}
	}
	return nil
}

// devLinkList is the /dev links as target, link pairs: /dev/ptmx only
// where the config mounts a devpts of the container's own.
func devLinkList(spec *specs.Spec) [][2]string {
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev/pts" {
			return append(links, [2]string{"pts/ptmx", "/dev/ptmx"})
		}
	}
	return links
}
