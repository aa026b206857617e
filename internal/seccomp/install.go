package seccomp

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Program is a compiled filter: classic BPF instructions (8 bytes each,
// host order) and the seccomp(2) flags to install them with.
type Program struct {
	code  []byte
	flags uint
}

// Install puts p on the calling thread with seccomp(2). It allocates
// nothing, so it works under any rlimit, right before execve. A nil p
// does nothing.
func (p *Program) Install() error {
	if p == nil {
		return nil
	}
	prog := unix.SockFprog{
		Len:    uint16(len(p.code) / 8),
		Filter: (*unix.SockFilter)(unsafe.Pointer(&p.code[0])),
	}
	_, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, uintptr(p.flags), uintptr(unsafe.Pointer(&prog)))
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}
