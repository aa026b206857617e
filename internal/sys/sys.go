// Package sys is the narrow interface over the syscalls that set up a
// container's filesystem, with the real Linux implementation and a fake
// that records calls, so that mount planning is unit-tested without root.
package sys

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Syscalls is what rootfs needs from the kernel to mount things.
type Syscalls interface {
	Mount(source, target, fstype string, flags uintptr, data string) error
	Unmount(target string, flags int) error
}

// Linux performs the calls for real.
type Linux struct{}

// Mount calls mount(2); the error names every argument, since "invalid
// argument" alone cannot be debugged.
func (Linux) Mount(source, target, fstype string, flags uintptr, data string) error {
	if err := unix.Mount(source, target, fstype, flags, data); err != nil {
		return &MountError{Op: "mount", Source: source, Target: target, Type: fstype, Flags: flags, Data: data, Err: err}
	}
	return nil
}

// Unmount calls umount2(2).
func (Linux) Unmount(target string, flags int) error {
	if err := unix.Unmount(target, flags); err != nil {
		return &MountError{Op: "umount", Target: target, Flags: uintptr(flags), Err: err}
	}
	return nil
}

// MountError describes a failed mount with all its arguments.
type MountError struct {
	Op, Source, Target, Type, Data string
	Flags                          uintptr
	Err                            error
}

func (e *MountError) Error() string {
	s := e.Op
	if e.Source != "" {
		s += " " + e.Source
	}
	s += " on " + e.Target
	if e.Type != "" {
		s += " type " + e.Type
	}
	s += fmt.Sprintf(" flags %#x", e.Flags)
	if e.Data != "" {
		s += " data " + e.Data
	}
	return s + ": " + e.Err.Error()
}

func (e *MountError) Unwrap() error { return e.Err }

// Call is one recorded syscall.
type Call struct {
	Op, Source, Target, Type, Data string
	Flags                          uintptr
}

// Recorder is a fake Syscalls that records every call and fails the ones
// listed in Fail (keyed by target).
type Recorder struct {
	Calls []Call
	Fail  map[string]error
}

// Mount records a mount.
func (r *Recorder) Mount(source, target, fstype string, flags uintptr, data string) error {
	r.Calls = append(r.Calls, Call{Op: "mount", Source: source, Target: target, Type: fstype, Flags: flags, Data: data})
	if err := r.Fail[target]; err != nil {
		return &MountError{Op: "mount", Source: source, Target: target, Type: fstype, Flags: flags, Data: data, Err: err}
	}
	return nil
}

// Unmount records an unmount.
func (r *Recorder) Unmount(target string, flags int) error {
	r.Calls = append(r.Calls, Call{Op: "umount", Target: target, Flags: uintptr(flags)})
	return nil
}
