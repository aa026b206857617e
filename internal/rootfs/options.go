// Package rootfs builds a container's root filesystem inside its mount
// namespace: the mounts of the config in order, the device nodes, the /dev
// links, pivot_root, and afterwards the masked and read-only paths. Every
// mount target is resolved inside the rootfs (openat2 RESOLVE_IN_ROOT), so
// a symlink in the image can never send a mount to the host.
package rootfs

import (
	"strings"

	"golang.org/x/sys/unix"
)

// mountOpts is a parsed mount options list.
type mountOpts struct {
	flags       uintptr   // flags for the mount itself
	clear       uintptr   // flags the options explicitly cleared (rw, suid, ...)
	propagation []uintptr // applied one by one after the mount
	data        []string  // options the filesystem interprets
	bind        bool
	recursive   bool
	// recSet and recClr are mount_setattr(2) attributes for the mount and
	// every mount below it (rro, rnosuid, ...).
	recSet, recClr uint64
}

// recursiveOptions are the options that apply to a mount and all its
// submounts (mount_setattr with AT_RECURSIVE), as runc and crun take
// them: rro makes an rbind read-only all the way down.
var recursiveOptions = map[string]struct {
	clear bool
	attr  uint64
}{
	"rro": {false, unix.MOUNT_ATTR_RDONLY}, "rrw": {true, unix.MOUNT_ATTR_RDONLY},
	"rnosuid": {false, unix.MOUNT_ATTR_NOSUID}, "rsuid": {true, unix.MOUNT_ATTR_NOSUID},
	"rnodev": {false, unix.MOUNT_ATTR_NODEV}, "rdev": {true, unix.MOUNT_ATTR_NODEV},
	"rnoexec": {false, unix.MOUNT_ATTR_NOEXEC}, "rexec": {true, unix.MOUNT_ATTR_NOEXEC},
	"rnodiratime": {false, unix.MOUNT_ATTR_NODIRATIME}, "rdiratime": {true, unix.MOUNT_ATTR_NODIRATIME},
	"rnosymfollow": {false, unix.MOUNT_ATTR_NOSYMFOLLOW}, "rsymfollow": {true, unix.MOUNT_ATTR_NOSYMFOLLOW},
}

var flagOptions = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro": {false, unix.MS_RDONLY}, "rw": {true, unix.MS_RDONLY},
	"nosuid": {false, unix.MS_NOSUID}, "suid": {true, unix.MS_NOSUID},
	"nodev": {false, unix.MS_NODEV}, "dev": {true, unix.MS_NODEV},
	"noexec": {false, unix.MS_NOEXEC}, "exec": {true, unix.MS_NOEXEC},
	"sync": {false, unix.MS_SYNCHRONOUS}, "async": {true, unix.MS_SYNCHRONOUS},
	"dirsync": {false, unix.MS_DIRSYNC},
	"remount": {false, unix.MS_REMOUNT},
	"mand":    {false, unix.MS_MANDLOCK}, "nomand": {true, unix.MS_MANDLOCK},
	"atime": {true, unix.MS_NOATIME}, "noatime": {false, unix.MS_NOATIME},
	"diratime": {true, unix.MS_NODIRATIME}, "nodiratime": {false, unix.MS_NODIRATIME},
	"relatime": {false, unix.MS_RELATIME}, "norelatime": {true, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME}, "nostrictatime": {true, unix.MS_STRICTATIME},
	"silent": {false, unix.MS_SILENT}, "loud": {true, unix.MS_SILENT},
}

var propagationOptions = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"unbindable": unix.MS_UNBINDABLE, "runbindable": unix.MS_UNBINDABLE | unix.MS_REC,
}

// ignoredOptions are understood by other runtimes' helpers or are
// no-ops for the kernel's mount(2); passing them as data would fail.
var ignoredOptions = map[string]bool{"defaults": true, "tmpcopyup": true, "notmpcopyup": true}

func parseOptions(options []string) mountOpts {
	var o mountOpts
	for _, opt := range options {
		switch {
		case opt == "bind":
			o.bind = true
		case opt == "rbind":
			o.bind, o.recursive = true, true
		case ignoredOptions[opt]:
		case recursiveOptions[opt].attr != 0:
			r := recursiveOptions[opt]
			if r.clear {
				o.recSet &^= r.attr
				o.recClr |= r.attr
			} else {
				o.recSet |= r.attr
				o.recClr &^= r.attr
			}
		default:
			if f, ok := flagOptions[opt]; ok {
				if f.clear {
					o.flags &^= f.flag
					o.clear |= f.flag
				} else {
					o.flags |= f.flag
					o.clear &^= f.flag
				}
			} else if p, ok := propagationOptions[opt]; ok {
				o.propagation = append(o.propagation, p)
			} else {
				o.data = append(o.data, opt)
			}
		}
	}
	return o
}

// PropagationFlag parses a rootfsPropagation value; ok is false for an
// unknown one.
func PropagationFlag(s string) (flag uintptr, ok bool) {
	f, ok := propagationOptions[s]
	return f, ok
}

func joinData(d []string) string { return strings.Join(d, ",") }

// OptionNames lists every mount option this package understands, for the
// runtime's features document.
func OptionNames() map[string]bool {
	n := map[string]bool{"bind": true, "rbind": true}
	for o := range flagOptions {
		n[o] = true
	}
	for o := range propagationOptions {
		n[o] = true
	}
	for o := range recursiveOptions {
		n[o] = true
	}
	return n
}

// HostMountArgs reads a comma-separated options string as mount(2)
// takes it, for a mount that berth makes on the host (a volume's
// device): the flags, bind or rbind, and the data the file system
// interprets.
func HostMountArgs(options string) (flags uintptr, data string) {
	var opts []string
	if options != "" {
		opts = strings.Split(options, ",")
	}
	o := parseOptions(opts)
	flags = o.flags
	if o.bind {
		flags |= unix.MS_BIND
	}
	if o.recursive {
		flags |= unix.MS_REC
	}
	return flags, joinData(o.data)
}
