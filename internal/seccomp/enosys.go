package seccomp

import (
	"encoding/binary"
	"runtime"

	"golang.org/x/sys/unix"
)

// A profile lists the syscalls of its day; a newer one (clone3 once,
// say) falls to its default action, often EPERM, and a C library then
// fails instead of falling back to the old call, which it does on
// ENOSYS. So, as runc does, a syscall of the native architecture above
// the highest one the profile names answers ENOSYS: a stub put in front
// of libseccomp's program.

// nativeArch is the seccomp_data.arch value of this build's
// architecture; 0 where the stub is not made.
func nativeArch() uint32 {
	switch runtime.GOARCH {
	case "amd64":
		return unix.AUDIT_ARCH_X86_64
	case "arm64":
		return unix.AUDIT_ARCH_AARCH64
	}
	return 0
}

// x32Bit marks an x32 syscall on x86_64: those keep the program's own
// answer.
const x32Bit = 0x40000000

// withENOSYSStub returns code with the stub in front: for arch, a
// syscall number above max (and not an x32 one) returns ENOSYS; any
// other goes on to code.
func withENOSYSStub(code []byte, arch, max uint32) []byte {
	const (
		ldAbs = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq   = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jge   = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		jgt   = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		ret   = unix.BPF_RET | unix.BPF_K
	)
	stub := []unix.SockFilter{
		{Code: ldAbs, K: 4},                  // seccomp_data.arch
		{Code: jeq, Jt: 0, Jf: 4, K: arch},   // another arch: the program
		{Code: ldAbs, K: 0},                  // seccomp_data.nr
		{Code: jge, Jt: 2, Jf: 0, K: x32Bit}, // x32: the program
		{Code: jgt, Jt: 0, Jf: 1, K: max},    // known to the profile: the program
		{Code: ret, K: unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)},
	}
	out := make([]byte, 0, len(stub)*8+len(code))
	for _, ins := range stub {
		var b [8]byte
		binary.NativeEndian.PutUint16(b[0:], ins.Code)
		b[2], b[3] = ins.Jt, ins.Jf
		binary.NativeEndian.PutUint32(b[4:], ins.K)
		out = append(out, b[:]...)
	}
	return append(out, code...)
}
