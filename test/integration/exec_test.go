package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// runningBundle starts a sleeping container and returns it with its pid.
func runningBundle(t *testing.T, mutate func(b *bundle)) (*bundle, int) {
	t.Helper()
	b := newBundle(t, "sleep", "1000")
	if mutate != nil {
		mutate(b)
	}
	pid := b.create()
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatalf("start: %s", r.stderr)
	}
	return b, pid
}

func TestExecSeesOnlyTheContainersProcesses(t *testing.T) {
	b, _ := runningBundle(t, nil)
	r := berth(t, "exec", b.id, "ps", "-o", "pid,comm")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || len(lines) != 3 || !strings.HasPrefix(strings.TrimSpace(lines[1]), "1 ") || !strings.Contains(lines[2], "ps") {
		t.Fatalf("exec ps: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := berth(t, "exec", b.id, "hostname"); strings.TrimSpace(r.stdout) != "box" {
		t.Fatalf("exec hostname: %q %q", r.stdout, r.stderr)
	}
}

func TestExecExitCodesPassThrough(t *testing.T) {
	b, _ := runningBundle(t, nil)
	if r := berth(t, "exec", b.id, "sh", "-c", "exit 42"); r.code != 42 {
		t.Fatalf("exit code %d (%s)", r.code, r.stderr)
	}
	// An exec that did not run is runc's 255, whatever stopped it.
	r := berth(t, "exec", b.id, "nosuch")
	if r.code != 255 || strings.TrimSpace(r.stderr) != `berth-runtime: exec failed: exec: "nosuch": executable file not found in $PATH` {
		t.Fatalf("missing program: %d %q", r.code, r.stderr)
	}
}

func TestExecIntoStoppedOrMissingContainerFails(t *testing.T) {
	r := berth(t, "exec", "no-such-container", "true")
	if r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "does not exist") {
		t.Fatalf("missing: %d %q", r.code, r.stderr)
	}
	b := newBundle(t, "true")
	b.create()
	berth(t, "start", b.id)
	waitFor(t, func() bool { reapZombies(); return b.state().Status == "stopped" })
	r = berth(t, "exec", b.id, "true")
	if r.code == 0 || !strings.Contains(r.stderr, "it is stopped") {
		t.Fatalf("stopped: %d %q", r.code, r.stderr)
	}
}

// Every namespace of the exec'd process is the container's, user, cgroup
// and time included, and it sits in the container's cgroup.
func TestExecJoinsEveryNamespaceAndTheCgroup(t *testing.T) {
	b, pid := runningBundle(t, func(b *bundle) {
		b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "user"}, specs.LinuxNamespace{Type: "time"})
		b.spec.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
		b.spec.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: 1000, Size: 1}}
	})
	pidFile := filepath.Join(b.dir, "exec.pid")
	if r := berth(t, "exec", "--detach", "--pid-file", pidFile, b.id, "sleep", "1000"); r.code != 0 {
		t.Fatalf("exec -d: %s", r.stderr)
	}
	data, _ := os.ReadFile(pidFile)
	epid, err := strconv.Atoi(string(data))
	if err != nil {
		t.Fatalf("pid file %q", data)
	}
	defer reapZombies()
	for _, ns := range []string{"user", "mnt", "pid", "net", "ipc", "uts", "cgroup", "time"} {
		if nsLink(t, epid, ns) != nsLink(t, pid, ns) {
			t.Errorf("%s namespace of exec %d differs from the container's", ns, epid)
		}
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", epid))
	if !strings.Contains(string(status), "Uid:\t1000\t") {
		t.Errorf("host sees %q", grepLine(string(status), "Uid:"))
	}
	cg, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", epid))
	if !strings.Contains(string(cg), "memory:"+b.spec.Linux.CgroupsPath) {
		t.Errorf("exec not in the container's cgroup:\n%s", cg)
	}
	if r := berth(t, "exec", b.id, "id", "-u"); strings.TrimSpace(r.stdout) != "0" {
		t.Errorf("exec id -u inside: %q %q", r.stdout, r.stderr)
	}
}

func TestExecProcessAttributesFromFlags(t *testing.T) {
	b, _ := runningBundle(t, nil)
	r := berth(t, "exec", "--user", "1234:5678", "--additional-gids", "11", "--cwd", "/tmp", "--env", "GREETING=hi", "--cap", "CAP_NET_RAW",
		b.id, "sh", "-c", "id -u; id -G; pwd; echo $GREETING; grep CapEff /proc/self/status")
	want := "1234\n5678 11\n/tmp\nhi\n"
	if r.code != 0 || !strings.HasPrefix(r.stdout, want) {
		t.Fatalf("got %q (%s)", r.stdout, r.stderr)
	}
	if r := berth(t, "exec", "--apparmor", "x", b.id, "true"); r.code == 0 || !strings.Contains(r.stderr, "not supported") {
		t.Fatalf("--apparmor: %d %q", r.code, r.stderr)
	}
}

func TestExecWithATerminalThroughTheConsoleSocket(t *testing.T) {
	b, _ := runningBundle(t, nil)
	sockPath := filepath.Join(b.dir, "exec-console.sock")
	master := acceptConsole(t, sockPath)
	r := berth(t, "exec", "--tty", "--console-socket", sockPath, "--detach", b.id, "sh", "-c", "tty; sleep 100")
	if r.code != 0 {
		t.Fatalf("exec -t: %s", r.stderr)
	}
	m := <-master
	if m == nil {
		t.Fatal("no pty master received")
	}
	defer m.Close()
	buf := make([]byte, 256)
	n, err := m.Read(buf)
	if err != nil || !strings.HasPrefix(string(buf[:n]), "/dev/pts/") {
		t.Fatalf("tty inside: %q %v", buf[:n], err)
	}
}
