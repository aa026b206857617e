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

// createDevices makes the default devices and the config's linux.devices.
// Config entries win over defaults with the same path.
func (st *Setup) createDevices() error {
	seen := map[string]bool{}
	var all []specs.LinuxDevice
	for _, d := range st.cfg.Spec.Linux.Devices {
		seen[filepath.Clean(d.Path)] = true
		all = append(all, d)
	}
	for _, d := range DefaultDevices {
		if !seen[d.Path] {
			all = append(all, d)
		}
	}
	for _, d := range all {
		if err := st.createDevice(d); err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
	}
	return nil
}

func (st *Setup) createDevice(d specs.LinuxDevice) error {
	var typ uint32
	switch d.Type {
	case "c", "u":
		typ = unix.S_IFCHR
	case "b":
		typ = unix.S_IFBLK
	case "p":
		typ = unix.S_IFIFO
	default:
		return fmt.Errorf("unknown device type %q", d.Type)
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
	links := [][2]string{
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	}
	if st.hasMount("/dev/pts") {
		links = append(links, [2]string{"pts/ptmx", "/dev/ptmx"})
	}
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

func (st *Setup) hasMount(dst string) bool {
	for _, m := range st.cfg.Spec.Mounts {
		if filepath.Clean(m.Destination) == dst {
			return true
		}
	}
	return false
}
