package integration

import (
	"encoding/json"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
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

// seccomp user notification, defined here as x/sys does not.
type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Nr    int32
	Arch  uint32
	IP    uint64
	Args  [6]uint64
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

const (
	seccompIoctlNotifRecv = 0xc0502100 // _IOWR('!', 0, struct seccomp_notif)
	seccompIoctlNotifSend = 0xc0182101 // _IOWR('!', 1, struct seccomp_notif_resp)
)

// SCMP_ACT_NOTIFY: the runtime hands the listener fd, with the
// container's state, to the agent at listenerPath; the agent answers
// the container's mkdir with EXDEV.
func TestSeccompNotifyHandsTheListenerToTheAgent(t *testing.T) {
	sockPath := filepath.Join(suiteDir, "seccomp-agent.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan specs.ContainerProcessState, 1)
	go func() {
		conn, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer conn.Close()
		buf, oob := make([]byte, 64<<10), make([]byte, unix.CmsgSpace(4))
		n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		var st specs.ContainerProcessState
		json.Unmarshal(buf[:n], &st)
		got <- st
		msgs, _ := unix.ParseSocketControlMessage(oob[:oobn])
		if len(msgs) != 1 {
			return
		}
		fds, _ := unix.ParseUnixRights(&msgs[0])
		fd := fds[0]
		defer unix.Close(fd)
		for {
			var req seccompNotif
			if _, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlNotifRecv, uintptr(unsafe.Pointer(&req))); e != 0 {
				return // the container is gone
			}
			resp := seccompNotifResp{ID: req.ID, Error: -int32(unix.EXDEV)}
			unix.Syscall(unix.SYS_IOCTL, uintptr(fd), seccompIoctlNotifSend, uintptr(unsafe.Pointer(&resp)))
		}
	}()
	b := newBundle(t, "sh", "-c", "mkdir /tmp/x; echo done")
	b.spec.Linux.Seccomp = &specs.LinuxSeccomp{
		DefaultAction: specs.ActAllow, ListenerPath: sockPath, ListenerMetadata: "berth-test",
		Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir", "mkdirat"}, Action: specs.ActNotify}},
	}
	r := b.run()
	if r.code != 0 || !strings.Contains(r.stderr, "Invalid cross-device link") || r.stdout != "done\n" {
		t.Fatalf("run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	st := <-got
	if st.State.ID != b.id || len(st.Fds) != 1 || st.Fds[0] != "seccompFd" || st.Metadata != "berth-test" || st.Pid == 0 {
		t.Fatalf("the agent got %+v", st)
	}
	// NOTIFY as the default action, or without a listener, is refused.
	c := newBundle(t, "true")
	c.spec.Linux.Seccomp = &specs.LinuxSeccomp{DefaultAction: specs.ActAllow, Syscalls: []specs.LinuxSyscall{{Names: []string{"mkdir"}, Action: specs.ActNotify}}}
	if r := c.run(); r.code == 0 || !strings.Contains(r.stderr, "listenerPath") {
		t.Fatalf("NOTIFY without a listener: %d %s", r.code, r.stderr)
	}
}
