package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Program is a compiled filter: classic BPF instructions (8 bytes each,
// host order) and the seccomp(2) flags to install them with.
type Program struct {
	code   []byte
	flags  uint
	notify bool
}

// Notify reports whether the filter hands syscalls to a user-space agent
// (SCMP_ACT_NOTIFY): it then must be installed before the container is
// ready, so its listener fd can reach the agent during create.
func (p *Program) Notify() bool { return p != nil && p.notify }

// Install puts p on the calling thread with seccomp(2). It allocates
// nothing, so it works under any rlimit, right before execve. A nil p
// does nothing. For a Notify filter it returns the listener fd, else -1.
func (p *Program) Install() (int, error) {
	if p == nil {
		return -1, nil
	}
	flags := p.flags
	if p.notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.code) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.code[0])),
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return -1, fmt.Errorf("install seccomp filter: %w", errno)
	}
	if !p.notify {
		return -1, nil
	}
	return int(r), nil
}
