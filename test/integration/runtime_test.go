package integration

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/console"
)

func TestRunProcessIsPID1WithItsHostname(t *testing.T) {
	b := newBundle(t, "sh", "-c", "echo pid=$$ host=$(hostname)")
	r := b.run()
	if r.code != 0 || strings.TrimSpace(r.stdout) != "pid=1 host=box" {
		t.Fatalf("run = %d %q %q", r.code, r.stdout, r.stderr)
	}
	assertGone(t, b.id)
}

func TestRunExitCodePassesThrough(t *testing.T) {
	b := newBundle(t, "sh", "-c", "exit 42")
	if r := b.run(); r.code != 42 {
		t.Fatalf("exit code = %d, want 42 (%s)", r.code, r.stderr)
	}
}

func TestProcShowsOnlyContainerProcesses(t *testing.T) {
	b := newBundle(t, "sh", "-c", "cd /proc && echo [0-9]*")
	r := b.run()
	pids := strings.Fields(r.stdout)
	if r.code != 0 || len(pids) == 0 || len(pids) > 2 || pids[0] != "1" {
		t.Fatalf("/proc pids = %q (%s)", r.stdout, r.stderr)
	}
}

func TestNewNamespacesDifferFromHost(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
	pid := b.create()
	for _, ns := range []string{"pid", "net", "ipc", "uts", "mnt", "cgroup", "time"} {
		if nsLink(t, pid, ns) == nsLink(t, os.Getpid(), ns) && ns != "pid" && ns != "time" {
			t.Errorf("%s namespace is the host's", ns)
		}
	}
	// pid and time: init itself sits in the new ones only after execve
	// (time) or is PID 1 there (pid).
	if berth(t, "start", b.id).code != 0 {
		t.Fatal("start failed")
	}
	for _, ns := range []string{"pid", "time"} {
		if nsLink(t, pid, ns) == nsLink(t, os.Getpid(), ns) {
			t.Errorf("%s namespace is the host's", ns)
		}
	}
}

func TestJoinedNamespacesEqualTheTarget(t *testing.T) {
	target := newBundle(t, "sleep", "100")
	tpid := target.create()
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Namespaces = []specs.LinuxNamespace{
		{Type: "pid"}, {Type: "mount"},
		{Type: "network", Path: fmt.Sprintf("/proc/%d/ns/net", tpid)},
		{Type: "ipc", Path: fmt.Sprintf("/proc/%d/ns/ipc", tpid)},
		{Type: "uts", Path: fmt.Sprintf("/proc/%d/ns/uts", tpid)},
	}
	b.spec.Hostname = ""
	pid := b.create()
	for _, ns := range []string{"net", "ipc", "uts"} {
		if nsLink(t, pid, ns) != nsLink(t, tpid, ns) {
			t.Errorf("%s namespace was not joined", ns)
		}
	}
	if nsLink(t, pid, "mnt") == nsLink(t, tpid, "mnt") {
		t.Error("mount namespace should be new")
	}
}

func TestUserNamespaceMapsRootToHostUID1000(t *testing.T) {
	b := newBundle(t, "sh", "-c", "id -u; sleep 100")
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
	b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	b.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	out := filepath.Join(b.dir, "out")
	f, _ := os.Create(out)
	f.Close()
	os.Chmod(out, 0o666)
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/tmp/out", Type: "bind", Source: out, Options: []string{"bind"}})
	b.spec.Process.Args = []string{"sh", "-c", "id -u > /tmp/out; cat /proc/self/uid_map >> /tmp/out; sleep 100"}
	pid := b.create()
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(status), "Uid:\t1000\t1000\t1000\t1000") {
		t.Errorf("host sees %q", grepLine(string(status), "Uid:"))
	}
	waitFor(t, func() bool { d, _ := os.ReadFile(out); return strings.Count(string(d), "\n") >= 2 })
	d, _ := os.ReadFile(out)
	lines := strings.Split(string(d), "\n")
	if lines[0] != "0" || strings.Join(strings.Fields(lines[1]), " ") != "0 1000 1" {
		t.Errorf("inside: %q", d)
	}
}

