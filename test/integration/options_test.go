package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPreserveFdsReachTheContainerAndNothingElse(t *testing.T) {
	b := newBundle(t, "sh", "-c", "cat <&3; ls /proc/self/fd | tr '\\n' ' '")
	b.write()
	msg := filepath.Join(b.dir, "msg")
	os.WriteFile(msg, []byte("through fd 3\n"), 0o644)
	f, err := os.Open(msg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(*runtimeBin, "--root", filepath.Join(suiteDir, "state"), "run", "--preserve-fds", "1", "--bundle", b.dir, b.id)
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	// 0-2, the preserved 3, and the directory ls itself opened.
	if !strings.HasPrefix(string(out), "through fd 3\n0 1 2 3 ") || len(strings.Fields(strings.SplitN(string(out), "\n", 2)[1])) > 5 {
		t.Fatalf("inside: %q", out)
	}
}

func TestNoPivotRunsInTheRootfs(t *testing.T) {
	b := newBundle(t, "sh", "-c", "ls /bin/busybox && echo pid=$$")
	b.write()
	r := berth(t, "run", "--no-pivot", "--bundle", b.dir, b.id)
	if r.code != 0 || !strings.Contains(r.stdout, "pid=1") {
		t.Fatalf("run --no-pivot: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestCgroupMountShowsTheContainersOwnCgroup(t *testing.T) {
	b := newBundle(t, "sh", "-c", "ls /sys/fs/cgroup/memory/memory.limit_in_bytes >/dev/null && cat /proc/self/cgroup | grep memory; touch /sys/fs/cgroup/memory/x 2>/dev/null && echo WRITABLE; true")
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "ro"}})
	r := b.run()
	if r.code != 0 || strings.TrimSpace(r.stdout) != strings.TrimSpace(grepMemory(r.stdout)) || strings.Contains(r.stdout, "WRITABLE") {
		t.Fatalf("cgroup mount: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if !strings.HasSuffix(strings.TrimSpace(r.stdout), ":memory:/") {
		t.Fatalf("cgroup namespace root is not the container's cgroup: %q", r.stdout)
	}
}

func grepMemory(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, "memory") {
			return l
		}
	}
	return ""
}

func TestReadonlyBindMountAndDomainname(t *testing.T) {
	src := filepath.Join(suiteDir, "shared-dir")
	os.MkdirAll(src, 0o755)
	defer os.RemoveAll(src)
	os.WriteFile(filepath.Join(src, "f"), []byte("host data\n"), 0o644)
	b := newBundle(t, "sh", "-c", "cat /data/f; echo x > /data/g 2>/dev/null && echo WROTE; cat /proc/sys/kernel/domainname")
	b.spec.Domainname = "example.test"
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: src, Options: []string{"rbind", "ro", "rprivate"}})
	r := b.run()
	if r.stdout != "host data\nexample.test\n" {
		t.Fatalf("inside: %q %q", r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(src, "g")); err == nil {
		t.Fatal("the container wrote through a read-only bind")
	}
}

func TestLogFileGetsTheErrorAsJSON(t *testing.T) {
	logf := filepath.Join(suiteDir, "runtime.log")
	defer os.Remove(logf)
	r := berth(t, "--log", logf, "--log-format", "json", "state", "nosuch")
	if r.code == 0 {
		t.Fatal("state of a missing container succeeded")
	}
	data, _ := os.ReadFile(logf)
	var entry map[string]string
	if err := json.Unmarshal(data, &entry); err != nil || entry["level"] != "error" || !strings.Contains(entry["msg"], "does not exist") {
		t.Fatalf("log: %q (%v)", data, err)
	}
}
