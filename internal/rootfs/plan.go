package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/nsenter"
)

// Steps compiles what Prepare, PivotRoot and Finish do for cfg into the
// C start stage's steps, in the same order and with the same checks:
// targets resolved inside the rootfs, directories and files made for
// them, flags that a bind ignores applied by a remount. Facts of the
// host (a bind source's kind, the mount that holds the rootfs) are
// looked up here: init's mount namespace is a copy of ours.
func Steps(cfg Config) ([]nsenter.Step, error) {
	spec := cfg.Spec
	prop := uintptr(unix.MS_SLAVE | unix.MS_REC)
	if p := spec.Linux.RootfsPropagation; p != "" {
		f, ok := PropagationFlag(p)
		if !ok {
			return nil, fmt.Errorf("invalid rootfsPropagation %q", p)
		}
		prop = f
	}
	mp, err := mountPointOf(cfg.Rootfs)
	if err != nil {
		return nil, err
	}
	c := &compiler{cfg: cfg}
	c.mount("", "/", nsenter.TargetAbs, "", prop, "", 0, "make / "+propagationName(prop))
	c.mount("", mp, nsenter.TargetAbs, "", unix.MS_PRIVATE, "", 0, "make "+mp+" private")
	c.mount(cfg.Rootfs, cfg.Rootfs, nsenter.TargetAbs, "", unix.MS_BIND|unix.MS_REC, "", 0, "bind the rootfs on itself")
	c.add(nsenter.Step{Op: nsenter.StepRoot, Path: cfg.Rootfs})
	devIsBind := false
	for i, m := range spec.Mounts {
		if err := c.specMount(i, m); err != nil {
			return nil, err
		}
		if filepath.Clean(m.Destination) == "/dev" && parseOptions(m.Options).bind {
			devIsBind = true
		}
	}
	if !devIsBind {
		if err := c.devices(); err != nil {
			return nil, err
		}
	}
	c.devLinks()
	c.add(nsenter.Step{Op: nsenter.StepPivot, Path: cfg.Rootfs})
	c.finish()
	return c.steps, nil
}

type compiler struct {
	cfg   Config
	steps []nsenter.Step
}

func (c *compiler) add(s nsenter.Step) { c.steps = append(c.steps, s) }

func (c *compiler) mount(src, path string, target uint32, fstype string, flags uintptr, data string, opts uint32, what string) {
	c.add(nsenter.Step{Op: nsenter.StepMount, Target: target, Opts: opts, Flags: uint64(flags), Src: src, Path: path, FSType: fstype, Data: data, What: what})
}

func (c *compiler) specMount(i int, m specs.Mount) error {
	o := parseOptions(m.Options)
	dest := filepath.Clean("/" + m.Destination)
	typ := m.Type
	if typ == "bind" {
		o.bind = true
	}
	what := "mount " + m.Destination
	switch {
	case o.bind:
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(c.cfg.Bundle, src)
		}
		// A source the runtime opened is checked through its fd, and
		// init mounts it through its own.
		check, from := src, src
		if p, ok := c.cfg.Sources[i]; ok {
			check, from = p, c.cfg.ChildSources[i]
		}
		if _, err := os.Stat(check); err != nil {
			return fmt.Errorf("bind mount source %s: %w", m.Source, err)
		}
		target := uint32(nsenter.TargetDir)
		if !isDir(check) {
			target = nsenter.TargetFile
		}
		c.bind(from, dest, target, o.flags, o.recursive, "bind mount "+src+" on "+m.Destination)
		c.propagate(dest, o, what)
		return nil
	case typ == "cgroup" || typ == "cgroup2":
		return c.cgroupMount(dest, o)
	}
	var opts uint32
	if typ == "proc" || typ == "sysfs" {
		opts |= nsenter.OptDirOnly
	}
	if typ == "tmpfs" && !hasMode(o.data) {
		opts |= nsenter.OptTmpfsMode
	}
	var fallback uint64
	if c.cfg.InUserNS {
		// The kernel's refusals in a user namespace, met as Prepare
		// meets them.
		switch typ {
		case "sysfs":
			opts |= nsenter.OptSysfsBind
			fallback = uint64(o.flags | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
		case "devpts":
			opts |= nsenter.OptDevptsNoGid
		}
	}
	flags := o.flags
	if readOnlyDev(m) {
		flags &^= unix.MS_RDONLY // made read-only at the end, as in Prepare
	}
	c.add(nsenter.Step{Op: nsenter.StepMount, Target: nsenter.TargetDir, Opts: opts, Flags: uint64(flags), B: fallback,
		Src: m.Source, Path: dest, FSType: typ, Data: joinData(o.data), What: what})
	c.propagate(dest, o, what)
	return nil
}

func hasMode(data []string) bool {
	for _, d := range data {
		if strings.HasPrefix(d, "mode=") {
			return true
		}
	}
	return false
}

// bind is bindOnto's steps: the bind, then a remount for the flags the
// kernel ignores on a bind.
func (c *compiler) bind(src, dest string, target uint32, flags uintptr, recursive bool, what string) {
	bf := uintptr(unix.MS_BIND)
	if recursive {
		bf |= unix.MS_REC
	}
	c.mount(src, dest, target, "", bf, "", 0, what)
	if extra := flags &^ (unix.MS_BIND | unix.MS_REC | unix.MS_REMOUNT); extra != 0 {
		var opts uint32
		if c.cfg.InUserNS {
			opts = nsenter.OptLockedRetry
		}
		c.mount("", dest, nsenter.TargetExisting, "", unix.MS_BIND|unix.MS_REMOUNT|extra, "", opts, what)
	}
}

