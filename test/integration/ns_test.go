package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// berthNS runs `berth ns ...` against the suite's state root.
func berthNS(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, err := exec.Command(*berthBin, append([]string{"ns"}, args...)...).CombinedOutput()
	return string(out), err
}

func stateRoot() string { return filepath.Join(suiteDir, "state") }

func TestNsLsShowsTheContainersNetNamespace(t *testing.T) {
	b, pid := runningBundle(t, nil)
	out, err := berthNS(t, "ls", "-t", "net", "--root", stateRoot())
	if err != nil {
		t.Fatalf("ns ls: %v %s", err, out)
	}
	ino := strings.TrimSuffix(strings.TrimPrefix(nsLink(t, pid, "net"), "net:["), "]")
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) >= 6 && f[0] == ino && f[1] == "net" && f[3] == strconv.Itoa(pid) && f[5] == b.id {
			return
		}
	}
	t.Fatalf("no row for %s (pid %d, %s) in:\n%s", ino, pid, b.id, out)
}

func TestNsEnterSeesTheContainersInterfacesAndPids(t *testing.T) {
	b, pid := runningBundle(t, nil)
	out, err := berthNS(t, "enter", "--target", strconv.Itoa(pid), "--net", "--mount", "--", "ip", "-o", "link")
	if err != nil || !strings.Contains(out, "lo:") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("ip link inside: %v %q", err, out)
	}
	out, err = berthNS(t, "enter", "--container", b.id, "--root", stateRoot(), "--pid", "--mount", "--", "sh", "-c", "echo $$")
	n, _ := strconv.Atoi(strings.TrimSpace(out))
	if err != nil || n < 2 || n > 20 {
		t.Fatalf("pid inside: %v %q", err, out)
	}
	// The command's exit status comes back.
	cmd := exec.Command(*berthBin, "ns", "enter", "--target", strconv.Itoa(pid), "--all", "--", "sh", "-c", "exit 5")
	if err := cmd.Run(); cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != 5 {
		t.Fatalf("exit status: %v", err)
	}
}

func TestNsPersistKeepsTheNamespaceAfterTheContainer(t *testing.T) {
	b, pid := runningBundle(t, nil)
	var want unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/net", &want); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(suiteDir, "netns-"+b.id)
	if out, err := berthNS(t, "persist", "--target", strconv.Itoa(pid), "--net", path); err != nil {
		t.Fatalf("persist: %v %s", err, out)
	}
	berth(t, "delete", "--force", b.id)
	reapZombies()
	var got unix.Stat_t
	if err := unix.Stat(path, &got); err != nil || got.Ino != want.Ino {
		t.Fatalf("persisted namespace: inode %d, want %d (%v)", got.Ino, want.Ino, err)
	}
	if out, err := berthNS(t, "persist", "--remove", path); err != nil {
		t.Fatalf("persist --remove: %v %s", err, out)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatal("the file is still there")
	}
}
