package rootfs

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sys"
)

// Config is what Prepare needs to know beyond the spec.
type Config struct {
	Spec   *specs.Spec
	Rootfs string // absolute, in the current mount namespace
	// CgroupPaths maps a hierarchy name ("memory", "unified", ... or ""
	// on a pure v2 host) to the container's cgroup directory, for
	// mounts of type cgroup.
	CgroupPaths map[string]string
	// NewCgroupNS tells whether cgroup mounts may mount the filesystem
	// itself (its root is then the container's cgroup).
	NewCgroupNS bool
	// InUserNS: mknod is not allowed, devices are bind-mounted from the
	// host; sysfs may need to be bind-mounted.
	InUserNS bool
	// Sources replace the source paths of some mounts (by index in
	// Spec.Mounts): bind sources the runtime opened for init, as
	// /proc/self/fd paths.
	Sources map[int]string
	// ChildSources, for Steps, are the same sources as init will name
	// them (its own fds), while Sources name them for the runtime that
	// compiles the steps (its fds), which checks them.
	ChildSources map[int]string
	// Bundle is where relative bind sources are found.
	Bundle string
}

// Setup mounts everything the container needs before pivot_root.
type Setup struct {
	Sys    sys.Syscalls
	cfg    Config
	rootFd int
	// reopen resolves dest inside the rootfs again. After a mount, an fd
	// opened before it still names the covered directory, so remounts
	// and propagation changes need a fresh one.
	reopen func(dest string) (target string, done func(), err error)
}

// HasMountNamespace reports whether the container gets a mount
// namespace, new or joined. Without one it shares the host's: it is
// only chrooted into its rootfs, and nothing is mounted for it.
func HasMountNamespace(spec *specs.Spec) bool {
	return spec.Linux != nil && slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.MountNamespace })
}

// Prepare makes the mount tree private to the container, turns the rootfs
// into a mount point, performs the config's mounts in order, and creates
// the device nodes and /dev links.
func Prepare(s sys.Syscalls, cfg Config) error {
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := cfg.Spec.Linux.RootfsPropagation; p != "" {
		f, ok := PropagationFlag(p)
		if !ok {
			return fmt.Errorf("invalid rootfsPropagation %q", p)
		}
		prop = f
	}
	// Nothing we mount may propagate back to the host.
	if err := s.Mount("", "/", "", prop, ""); err != nil {
		return err
	}
	if err := makeParentPrivate(s, cfg.Rootfs); err != nil {
		return err
	}
	if err := s.Mount(cfg.Rootfs, cfg.Rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return err
	}
	rootFd, err := unix.Open(cfg.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs %s: %w", cfg.Rootfs, err)
	}
	defer unix.Close(rootFd) // a descriptor of ours: close fails only on a bad one
	st := &Setup{Sys: s, cfg: cfg, rootFd: rootFd}
	st.reopen = func(dest string) (string, func(), error) {
		fd, err := inRoot(rootFd, dest, unix.O_PATH)
		if err != nil {
			return "", nil, fmt.Errorf("reopen %s in rootfs: %w", dest, err)
		}
		return fdPath(fd), func() { _ = unix.Close(fd) }, nil // a descriptor of ours
	}

	devIsBind := false
	for i, m := range cfg.Spec.Mounts {
		if src, ok := cfg.Sources[i]; ok {
			m.Source = src
		}
		if err := st.mount(m); err != nil {
			return err
		}
		if filepath.Clean(m.Destination) == "/dev" && parseOptions(m.Options).bind {
			devIsBind = true
		}
	}
	if !devIsBind {
		if err := st.createDevices(); err != nil {
			return err
		}
	}
	return st.devLinks()
}

// readOnlyDev reports a read-only /dev that is mounted, not bound: it
// is mounted writable, filled (devices, /dev/pts, /dev/shm), and made
// read-only at the end, as runc does.
func readOnlyDev(m specs.Mount) bool {
	o := parseOptions(m.Options)
	return filepath.Clean(m.Destination) == "/dev" && !o.bind && m.Type != "bind" && o.flags&unix.MS_RDONLY != 0
}

// makeParentPrivate makes the mount that holds the rootfs private:
// pivot_root refuses a new root whose parent mount is shared.
func makeParentPrivate(s sys.Syscalls, rootfs string) error {
	mp, err := mountPointOf(rootfs)
	if err != nil {
		return err
	}
	return s.Mount("", mp, "", unix.MS_PRIVATE, "")
}