func TestJoinUserNamespaceByPath(t *testing.T) {
	owner := newBundle(t, "sleep", "100")
	owner.spec.Linux.Namespaces = append(owner.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "user"})
	owner.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 100}}
	owner.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 2000, Size: 100}}
	opid := owner.create()
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces,
		specs.LinuxNamespace{Type: "user", Path: fmt.Sprintf("/proc/%d/ns/user", opid)})
	pid := b.create()
	if nsLink(t, pid, "user") != nsLink(t, opid, "user") {
		t.Fatal("user namespace was not joined")
	}
	if nsLink(t, pid, "pid") == nsLink(t, opid, "pid") || nsLink(t, pid, "mnt") == nsLink(t, opid, "mnt") {
		t.Fatal("pid and mount namespaces should be new")
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if !strings.Contains(string(status), "Uid:\t2000\t") {
		t.Errorf("host sees %q", grepLine(string(status), "Uid:"))
	}
	if berth(t, "start", b.id).code != 0 {
		t.Fatal("start failed")
	}
}

func TestMaskedPathsAreUnreadableAndProcSysReadOnly(t *testing.T) {
	b := newBundle(t, "sh", "-c", "wc -c < /proc/timer_list; ls /sys/firmware | wc -l; echo 1 > /proc/sys/kernel/domainname && echo WROTE")
	r := b.run()
	f := strings.Fields(r.stdout)
	if len(f) < 2 || f[0] != "0" || f[1] != "0" || strings.Contains(r.stdout, "WROTE") {
		t.Fatalf("masked/readonly: %q %q", r.stdout, r.stderr)
	}
}

func TestReadonlyRootRefusesWrites(t *testing.T) {
	b := newBundle(t, "sh", "-c", "touch /newfile && echo WROTE; touch /tmp/ok && echo TMP")
	r := b.run()
	if strings.Contains(r.stdout, "WROTE") || !strings.Contains(r.stdout, "TMP") {
		t.Fatalf("read-only root: %q %q", r.stdout, r.stderr)
	}
}

func TestLifecycleStatusesAndErrors(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	pid := b.create()
	if s := b.state(); s.Status != "created" || s.Pid != pid || s.Bundle != b.dir {
		t.Fatalf("after create: %+v", s)
	}
	if r := berth(t, "delete", b.id); r.code == 0 {
		t.Fatal("delete of a created container without --force succeeded")
	}
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	if s := b.state(); s.Status != "running" {
		t.Fatalf("after start: %s", s.Status)
	}
	if r := berth(t, "start", b.id); r.code == 0 || !strings.Contains(r.stderr, "not created") {
		t.Fatalf("second start: %d %q", r.code, r.stderr)
	}
	if r := berth(t, "delete", b.id); r.code == 0 || !strings.Contains(r.stderr, "not stopped") {
		t.Fatalf("delete of running: %d %q", r.code, r.stderr)
	}
	if r := berth(t, "kill", b.id, "KILL"); r.code != 0 {
		t.Fatalf("kill: %s", r.stderr)
	}
	waitFor(t, func() bool { reapZombies(); return b.state().Status == "stopped" })
	if r := berth(t, "kill", b.id); r.code == 0 {
		t.Fatal("kill of a stopped container succeeded")
	}
	r := berth(t, "list", "--format", "json")
	var rows []map[string]any
	if json.Unmarshal([]byte(r.stdout), &rows); !strings.Contains(r.stdout, b.id) {
		t.Fatalf("list: %s", r.stdout)
	}
	if r := berth(t, "delete", b.id); r.code != 0 {
		t.Fatalf("delete: %s", r.stderr)
	}
	assertGone(t, b.id)
	if r := berth(t, "state", b.id); r.code == 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("state after delete: %d %q", r.code, r.stderr)
	}
}

func TestKillAllSignalsEveryProcess(t *testing.T) {
	b := newBundle(t, "sh", "-c", "sleep 100 & sleep 100 & wait")
	b.create()
	berth(t, "start", b.id)
	if r := berth(t, "kill", "--all", b.id, "9"); r.code != 0 {
		t.Fatalf("kill --all: %s", r.stderr)
	}
	waitFor(t, func() bool { reapZombies(); return b.state().Status == "stopped" })
}

