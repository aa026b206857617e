package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Program is a compiled filter: classic BPF instructions (8 bytes each,
// host order) and the seccomp(2) flags to install them with.
//
// A Program travels as JSON: the runtime compiles it (or finds it in its
// cache) and sends it to the container's init in the bootstrap, so init
// neither links nor runs libseccomp.
type Program struct {
	Code   []byte `json:"code"`
	Flags  uint   `json:"flags,omitempty"`
	Notify bool   `json:"notify,omitempty"`
}

// Install puts p on the calling thread with seccomp(2). It allocates
// nothing, so it works under any rlimit, right before execve. A nil p
// does nothing. For a Notify filter it returns the listener fd, else -1.
func (p *Program) Install() (int, error) {
	if p == nil {
		return -1, nil
	}
	flags := p.Flags
	if p.Notify {
		flags |= unix.SECCOMP_FILTER_FLAG_NEW_LISTENER
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.Code) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.Code[0])),
	}
	r, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return -1, fmt.Errorf("install seccomp filter: %w", errno)
	}
	if !p.Notify {
		return -1, nil
	}
	return int(r), nil
}
