package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// podmanIn is podman with its state under dir, on the given runtime.
func podmanIn(dir, runtime string) func(args ...string) (string, error) {
	p := []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file",
		"--runtime", runtime}
	return func(args ...string) (string, error) {
		out, err := exec.Command("podman", append(append([]string(nil), p...), args...)...).CombinedOutput()
		return string(out), err
	}
}

// resetPodman removes what podman made: its containers, its storage,
// and its parent cgroups (with conmon's below them; conmon may still be
// exiting, so it gets a moment).
func resetPodman(podman func(args ...string) (string, error)) {
	podman("rm", "-a", "-f")
	podman("system", "reset", "-f")
	for i := 0; i < 100; i++ {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent")
		if len(dirs) == 0 {
			break
		}
		for _, d := range dirs {
			syscall.Rmdir(filepath.Join(d, "conmon"))
			syscall.Rmdir(d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Podman, through conmon, drives berth-runtime as it drives runc: the
// runc command line is the contract.
func TestPodmanRunsContainersWithBerthRuntime(t *testing.T) {
	podman := podmanIn(filepath.Join(suiteDir, "podman"), *runtimeBin)
	// Podman calls the runtime without --root and with a cleaned
	// environment: its containers use the default state root. Remove it
	// afterwards if this test made it.
	_, err := os.Stat("/run/berth")
	rootExisted := err == nil
	defer func() {
		resetPodman(podman)
		if !rootExisted {
			// Only the lock and the seccomp cache may be left: no container.
			ents, _ := os.ReadDir("/run/berth")
			var containers int
			for _, e := range ents {
				if e.Name() != ".lock" && e.Name() != "seccomp@cache" {
					containers++
				}
			}
			if containers == 0 {
				os.RemoveAll("/run/berth")
			}
		}
	}()
	tar := filepath.Join(suiteDir, "busybox.tar")
	if out, err := exec.Command("tar", "-C", *busybox, "-cf", tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	defer os.Remove(tar)
	if out, err := podman("import", "-q", tar, "localhost/berth-it-busybox"); err != nil {
		t.Fatalf("podman import: %v %s", err, out)
	}
	limits := []string{"--network", "none", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096"}
	out, err := podman(append(append([]string{"run", "--rm"}, limits...), "localhost/berth-it-busybox", "sh", "-c", "echo pid=$$; cat /proc/1/cmdline")...)
	if err != nil || !strings.HasPrefix(out, "pid=1\n") {
		t.Fatalf("podman run: %v %q", err, out)
	}
	id, err := podman(append(append([]string{"run", "-d"}, limits...), "localhost/berth-it-busybox", "sleep", "1000")...)
	if err != nil {
		t.Fatalf("podman run -d: %v %s", err, id)
	}
	id = strings.TrimSpace(id)
	if out, err := podman("inspect", "--format", "{{.State.Status}}", id); err != nil || strings.TrimSpace(out) != "running" {
		t.Fatalf("inspect: %v %q", err, out)
	}
	if out, err := podman("rm", "-f", "--time", "0", id); err != nil {
		t.Fatalf("podman rm -f: %v %s", err, out)
	}
}
