package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// engineWithBusybox is a storage root holding busybox:it, an image
// imported from the fixture.
func engineWithBusybox(t *testing.T) string {
	t.Helper()
	root := storage(t)
	busyboxLayer(t) // makes the tar
	mustEngine(t, root, "import", "-c", `CMD ["sh"]`, filepath.Join(suiteDir, "busybox-layer.tar"), "busybox:it")
	t.Cleanup(func() {
		// Whatever the test left running goes, then the check: no
		// container dir, mount or monitor remains.
		out := engine(t, root, "ps", "-a", "-q", "--no-trunc").stdout
		for _, id := range strings.Fields(out) {
			engine(t, root, "rm", "-f", id)
		}
		// Bridges and rules stay while their network exists, as
		// Docker's; this root's go with it.
		engine(t, root, "network", "prune", "-f")
	})
	return root
}

func containerDirs(root string) []string {
	ents, _ := os.ReadDir(filepath.Join(root, "containers"))
	var out []string
	for _, e := range ents {
		if e.Name() != "names" {
			out = append(out, e.Name())
		}
	}
	return out
}

// run exits with the container's code; --rm leaves nothing; a missing
// or non-executable command gives Docker's 127 and 126.
func TestEngineRunExitCodesAndRm(t *testing.T) {
	root := engineWithBusybox(t)
	r := engine(t, root, "run", "--rm", "--hostname", "box", "-e", "GREETING=hi", "busybox:it", "sh", "-c", `echo "$GREETING from $(hostname)"; echo oops >&2; exit 3`)
	if r.code != 3 || r.stdout != "hi from box\n" || r.stderr != "oops\n" {
		t.Fatalf("run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("--rm left %v", d)
	}
	if r := engine(t, root, "run", "--rm", "busybox:it", "nosuchcmd"); r.code != 127 || !strings.Contains(r.stderr, "not found") {
		t.Fatalf("missing command: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "--rm", "busybox:it", "/etc/passwd"); r.code != 126 {
		t.Fatalf("non-executable command: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "--rm", "nosuch:image"); r.code != 125 {
		t.Fatalf("missing image: %d %q", r.code, r.stderr)
	}
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("failed runs left %v", d)
	}
}

// run -d, ps, logs, exec, inspect, stop (the process traps TERM), rm.
func TestEngineDetachedLifecycle(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "web", "busybox:it", "sh", "-c",
		`trap "echo bye; exit 0" TERM; echo ready; while :; do sleep 0.05; done`))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	waitFor(t, func() bool { return strings.Contains(engine(t, root, "logs", "web").stdout, "ready") })
	if ps := mustEngine(t, root, "ps"); !strings.Contains(ps, id[:12]) || !strings.Contains(ps, "Up ") || !strings.Contains(ps, "web") {
		t.Fatalf("ps:\n%s", ps)
	}
	if r := engine(t, root, "exec", "-e", "X=1", "web", "sh", "-c", "echo $X $(hostname); exit 4"); r.code != 4 || r.stdout != "1 "+id[:12]+"\n" {
		t.Fatalf("exec: %d %q %q", r.code, r.stdout, r.stderr)
	}
	st := strings.Fields(mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Pid}} {{.Name}}", "web"))
	if len(st) != 3 || st[0] != "running" || st[2] != "/web" {
		t.Fatalf("inspect: %v", st)
	}
	pid, _ := strconv.Atoi(st[1])
	if hn, _ := os.Readlink("/proc/" + st[1] + "/ns/uts"); pid == 0 || hn == "" {
		t.Fatalf("inspect pid %s is not a live process", st[1])
	}
	mustEngine(t, root, "stop", "web")
	if got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "web")); got != "exited 0" {
		t.Fatalf("after stop: %s", got)
	}
	if logs := mustEngine(t, root, "logs", "web"); logs != "ready\nbye\n" {
		t.Fatalf("logs: %q", logs)
	}
	if r := engine(t, root, "run", "-d", "--name", "web", "busybox:it", "true"); r.code == 0 || !strings.Contains(r.stderr, "already in use") {
		t.Fatalf("duplicate name: %d %s", r.code, r.stderr)
	}
	mustEngine(t, root, "rm", "web")
	mustEngine(t, root, "run", "--rm", "--name", "web", "busybox:it", "true")
}

