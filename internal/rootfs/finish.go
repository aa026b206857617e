package rootfs

import (
	"errors"
	"fmt"
	"os"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/sys"
)

// Finish runs after pivot_root, inside the container's root: sysctls,
// masked and read-only paths, the read-only root, and the root's final
// propagation.
func Finish(s sys.Syscalls, spec *specs.Spec) error {
	l := spec.Linux
	for k, v := range l.Sysctl {
		p := "/proc/sys/" + strings.ReplaceAll(k, ".", "/")
		if err := os.WriteFile(p, []byte(v), 0); err != nil {
			return fmt.Errorf("set sysctl %s=%s: %w", k, v, err)
		}
	}
	for _, p := range l.ReadonlyPaths {
		if err := readonlyPath(s, p); err != nil {
			return err
		}
	}
	for _, p := range l.MaskedPaths {
		if err := maskPath(s, p); err != nil {
			return err
		}
	}
	for _, m := range spec.Mounts {
		if readOnlyDev(m) {
			o := parseOptions(m.Options)
			if err := s.Mount("", "/dev", "", o.flags|unix.MS_REMOUNT, joinData(o.data)); err != nil {
				return fmt.Errorf("make /dev read-only: %w", err)
			}
		}
	}
	if spec.Root != nil && spec.Root.Readonly {
		f := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | lockedFlags("/")
		if err := s.Mount("", "/", "", uintptr(f), ""); err != nil {
			return fmt.Errorf("make root read-only: %w", err)
		}
	}
	if p := l.RootfsPropagation; p != "" {
		f, _ := PropagationFlag(p)
		if err := s.Mount("", "/", "", f, ""); err != nil {
			return fmt.Errorf("set root propagation %s: %w", p, err)
		}
	}
	return nil
}

// maskPath hides a file behind /dev/null and a directory behind an empty
// read-only tmpfs. Paths the container does not have are skipped.
func maskPath(s sys.Syscalls, p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("mask %s: %w", p, err)
	}
	if fi.IsDir() {
		err = s.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0k")
	} else {
		err = s.Mount("/dev/null", p, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

// readonlyPath binds p onto itself and remounts the bind read-only.
func readonlyPath(s sys.Syscalls, p string) error {
	if err := s.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	f := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_REC | lockedFlags(p)
	if err := s.Mount("", p, "", uintptr(f), ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}
