// Package enginetest drives the engine's contract directly, in one
// long-lived process, as a server would: containers, exec sessions,
// logs, waits, images, networks and volumes. Monitors and exec sessions
// run from the berth binary (-berth); this process must collect no
// zombie and own no container. The cases take a Backend, so that they
// can run through `berth serve` once it exists. Root only; the suite
// ends with its own leak check over processes, mounts, zombies and the cgroups it made.
package enginetest

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/test/leakcheck"
)

var (
	berthBin = flag.String("berth", "", "berth binary (built when empty)")
	busybox  = flag.String("busybox", "", "busybox rootfs fixture (made when empty)")
	_        = flag.String("berth-runtime", "", "unused here; accepted with the integration suite's flags")
	_        = flag.String("compose", "", "unused here; accepted with the integration suite's flags")
	_        = flag.String("crictl", "", "unused here; accepted with the integration suite's flags")
	_        = flag.String("cni-plugins", "", "unused here; accepted with the integration suite's flags")
	suiteDir string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("engine tests need root (they run containers): skipped")
		os.Exit(0)
	}
	code, err := setupAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "engine tests:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setupAndRun(m *testing.M) (int, error) {
	var err error
	if suiteDir, err = os.MkdirTemp("", "berth-et-"); err != nil {
		return 0, err
	}
	defer os.RemoveAll(suiteDir)
	if err := os.Chmod(suiteDir, 0o755); err != nil {
		return 0, err
	}
	if *berthBin == "" {
		*berthBin = filepath.Join(suiteDir, "berth")
		if out, err := exec.Command("go", "build", "-o", *berthBin, "../../cmd/berth").CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build berth: %v\n%s", err, out)
		}
	}
	if *busybox == "" {
		*busybox = filepath.Join(suiteDir, "busybox")
		if out, err := exec.Command("../../scripts/mkbusybox.sh", *busybox).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("make busybox fixture: %v\n%s", err, out)
		}
	}
	parentsBefore := leakcheck.EngineCgroupParents()
	code := m.Run()
	if leaks := append(findLeaks(), leakcheck.RemoveMadeParents(parentsBefore)...); len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "LEAK CHECK FAILED:\n  %s\n", strings.Join(leaks, "\n  "))
		return 1, nil
	}
	fmt.Println("leak check: no processes, mounts, zombies or cgroups left")
	return code, nil
}

// findLeaks lists processes started from the suite's roots, mounts
// under them, and zombies of this process.
func findLeaks() []string {
	var out []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		out = out[:0]
		ents, _ := os.ReadDir("/proc")
		for _, ent := range ents {
			pid, err := strconv.Atoi(ent.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			cmd, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
			env, _ := os.ReadFile("/proc/" + ent.Name() + "/environ")
			if strings.Contains(string(cmd)+string(env), suiteDir) {
				out = append(out, fmt.Sprintf("process %d: %s", pid, strings.ReplaceAll(string(cmd), "\x00", " ")))
			}
		}
		out = append(out, zombiesOfUs()...)
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		for _, l := range strings.Split(string(mounts), "\n") {
			if f := strings.Fields(l); len(f) > 4 && strings.HasPrefix(f[4], suiteDir) {
				out = append(out, "mount "+f[4])
			}
		}
		if len(out) == 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// zombiesOfUs lists this process's children that have exited and that
// nobody reaped: what a long-lived server must never accumulate.
func zombiesOfUs() []string {
	var out []string
	ents, _ := os.ReadDir("/proc")
	me := strconv.Itoa(os.Getpid())
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + ent.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+2:])
		if len(f) >= 2 && f[0] == "Z" && f[1] == me {
			out = append(out, "zombie child "+ent.Name()+": "+s[:i+1])
		}
	}
	return out
}

// newEngine opens an engine over roots of the test's own, with an image
// "bb:1" of the busybox fixture, and removes every container at the end.
func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	dir := filepath.Join(suiteDir, strings.ReplaceAll(t.Name(), "/", "_"))
	e, err := engine.OpenWith(filepath.Join(dir, "root"), filepath.Join(dir, "run"), engine.Options{Binary: *berthBin})
	if err != nil {
		t.Fatal(err)
	}
	tar := exec.Command("tar", "-C", *busybox, "--numeric-owner", "-cf", "-", ".")
	r, err := tar.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := tar.Start(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ImageImport(t.Context(), r, engine.ImportOptions{Ref: "bb:1", Changes: []string{`CMD ["sh"]`}}); err != nil {
		t.Fatal(err)
	}
	if err := tar.Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		list, err := e.ContainerList(engine.ListOptions{All: true})
		if err != nil {
			t.Errorf("cleanup: %v", err)
		}
		for _, c := range list {
			if err := e.ContainerRemove(context.Background(), c.ID, engine.RemoveOptions{Force: true, Volumes: true}); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	return e
}