// stop escalates to SIGKILL when the stop signal is ignored: exit 137.
func TestEngineStopEscalatesToKill(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "stubborn", "busybox:it", "sh", "-c", `trap "" TERM; echo up; while :; do sleep 0.05; done`)
	waitFor(t, func() bool { return strings.Contains(engine(t, root, "logs", "stubborn").stdout, "up") })
	mustEngine(t, root, "stop", "-t", "1", "stubborn")
	if got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.ExitCode}}", "stubborn")); got != "137" {
		t.Fatalf("exit code after escalation: %s", got)
	}
	if r := engine(t, root, "rm", "busybox:it"); r.code == 0 {
		t.Fatal("rm of an image name as a container succeeded")
	}
	if r := engine(t, root, "rmi", "busybox:it"); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("rmi of an image a container uses: %d %s", r.code, r.stderr)
	}
}

// Two run --name x at once: exactly one wins.
func TestEngineConcurrentNamesOneWins(t *testing.T) {
	root := engineWithBusybox(t)
	var wg sync.WaitGroup
	res := make([]result, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = engine(t, root, "run", "-d", "--name", "x", "busybox:it", "sleep", "100")
		}()
	}
	wg.Wait()
	won := 0
	for _, r := range res {
		if r.code == 0 {
			won++
		} else if !strings.Contains(r.stderr, "already in use") {
			t.Errorf("loser's error: %s", r.stderr)
		}
	}
	if won != 1 {
		t.Fatalf("%d runs won the name", won)
	}
}

// kill -9 of the monitor: the next command reports the container as
// exited and cleans up what it left; rm and a new run work.
func TestEngineMonitorKilled(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "busybox:it", "sleep", "100"))
	b, err := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		State struct{ MonitorPid, Pid int }
	}
	json.Unmarshal(b, &c.State)
	if c.State.MonitorPid == 0 {
		t.Fatal("no monitor pid recorded")
	}
	syscall.Kill(c.State.MonitorPid, syscall.SIGKILL) // a process this test started
	for i := 0; i < 100 && syscall.Kill(c.State.MonitorPid, 0) == nil; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if ps := mustEngine(t, root, "ps", "-a"); !strings.Contains(ps, "Exited") {
		t.Fatalf("ps after the monitor died:\n%s", ps)
	}
	// The container's init was the monitor's child; now it is ours to reap.
	waitFor(t, func() bool { reapZombies(); return syscall.Kill(c.State.Pid, 0) != nil })
	mustEngine(t, root, "rm", id)
	mustEngine(t, root, "run", "--rm", "busybox:it", "true")
}

// --restart on-failure:2 restarts a failing container twice, then
// leaves it exited; stop ends an always-restarting one for good.
func TestEngineRestartPolicy(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox:it", "sh", "-c", "echo try; exit 7")
	// wait returns at the first exit, as Docker's does with a restart
	// policy; the retries go on after it.
	if out := mustEngine(t, root, "wait", "flaky"); out != "7\n" {
		t.Fatalf("wait: %q", out)
	}
	var got string
	waitFor(t, func() bool {
		got = strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.RestartCount}} {{.State.ExitCode}} {{.State.Status}} {{.HostConfig.RestartPolicy.Name}}", "flaky"))
		return got == "2 7 exited on-failure"
	})
	if logs := mustEngine(t, root, "logs", "flaky"); logs != "try\ntry\ntry\n" {
		t.Fatalf("logs of three runs: %q", logs)
	}
	mustEngine(t, root, "run", "-d", "--name", "forever", "--restart", "always", "busybox:it", "sh", "-c", "sleep 0.05")
	waitFor(t, func() bool {
		n, _ := strconv.Atoi(strings.TrimSpace(engine(t, root, "inspect", "-f", "{{.RestartCount}}", "forever").stdout))
		return n >= 2
	})
	mustEngine(t, root, "stop", "-t", "1", "forever")
	if st := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}}", "forever")); st != "exited" {
		t.Fatalf("after stop: %s", st)
	}
	if r := engine(t, root, "run", "--rm", "--restart", "always", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "conflicting options") {
		t.Fatalf("--rm with --restart: %d %s", r.code, r.stderr)
	}
}

