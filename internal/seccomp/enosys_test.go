package seccomp

import (
	"encoding/binary"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The stub runs in x/net/bpf's virtual machine over a program that
// answers everything EPERM, as a deny-by-default profile does for a
// syscall it does not name.
func TestENOSYSStubAnswersOnlyNewerNativeSyscalls(t *testing.T) {
	const arch, max = unix.AUDIT_ARCH_X86_64, 300
	eperm := unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	var prog [8]byte
	binary.NativeEndian.PutUint16(prog[0:], unix.BPF_RET|unix.BPF_K)
	binary.NativeEndian.PutUint32(prog[4:], eperm)
	code := withENOSYSStub(prog[:], arch, max)
	var ins []bpf.RawInstruction
	for i := 0; i < len(code); i += 8 {
		ins = append(ins, bpf.RawInstruction{Op: binary.NativeEndian.Uint16(code[i:]), Jt: code[i+2], Jf: code[i+3], K: binary.NativeEndian.Uint32(code[i+4:])})
	}
	decoded, ok := bpf.Disassemble(ins)
	if !ok {
		t.Fatal("the stub does not disassemble")
	}
	vm, err := bpf.NewVM(decoded)
	if err != nil {
		t.Fatal(err)
	}
	run := func(nr, a uint32) uint32 {
		// seccomp_data: nr, arch, instruction pointer, six arguments.
		// The VM loads big-endian; seccomp's fields are host order, so
		// they are laid out as the VM reads them.
		data := make([]byte, 64)
		binary.BigEndian.PutUint32(data[0:], nr)
		binary.BigEndian.PutUint32(data[4:], a)
		got, err := vm.Run(data)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(got)
	}
	enosys := unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	for _, c := range []struct {
		nr, arch, want uint32
		why            string
	}{
		{1000, arch, enosys, "newer than the profile"},
		{max, arch, eperm, "the highest the profile names"},
		{12, arch, eperm, "known to the profile"},
		{x32Bit | 1000, arch, eperm, "an x32 syscall"},
		{1000, unix.AUDIT_ARCH_I386, eperm, "another architecture"},
	} {
		if got := run(c.nr, c.arch); got != c.want {
			t.Errorf("%s (nr %d): %#x, want %#x", c.why, c.nr, got, c.want)
		}
	}
}

func TestNotifiesSeesANotifyRule(t *testing.T) {
	s := &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActErrno}}}
	if Notifies(s) || Notifies(nil) {
		t.Fatal("no notify rule")
	}
	s.Syscalls = append(s.Syscalls, specs.LinuxSyscall{Names: []string{"mount"}, Action: specs.ActNotify})
	if !Notifies(s) {
		t.Fatal("a notify rule")
	}
}