func TestPidFileAndCgroupPlacement(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	b.write()
	pidFile := filepath.Join(b.dir, "pid")
	if r := berth(t, "create", "--bundle", b.dir, "--pid-file", pidFile, b.id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	data, _ := os.ReadFile(pidFile)
	pid, _ := strconv.Atoi(string(data))
	if pid != b.state().Pid {
		t.Fatalf("pid file %q, state pid %d", data, b.state().Pid)
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if !strings.Contains(string(cg), "memory:"+b.spec.Linux.CgroupsPath) {
		t.Fatalf("init not in its cgroup:\n%s", cg)
	}
}

func TestHooksRunInOrderWithState(t *testing.T) {
	b := newBundle(t, "true")
	log := filepath.Join(b.dir, "hooks.log")
	hook := func(name string) specs.Hook {
		return specs.Hook{Path: "/bin/sh", Args: []string{"sh", "-c", "echo " + name + " $(cat | grep -c '\"id\"') >> " + log}}
	}
	b.spec.Hooks = &specs.Hooks{
		CreateRuntime: []specs.Hook{hook("createRuntime")},
		Poststart:     []specs.Hook{hook("poststart")},
		Poststop:      []specs.Hook{hook("poststop")},
	}
	if r := b.run(); r.code != 0 {
		t.Fatal(r.stderr)
	}
	data, _ := os.ReadFile(log)
	if string(data) != "createRuntime 1\npoststart 1\npoststop 1\n" {
		t.Fatalf("hooks log:\n%s", data)
	}
}

func TestFailingCreateRuntimeHookLeavesNothing(t *testing.T) {
	b := newBundle(t, "true")
	b.spec.Hooks = &specs.Hooks{CreateRuntime: []specs.Hook{{Path: "/bin/false", Args: []string{"false"}}}}
	b.write()
	r := berth(t, "create", "--bundle", b.dir, b.id)
	if r.code == 0 || !strings.Contains(r.stderr, "error running hook #0 (createRuntime") {
		t.Fatalf("create = %d %q", r.code, r.stderr)
	}
	assertGone(t, b.id)
}

func TestConsoleSocketReceivesThePtyMaster(t *testing.T) {
	b := newBundle(t, "sh", "-c", "tty; test -t 0 && echo STDIN-IS-TTY; sleep 100")
	b.spec.Process.Terminal = true
	b.spec.Process.ConsoleSize = &specs.Box{Height: 30, Width: 100}
	b.write()
	sockPath := filepath.Join(b.dir, "console.sock")
	got := acceptConsole(t, sockPath)
	if r := berth(t, "create", "--bundle", b.dir, "--console-socket", sockPath, b.id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	master := <-got
	if master == nil {
		t.Fatal("no pty master received")
	}
	defer master.Close()
	ws, err := unix.IoctlGetWinsize(int(master.Fd()), unix.TIOCGWINSZ)
	if err != nil || ws.Row != 30 || ws.Col != 100 {
		t.Errorf("console size = %+v, %v", ws, err)
	}
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	buf := make([]byte, 4096)
	var out string
	var rerr error
	for !strings.Contains(out, "STDIN-IS-TTY") {
		n, err := master.Read(buf)
		if err != nil {
			rerr = err
			break
		}
		out += string(buf[:n])
	}
	if !strings.Contains(out, "/dev/pts/0") || !strings.Contains(out, "STDIN-IS-TTY") {
		t.Fatalf("console output %q (read: %v)", out, rerr)
	}
}

func TestTimeNamespaceOffsets(t *testing.T) {
	b := newBundle(t, "cut", "-d.", "-f1", "/proc/uptime")
	b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "time"})
	b.spec.Linux.TimeOffsets = map[string]specs.LinuxTimeOffset{"boottime": {Secs: 86400 * 365}}
	r := b.run()
	up, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	if err != nil || up < 86400*365 {
		t.Fatalf("uptime inside = %q %q", r.stdout, r.stderr)
	}
}

func TestProcessAttributesApply(t *testing.T) {
	b := newBundle(t, "sh", "-c", "id -u; id -g; id -G; ulimit -n; cat /proc/self/oom_score_adj; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status; umask; pwd")
	b.spec.Process.User = specs.User{UID: 1234, GID: 5678, AdditionalGids: []uint32{11, 12}}
	b.spec.Process.Rlimits = []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Soft: 321, Hard: 654}}
	adj := 123
	b.spec.Process.OOMScoreAdj = &adj
	umask := uint32(0o027)
	b.spec.Process.User.Umask = &umask
	b.spec.Process.Cwd = "/tmp"
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{"CAP_KILL"}, Effective: []string{"CAP_KILL"}, Permitted: []string{"CAP_KILL"},
		Inheritable: []string{"CAP_KILL"}, Ambient: []string{"CAP_KILL"},
	}
	r := b.run()
	want := "1234\n5678\n5678 11 12\n321\n123\nCapEff:\t0000000000000020\nNoNewPrivs:\t1\n0027\n/tmp\n"
	if r.stdout != want {
		t.Fatalf("got\n%s\nwant\n%s\nstderr %s", r.stdout, want, r.stderr)
	}
}