// -v binds a host directory (ro refuses writes), --tmpfs mounts a
// tmpfs; a bad -v fails create and leaves nothing.
func TestEngineVolumesAndTmpfs(t *testing.T) {
	root := engineWithBusybox(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	r := engine(t, root, "run", "--rm", "-v", host+":/data", "-v", host+":/ro:ro", "--tmpfs", "/scratch:size=1m", "busybox:it", "sh", "-c",
		`cat /data/in; echo out > /data/out; touch /ro/x 2>/dev/null || echo ro-refused; grep -c " /scratch tmpfs" /proc/mounts`)
	if r.code != 0 || r.stdout != "from host\nro-refused\n1\n" {
		t.Fatalf("run: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "out\n" {
		t.Fatal("the write through the bind did not reach the host")
	}
	for _, bad := range []string{"./relative:/x", ":/x", host + ":rel", host + ":/x:bogus"} {
		if r := engine(t, root, "create", "-v", bad, "busybox:it"); r.code != 125 {
			t.Errorf("-v %s: %d %s", bad, r.code, r.stderr)
		}
	}
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("bad creates left %v", d)
	}
	// -v makes a missing host directory, as Docker's; --mount refuses.
	made := filepath.Join(host, "made", "here")
	if r := engine(t, root, "run", "--rm", "-v", made+":/m", "busybox:it", "touch", "/m/f"); r.code != 0 {
		t.Fatalf("-v of a missing host directory: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(made, "f")); err != nil {
		t.Fatalf("the made directory: %v", err)
	}
	if r := engine(t, root, "create", "--mount", "type=bind,source="+filepath.Join(host, "absent")+",target=/m", "busybox:it"); r.code != 125 {
		t.Fatalf("--mount of a missing source: %d %q", r.code, r.stderr)
	}
}

// An OOM kill shows as OOMKilled and exit 137.
func TestEngineOOMKill(t *testing.T) {
	root := engineWithBusybox(t)
	r := engine(t, root, "run", "--name", "hog", "-m", "8m", "busybox:it", "sh", "-c", `x=$(head -c 64000000 /dev/zero | tr '\0' a); echo survived`)
	if r.code != 137 {
		t.Fatalf("memory hog: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.OOMKilled}} {{.State.ExitCode}}", "hog")); got != "true 137" {
		t.Fatalf("inspect: %s", got)
	}
}

// 200 run --rm cycles leave no container, mount, monitor or cgroup.
func TestEngineChurn(t *testing.T) {
	root := engineWithBusybox(t)
	for i := 0; i < 200; i++ {
		if r := engine(t, root, "run", "--rm", "busybox:it", "true"); r.code != 0 {
			t.Fatalf("cycle %d: %d %s", i, r.code, r.stderr)
		}
	}
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("churn left %v", d)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "run", "runtime"))
	for _, e := range ents {
		if e.Name() != ".lock" && e.Name() != "seccomp@cache" {
			t.Errorf("runtime state left: %s", e.Name())
		}
	}
}

