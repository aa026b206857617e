package integration

import (
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// A filter that makes mkdir fail with EPERM and allows the rest.
func denyMkdir() *specs.LinuxSeccomp {
	eperm := uint(1)
	return &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Architectures: []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32},
		Syscalls: []specs.LinuxSyscall{
			{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActErrno, ErrnoRet: &eperm},
		},
	}
}

func TestSeccompFilterAppliesToTheProcessAndToExec(t *testing.T) {
	for _, nnp := range []bool{true, false} {
		b, _ := runningBundle(t, func(b *bundle) {
			b.spec.Process.NoNewPrivileges = nnp
			b.spec.Linux.Seccomp = denyMkdir()
			b.spec.Process.Args = []string{"sh", "-c", "mkdir /tmp/a 2>&1; sleep 100"}
		})
		r := berth(t, "exec", b.id, "sh", "-c", "mkdir /tmp/b 2>&1; touch /tmp/c && echo TOUCHED; grep Seccomp: /proc/self/status")
		if !strings.Contains(r.stdout, "Operation not permitted") || !strings.Contains(r.stdout, "TOUCHED") || !strings.Contains(r.stdout, "Seccomp:\t2") {
			t.Fatalf("no_new_privs=%v, exec: %q %q", nnp, r.stdout, r.stderr)
		}
		r = berth(t, "exec", b.id, "cat", "/proc/1/status")
		if !strings.Contains(r.stdout, "Seccomp:\t2") {
			t.Fatalf("no_new_privs=%v, the container's process has no filter:\n%s", nnp, r.stdout)
		}
	}
}

// Argument conditions reach the kernel: kill(pid, sig) is refused only
// for SIGUSR1 (masked-equal on the signal), other signals pass.
func TestSeccompArgumentConditions(t *testing.T) {
	eperm := uint(1)
	b := newBundle(t, "sh", "-c", "sleep 100 & p=$!; kill -0 $p && echo ZERO-OK; kill -USR1 $p 2>/dev/null || echo USR1-DENIED; kill -9 $p")
	b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"kill"}, Action: specs.ActErrno, ErrnoRet: &eperm,
			Args: []specs.LinuxSeccompArg{{Index: 1, Op: specs.OpMaskedEqual, Value: 0xff, ValueTwo: 10}}}},
	}
	b.spec.Process.NoNewPrivileges = true
	if r := b.run(); r.stdout != "ZERO-OK\nUSR1-DENIED\n" {
		t.Fatalf("inside: %q %q", r.stdout, r.stderr)
	}
}

func TestSeccompNotifyIsRefusedClearly(t *testing.T) {
	b := newBundle(t, "true")
	b.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow,
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	b.spec.Process.NoNewPrivileges = true
	r := b.run()
	if r.code == 0 || !strings.Contains(r.stderr, "SCMP_ACT_NOTIFY is not supported yet") {
		t.Fatalf("notify: %d %q", r.code, r.stderr)
	}
	assertGone(t, b.id)
}