func TestSysctlAndDevices(t *testing.T) {
	b := newBundle(t, "sh", "-c", "cat /proc/sys/net/ipv4/ip_forward; ls -l /dev/null /dev/fuse-like | tr -s ' ' | cut -d' ' -f1,5,6")
	b.spec.Linux.ReadonlyPaths = nil
	b.spec.Linux.Sysctl = map[string]string{"net.ipv4.ip_forward": "1"}
	mode := os.FileMode(0o600)
	b.spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse-like", Type: "c", Major: 10, Minor: 229, FileMode: &mode}}
	r := b.run()
	want := "1\ncrw------- 10, 229\ncrw-rw-rw- 1, 3\n"
	if r.stdout != want {
		t.Fatalf("got %q want %q (%s)", r.stdout, want, r.stderr)
	}
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		exec.Command("sleep", "0.01").Run()
	}
	t.Fatal("condition not met in 5s")
}

// While init runs our binary inside the container, other processes there
// must not be able to open its /proc/PID/exe (CVE-2019-5736): it is not
// dumpable until it executes the user's program.
func TestInitIsNotDumpableBeforeExec(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	pid := b.create()
	if dumpable(t, pid) {
		t.Fatalf("init %d is dumpable while it runs berth's binary", pid)
	}
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	// After execve the user's process is dumpable again: the check works.
	if !dumpable(t, pid) {
		t.Fatalf("the container's process %d is not dumpable after exec", pid)
	}
}

// dumpable reads /proc/PID/exe as root without CAP_SYS_PTRACE: allowed
// for a dumpable process of the same uid, denied for a non-dumpable one.
func dumpable(t *testing.T, pid int) bool {
	t.Helper()
	cmd := exec.Command("setpriv", "--bounding-set", "-sys_ptrace", "readlink", fmt.Sprintf("/proc/%d/exe", pid))
	return cmd.Run() == nil
}

// acceptConsole listens on a console socket and delivers the pty master
// that the runtime sends (nil on failure).
func acceptConsole(t *testing.T, sockPath string) chan *os.File {
	t.Helper()
	l, err := net.Listen("unix", sockPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	got := make(chan *os.File, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- nil
			return
		}
		f, _ := c.(*net.UnixConn).File()
		c.Close()
		m, err := console.RecvFd(f)
		f.Close()
		if err != nil {
			got <- nil
			return
		}
		got <- m
	}()
	return got
}

// TestRuntimeQuickProcessesStartInParallel runs many /bin/true
// containers 8 at a time: a process that passes the exec fifo, runs and
// exits before start reads the fifo again is started, not reported dead
// (start once said "its init has exited" for one run in a few hundred).
func TestRuntimeQuickProcessesStartInParallel(t *testing.T) {
	var bundles []*bundle
	for range 48 {
		b := newBundle(t, "true")
		b.write()
		bundles = append(bundles, b)
	}
	work := make(chan *bundle)
	var mu sync.Mutex
	var failed []string
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for b := range work {
				if r := berth(t, "run", "--bundle", b.dir, b.id); r.code != 0 {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("%s: %d %s", b.id, r.code, r.stderr))
					mu.Unlock()
				}
			}
		}()
	}
	for _, b := range bundles {
		work <- b
	}
	close(work)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d runs failed:\n%s", len(failed), len(bundles), strings.Join(failed, "\n"))
	}
}