// pause/unpause, rename, top, stats, export, cp, container prune.
func TestEngineContainerTools(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "tools", "busybox:it", "sh", "-c", "echo data > /made; sleep 1000")
	waitFor(t, func() bool { return engine(t, root, "exec", "tools", "test", "-f", "/made").code == 0 })
	mustEngine(t, root, "pause", "tools")
	if r := engine(t, root, "exec", "tools", "true"); r.code == 0 {
		t.Fatal("exec into a paused container worked")
	}
	mustEngine(t, root, "unpause", "tools")
	mustEngine(t, root, "rename", "tools", "tools2")
	if r := engine(t, root, "inspect", "tools"); r.code == 0 {
		t.Fatal("the old name still resolves")
	}
	if top := mustEngine(t, root, "top", "tools2"); !strings.Contains(top, "sleep 1000") || !strings.HasPrefix(top, "UID") {
		t.Fatalf("top:\n%s", top)
	}
	if st := mustEngine(t, root, "stats", "--no-stream", "tools2"); !strings.Contains(st, "tools2") || !strings.Contains(st, "MEM USAGE") {
		t.Fatalf("stats:\n%s", st)
	}
	// cp both ways.
	host := t.TempDir()
	mustEngine(t, root, "cp", "tools2:/made", filepath.Join(host, "made"))
	if b, _ := os.ReadFile(filepath.Join(host, "made")); string(b) != "data\n" {
		t.Fatalf("cp out: %q", b)
	}
	os.WriteFile(filepath.Join(host, "in"), []byte("in\n"), 0o644)
	mustEngine(t, root, "cp", filepath.Join(host, "in"), "tools2:/tmp/")
	if r := engine(t, root, "exec", "tools2", "cat", "/tmp/in"); r.stdout != "in\n" {
		t.Fatalf("cp in: %q %q", r.stdout, r.stderr)
	}
	// export of the running container has the image's files and the
	// container's own.
	tarPath := filepath.Join(host, "export.tar")
	mustEngine(t, root, "export", "-o", tarPath, "tools2")
	out, err := exec.Command("tar", "-tf", tarPath).Output()
	if err != nil || !strings.Contains(string(out), "bin/busybox") || !strings.Contains(string(out), "made") {
		t.Fatalf("export: %v %d bytes", err, len(out))
	}
	mustEngine(t, root, "rm", "-f", "tools2")
	mustEngine(t, root, "create", "--name", "stopped", "busybox:it", "true")
	if out := mustEngine(t, root, "container", "prune", "-f"); !strings.Contains(out, "Deleted Containers") {
		t.Fatalf("prune: %s", out)
	}
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("prune left %v", d)
	}
}

// cp cannot be led out of the container by its symlinks (CVE-2018-15664
// class): neither a read of a host file nor a write into a host dir.
func TestEngineCpRefusesSymlinksOut(t *testing.T) {
	root := engineWithBusybox(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "secret"), []byte("host secret\n"), 0o600)
	mustEngine(t, root, "run", "-d", "--name", "evil", "busybox:it", "sh", "-c", "ln -s "+host+" /leak; ln -s / /root-link; sleep 1000")
	waitFor(t, func() bool { return engine(t, root, "exec", "evil", "test", "-L", "/leak").code == 0 })
	out := filepath.Join(t.TempDir(), "got")
	engine(t, root, "cp", "evil:/leak/secret", out)
	if b, _ := os.ReadFile(out); strings.Contains(string(b), "host secret") {
		t.Fatal("cp read a host file through a container symlink")
	}
	src := filepath.Join(t.TempDir(), "planted")
	os.WriteFile(src, []byte("x"), 0o644)
	engine(t, root, "cp", src, "evil:/leak/planted")
	engine(t, root, "cp", src, "evil:/root-link"+host+"/planted2")
	for _, f := range []string{"planted", "planted2"} {
		if _, err := os.Stat(filepath.Join(host, f)); err == nil {
			t.Fatalf("cp wrote %s into a host directory through a container symlink", f)
		}
	}
}