// mount performs one spec mount.
func (st *Setup) mount(m specs.Mount) error {
	o := parseOptions(m.Options)
	typ := m.Type
	if typ == "bind" {
		o.bind = true
	}
	switch {
	case o.bind:
		return st.bindMount(m, o)
	case typ == "cgroup" || typ == "cgroup2":
		return st.cgroupMount(m, o)
	}
	if typ == "proc" || typ == "sysfs" {
		// A symlink there would be followed inside the rootfs, and the
		// masks and read-only paths under it would miss their targets.
		var stt unix.Stat_t
		rel := strings.TrimLeft(filepath.Clean("/"+m.Destination), "/")
		if err := unix.Fstatat(st.rootFd, rel, &stt, unix.AT_SYMLINK_NOFOLLOW); err == nil && stt.Mode&unix.S_IFMT != unix.S_IFDIR {
			return fmt.Errorf("mount %s: %s must be mounted on ordinary directory", m.Destination, typ)
		}
	}
	if typ == "tmpfs" {
		o.data = st.tmpfsMode(m.Destination, o.data)
	}
	fd, err := mkdirAllInRoot(st.rootFd, m.Destination, false)
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	target := fdPath(fd)
	flags := o.flags
	if readOnlyDev(m) {
		flags &^= unix.MS_RDONLY // its nodes and mounts are made first; Finish makes it read-only
	}
	err = st.Sys.Mount(m.Source, target, typ, flags, joinData(o.data))
	if err != nil && typ == "sysfs" && st.cfg.InUserNS && errors.Is(err, unix.EPERM) {
		// A user namespace that does not own the network namespace may
		// not mount sysfs; show the host's read-only instead, as runc does.
		err = st.bindOnto("/sys", m.Destination, target, o.flags|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, true)
	}
	if err != nil && typ == "devpts" && st.cfg.InUserNS && errors.Is(err, unix.EINVAL) {
		// A user namespace that maps one gid has no tty group (gid=5):
		// the terminals then belong to the caller's group, as in runc.
		data := slices.DeleteFunc(slices.Clone(o.data), func(d string) bool { return strings.HasPrefix(d, "gid=") })
		if len(data) != len(o.data) {
			err = st.Sys.Mount(m.Source, target, typ, flags, joinData(data))
		}
	}
	if err != nil {
		return fmt.Errorf("mount %s: %w", m.Destination, err)
	}
	return st.propagate(m.Destination, o)
}

// tmpfsMode gives a tmpfs that names no mode the mode of the directory
// it covers, as runc does: an image's 0710 /run stays 0710, not the
// tmpfs's 1777. A directory made for the mount leaves the default.
func (st *Setup) tmpfsMode(dest string, data []string) []string {
	if hasMode(data) {
		return data
	}
	fd, err := inRoot(st.rootFd, filepath.Clean("/"+dest), unix.O_PATH)
	if err != nil {
		return data // not there yet: mkdirAllInRoot makes it, or says why not
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	var stt unix.Stat_t
	if err := unix.Fstat(fd, &stt); err != nil || stt.Mode&unix.S_IFMT != unix.S_IFDIR {
		return data // not a directory: the mount itself fails with the reason
	}
	return append(data, fmt.Sprintf("mode=%o", stt.Mode&0o7777))
}

func (st *Setup) bindMount(m specs.Mount, o mountOpts) error {
	src := m.Source
	if !filepath.IsAbs(src) {
		src = filepath.Join(st.cfg.Bundle, src)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("bind mount source %s: %w", m.Source, err)
	}
	fd, err := mkdirAllInRoot(st.rootFd, m.Destination, !isDir(src))
	if err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, m.Destination, err)
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	target := fdPath(fd)
	if err := st.bindOnto(src, m.Destination, target, o.flags, o.recursive); err != nil {
		return fmt.Errorf("bind mount %s on %s: %w", src, m.Destination, err)
	}
	return st.propagate(m.Destination, o)
}

