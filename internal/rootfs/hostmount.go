package rootfs

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sys"
)

// MountAt performs one runtime-spec mount at target, a path of the
// caller's own (a container's rootfs before its init runs, an image's
// mount point): not inside a container root, so nothing is resolved.
// It is where the engine performs the mounts the snapshot side describes
// (snapshot.Store.Mounts). A read-only bind is a bind and a remount, as
// the kernel requires.
func MountAt(s sys.Syscalls, m specs.Mount, target string) error {
	o := parseOptions(m.Options)
	data := strings.Join(o.data, ",")
	if o.bind {
		flags := uintptr(unix.MS_BIND)
		if o.recursive {
			flags |= unix.MS_REC
		}
		if err := s.Mount(m.Source, target, "", flags, ""); err != nil {
			return err
		}
		if o.flags == 0 {
			return nil
		}
		if err := s.Mount("", target, "", o.flags|unix.MS_BIND|unix.MS_REMOUNT, ""); err != nil {
			_ = s.Unmount(target, unix.MNT_DETACH) // undoes the bind; the remount's error is reported
			return err
		}
		return nil
	}
	return s.Mount(m.Source, target, m.Type, o.flags, data)
}