func (c *compiler) propagate(dest string, o mountOpts, what string) {
	if o.recSet != 0 || o.recClr != 0 {
		c.add(nsenter.Step{Op: nsenter.StepSetattr, Target: nsenter.TargetExisting, Path: dest, A: o.recSet, B: o.recClr, What: "set recursive mount options on " + dest})
	}
	for _, p := range o.propagation {
		c.mount("", dest, nsenter.TargetExisting, "", p, "", 0, what)
	}
}

// cgroupMount is Setup.cgroupMount's steps.
func (c *compiler) cgroupMount(dest string, o mountOpts) error {
	what := "mount cgroup on " + dest
	if dir, ok := c.cfg.CgroupPaths[""]; ok && len(c.cfg.CgroupPaths) == 1 {
		if c.cfg.NewCgroupNS {
			c.mount("cgroup2", dest, nsenter.TargetDir, "cgroup2", o.flags, "", 0, what)
		} else {
			c.bind(dir, dest, nsenter.TargetDir, o.flags, false, what)
		}
		return nil
	}
	c.mount("tmpfs", dest, nsenter.TargetDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755", 0, what)
	names := make([]string, 0, len(c.cfg.CgroupPaths))
	for n := range c.cfg.CgroupPaths {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sub := filepath.Join(dest, strings.TrimPrefix(n, "name="))
		c.bind(c.cfg.CgroupPaths[n], sub, nsenter.TargetDir, o.flags|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, false, "mount cgroup "+sub)
	}
	if o.flags&unix.MS_RDONLY != 0 {
		c.mount("", dest, nsenter.TargetExisting, "", unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=755", 0, what)
	}
	return nil
}

// devices is createDevices' steps.
func (c *compiler) devices() error {
	for _, d := range allDevices(c.cfg.Spec.Linux) {
		typ, err := deviceType(d)
		if err != nil {
			return fmt.Errorf("create device %s: %w", d.Path, err)
		}
		if c.cfg.InUserNS {
			// mknod is not permitted in a user namespace: the host's node.
			dst := filepath.Clean("/" + d.Path)
			c.mount(dst, dst, nsenter.TargetFile, "", unix.MS_BIND, "", 0, "create device "+d.Path)
			continue
		}
		perm := uint32(0o666)
		if d.FileMode != nil {
			perm = uint32(d.FileMode.Perm())
		}
		var uid, gid uint64
		if d.UID != nil {
			uid = uint64(*d.UID)
		}
		if d.GID != nil {
			gid = uint64(*d.GID)
		}
		c.add(nsenter.Step{Op: nsenter.StepMknod, Path: filepath.Clean("/" + d.Path), A: uint64(typ | perm),
			Flags: unix.Mkdev(uint32(d.Major), uint32(d.Minor)), B: uid<<32 | gid, What: "create device " + d.Path})
	}
	return nil
}

// devLinks is Setup.devLinks' steps.
func (c *compiler) devLinks() {
	for _, l := range devLinkList(c.cfg.Spec) {
		var opts uint32
		if l[1] == "/dev/ptmx" {
			opts = nsenter.OptReplace // the image or the default devices may hold a node here
		}
		c.add(nsenter.Step{Op: nsenter.StepSymlink, Src: l[0], Path: l[1], Opts: opts, What: "symlink " + l[1] + " -> " + l[0]})
	}
}

// finish is Finish's steps, after pivot_root: paths are the container's.
func (c *compiler) finish() {
	spec := c.cfg.Spec
	l := spec.Linux
	keys := make([]string, 0, len(l.Sysctl))
	for k := range l.Sysctl {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := l.Sysctl[k]
		c.add(nsenter.Step{Op: nsenter.StepWrite, Path: "/proc/sys/" + strings.ReplaceAll(k, ".", "/"), Src: v, What: "set sysctl " + k + "=" + v})
	}
	for _, p := range l.ReadonlyPaths {
		c.add(nsenter.Step{Op: nsenter.StepReadonly, Path: p, What: "make " + p + " read-only"})
	}
	for _, p := range l.MaskedPaths {
		c.add(nsenter.Step{Op: nsenter.StepMask, Path: p, What: "mask " + p})
	}
	for _, m := range spec.Mounts {
		if readOnlyDev(m) {
			o := parseOptions(m.Options)
			c.mount("", "/dev", nsenter.TargetAbs, "", o.flags|unix.MS_REMOUNT, joinData(o.data), 0, "make /dev read-only")
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		c.mount("", "/", nsenter.TargetAbs, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "", nsenter.OptLocked, "make root read-only")
	}
	if p := l.RootfsPropagation; p != "" {
		f, _ := PropagationFlag(p)
		c.mount("", "/", nsenter.TargetAbs, "", f, "", 0, "set root propagation "+p)
	}
}

func propagationName(f uintptr) string {
	for n, v := range propagationOptions {
		if v == f {
			return n
		}
	}
	return fmt.Sprintf("%#x", f)
}