// bindOnto binds src on target (an fd path for dest) and, when flags ask
// for more than a plain bind (ro, nosuid, ...), remounts it with them: the
// kernel ignores them on the bind itself.
func (st *Setup) bindOnto(src, dest, target string, flags uintptr, recursive bool) error {
	bf := uintptr(unix.MS_BIND)
	if recursive {
		bf |= unix.MS_REC
	}
	if err := st.Sys.Mount(src, target, "", bf, ""); err != nil {
		return err
	}
	extra := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT)
	if extra == 0 {
		return nil
	}
	target, done, err := st.reopen(dest)
	if err != nil {
		return err
	}
	defer done()
	rf := unix.MS_BIND | unix.MS_REMOUNT | extra
	err = st.Sys.Mount("", target, "", rf, "")
	if err != nil && errors.Is(err, unix.EPERM) {
		// In a user namespace the flags the mount already has are locked:
		// a remount must repeat them.
		rf |= lockedFlags(target)
		err = st.Sys.Mount("", target, "", rf, "")
	}
	return err
}

// propagate applies what is set on a mount once it is there: the
// recursive attributes (rro, ...), then the propagation options.
func (st *Setup) propagate(dest string, o mountOpts) error {
	if len(o.propagation) == 0 && o.recSet == 0 && o.recClr == 0 {
		return nil
	}
	target, done, err := st.reopen(dest)
	if err != nil {
		return err
	}
	defer done()
	if o.recSet != 0 || o.recClr != 0 {
		attr := unix.MountAttr{Attr_set: o.recSet, Attr_clr: o.recClr}
		if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, &attr); err != nil {
			return fmt.Errorf("set recursive mount options on %s: %w", dest, err)
		}
	}
	for _, p := range o.propagation {
		if err := st.Sys.Mount("", target, "", p, ""); err != nil {
			return err
		}
	}
	return nil
}

// cgroupMount shows the container its own cgroups. With a cgroup
// namespace on a v2 host, cgroup2 is mounted for real; otherwise a tmpfs
// holds one bind mount per hierarchy of the container's directory.
func (st *Setup) cgroupMount(m specs.Mount, o mountOpts) error {
	fd, err := mkdirAllInRoot(st.rootFd, m.Destination, false)
	if err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", m.Destination, err)
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	if dir, ok := st.cfg.CgroupPaths[""]; ok && len(st.cfg.CgroupPaths) == 1 {
		if st.cfg.NewCgroupNS {
			err = st.Sys.Mount("cgroup2", fdPath(fd), "cgroup2", o.flags, "")
		} else {
			err = st.bindOnto(dir, m.Destination, fdPath(fd), o.flags, false)
		}
		if err != nil {
			return fmt.Errorf("mount cgroup on %s: %w", m.Destination, err)
		}
		return nil
	}
	if err := st.Sys.Mount("tmpfs", fdPath(fd), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
		return fmt.Errorf("mount cgroup on %s: %w", m.Destination, err)
	}
	names := make([]string, 0, len(st.cfg.CgroupPaths))
	for n := range st.cfg.CgroupPaths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub := filepath.Join(m.Destination, strings.TrimPrefix(n, "name="))
		sfd, err := mkdirAllInRoot(st.rootFd, sub, false)
		if err != nil {
			return fmt.Errorf("mount cgroup %s: %w", sub, err)
		}
		err = st.bindOnto(st.cfg.CgroupPaths[n], sub, fdPath(sfd), o.flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, false)
		_ = unix.Close(sfd) // a descriptor of ours
		if err != nil {
			return fmt.Errorf("mount cgroup %s: %w", sub, err)
		}
	}
	if o.flags&unix.MS_RDONLY != 0 {
		target, done, err := st.reopen(m.Destination)
		if err != nil {
			return err
		}
		defer done()
		if err := st.Sys.Mount("", target, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755"); err != nil {
			return fmt.Errorf("mount cgroup on %s: %w", m.Destination, err)
		}
	}
	return nil
}

// lockedFlags returns the flags of the mount at path that a user namespace
// cannot clear.
func lockedFlags(path string) uintptr {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return 0
	}
	var f uintptr
	for _, b := range []uintptr{unix.MS_RDONLY, unix.MS_NOSUID, unix.MS_NODEV, unix.MS_NOEXEC, unix.MS_NOATIME, unix.MS_NODIRATIME, unix.MS_RELATIME} {
		if uintptr(s.Flags)&b != 0 {
			f |= b
		}
	}
	return f
}
