package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups"
)

// What callers written for runc rely on (issue 19): the config `spec`
// writes, which is runc's template, runs as it is but for its rootfs
// and command; under its deny-all device rule the devices every process
// needs work; its ambient capabilities, with no inheritable set, are
// left out as runc leaves them.
func TestRuntimeRunsTheConfigItsSpecWrites(t *testing.T) {
	for _, writer := range []string{"berth-runtime", "runc"} {
		t.Run(writer, func(t *testing.T) { runTheSpecOf(t, writer) })
	}
}

// runTheSpecOf runs the config that writer's `spec` writes.
func runTheSpecOf(t *testing.T, writer string) {
	b := newBundle(t)
	if writer == "runc" {
		if _, err := exec.LookPath("runc"); err != nil {
			t.Fatal("runc is not installed (Debian's runc; make deps installs it)")
		}
		cmd := exec.Command("runc", "spec")
		cmd.Dir = b.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("runc spec: %v %s", err, out)
		}
	} else if r := berthIn(t, b.dir, "spec"); r.code != 0 {
		t.Fatalf("spec: %d %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(filepath.Join(b.dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var s specs.Spec
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Linux.Resources == nil || len(s.Linux.Resources.Devices) != 1 || s.Linux.Resources.Devices[0].Allow {
		t.Fatalf("spec's device rules: %+v", s.Linux.Resources)
	}
	for _, ns := range s.Linux.Namespaces {
		if ns.Type == specs.CgroupNamespace {
			t.Fatal("spec lists a cgroup namespace; runc's template has none")
		}
	}
	s.Root.Path = *busybox
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "cat /dev/null && head -c 4 /dev/urandom | wc -c && echo x > /dev/full; grep -E 'CapEff|CapAmb' /proc/self/status"}
	s.Linux.CgroupsPath = b.spec.Linux.CgroupsPath
	b.spec = &s
	r := b.run()
	want := "4\nCapEff:\t0000000020000420\nCapAmb:\t0000000000000000\n"
	if r.code != 0 || r.stdout != want || !strings.Contains(r.stderr, "No space left on device") {
		t.Fatalf("runc's template: %d %q %q, want %q", r.code, r.stdout, r.stderr, want)
	}
}

// The cwd is entered before the user switch, as runc enters it: a
// directory only root may search is still the process's cwd. The
// process's stdio is its user's (a terminal it can reopen).
func TestRuntimeEntersTheCwdBeforeTheUserSwitch(t *testing.T) {
	b := newBundle(t, "sh", "-c", "pwd; stat -c %u /proc/self/fd/1")
	b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/private", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=700"}})
	b.spec.Process.Cwd = "/private"
	b.spec.Process.User = specs.User{UID: 1000, GID: 1000}
	r := b.run()
	if r.code != 0 || r.stdout != "/private\n1000\n" {
		t.Fatalf("cwd only root can reach: %d %q %q", r.code, r.stdout, r.stderr)
	}
	b2 := newBundle(t, "true")
	b2.spec.Process.Cwd = "/no/such/dir"
	if r := b2.run(); r.code == 0 || !strings.Contains(r.stderr, "/no/such/dir") {
		t.Fatalf("a missing cwd: %d %q", r.code, r.stderr)
	}
}

// Docker sends a zero block-IO weight for every container, which runc
// reads as unset; kill with signal 0 checks the container is there.
func TestRuntimeTakesDockersZeroWeightAndSignalZero(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	zero := uint16(0)
	b.spec.Linux.Resources = &specs.LinuxResources{BlockIO: &specs.LinuxBlockIO{Weight: &zero}}
	b.write()
	if r := berth(t, "run", "-d", "--bundle", b.dir, b.id); r.code != 0 {
		t.Fatalf("run with a zero blkio weight: %d %s", r.code, r.stderr)
	}
	if r := berth(t, "kill", b.id, "0"); r.code != 0 {
		t.Fatalf("kill 0 of a running container: %d %s", r.code, r.stderr)
	}
	berth(t, "kill", b.id, "KILL")
	waitFor(t, func() bool { return strings.Contains(berth(t, "state", b.id).stdout, `"stopped"`) })
	if r := berth(t, "kill", b.id, "0"); r.code == 0 {
		t.Fatal("kill 0 of a stopped container succeeded")
	}
}

// A config without a mount namespace shares the host's: the container
// is chrooted into its rootfs, nothing is mounted (it would be the
// host's mount), and the runtime says so.
func TestRuntimeWithoutAMountNamespaceChrootsAndMountsNothing(t *testing.T) {
	b := newBundle(t, "sh", "-c", "ls /proc | wc -l; readlink /proc/self/ns/mnt 2>/dev/null; echo in-rootfs")
	var keep []specs.LinuxNamespace
	for _, ns := range b.spec.Linux.Namespaces {
		if ns.Type != specs.MountNamespace && ns.Type != specs.CgroupNamespace {
			keep = append(keep, ns)
		}
	}
	b.spec.Linux.Namespaces = keep
	before, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	r := b.run()
	if r.code != 0 || r.stdout != "0\nin-rootfs\n" || !strings.Contains(r.stderr, "no mount namespace") {
		t.Fatalf("no mount namespace: %d %q %q", r.code, r.stdout, r.stderr)
	}
	after, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(string(after), "\n") != strings.Count(string(before), "\n") {
		t.Fatalf("the host's mounts changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

// removeIfMade removes, at the test's end, each of paths that is not
// there now: what a peer daemon makes in fixed places (containerd's
// /run/containerd for its shims' sockets, dockerd's /etc/docker key).
func removeIfMade(t *testing.T, paths ...string) {
	t.Helper()
	var made []string
	for _, p := range paths {
		if _, err := os.Lstat(p); errors.Is(err, os.ErrNotExist) {
			made = append(made, p)
		}
	}
	t.Cleanup(func() {
		for _, p := range made {
			_ = os.RemoveAll(p) // the peer's, made during the test
		}
	})
}

// peerDir checks that the peer daemon is installed (from pkg) and
// returns a directory of the test's for its state; what the daemon
// makes in its fixed places goes at the end.
func peerDir(t *testing.T, daemon, pkg string, fixed ...string) string {
	t.Helper()
	if _, err := exec.LookPath(daemon); err != nil {
		t.Fatalf("%s is not installed (%s; make deps installs it)", daemon, pkg)
	}
	dir, err := os.MkdirTemp(suiteDir, daemon+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	removeIfMade(t, fixed...)
	return dir
}

// startDaemon starts a daemon of a peer (containerd, dockerd) with its
// output kept, waits for its socket, and stops it by its PID at the end.
func startDaemon(t *testing.T, sock string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Errorf("%s did not stop on SIGTERM: %s", name, logs.String())
		}
	})
	for i := 0; ; i++ {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return
		}
		if i == 400 || cmd.ProcessState != nil {
			t.Fatalf("%s did not listen on %s: %s", name, sock, logs.String())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// containerd's runc shim drives berth-runtime as it drives runc
// (BinaryName): create, start, its log file in json, delete.
func TestContainerdRunsContainersWithBerthRuntime(t *testing.T) {
	dir := peerDir(t, "containerd", "Debian's containerd", "/run/containerd")
	sock := filepath.Join(dir, "containerd.sock")
	cfg := fmt.Sprintf("version = 2\nroot = %q\nstate = %q\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n[grpc]\n  address = %q\n[ttrpc]\n  address = %q\n",
		filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc")
	if err := os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, sock, "containerd", "--config", filepath.Join(dir, "config.toml"))
	rootfs := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("cp", "-a", *busybox, rootfs).CombinedOutput(); err != nil {
		t.Fatalf("copy the rootfs: %v %s", err, out)
	}
	ctr := func(args ...string) (string, error) {
		out, err := exec.Command("ctr", append([]string{"-a", sock, "-n", "berth-it"}, args...)...).CombinedOutput()
		return string(out), err
	}
	id := "ctr-" + strconv.Itoa(os.Getpid())
	out, err := ctr("run", "--rm", "--rootfs", "--runc-binary", *runtimeBin, "--runc-root", filepath.Join(dir, "runc"),
		"--cgroup", filepath.Join(cgPrefix, id), rootfs, id, "sh", "-c", "echo pid=$$; exit 3")
	if !strings.Contains(out, "pid=1") {
		t.Fatalf("ctr run: %v %q", err, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
		t.Fatalf("ctr run's exit: %v %q", err, out)
	}
	if out, err := ctr("containers", "ls", "-q"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("containers after run --rm: %v %q", err, out)
	}
}

// Debian's dockerd 20.10 runs containers on berth-runtime as an added
// runtime, with the zero block-IO weight it sends for every container.
func TestDockerdRunsContainersWithBerthRuntime(t *testing.T) {
	requireDockerCLI(t)
	dir := peerDir(t, "dockerd", "Debian's docker.io", "/etc/docker", "/run/docker", "/run/containerd")
	sock := filepath.Join(dir, "docker.sock")
	parent := filepath.Join(cgPrefix, "dockerd")
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, sock, "dockerd", "--config-file", filepath.Join(dir, "daemon.json"),
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"), "--pidfile", filepath.Join(dir, "docker.pid"),
		"-H", "unix://"+sock, "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false", "--userland-proxy=false",
		"--storage-driver", "vfs", "--exec-opt", "native.cgroupdriver=cgroupfs", "--cgroup-parent", parent,
		"--add-runtime", "berth="+*runtimeBin)
	t.Cleanup(func() {
		// The per-container cgroups go with the containers; the parent
		// dockerd made stays.
		if h, err := cgroups.DetectHost(); err == nil {
			for _, mp := range h.V1 {
				_ = unix.Rmdir(filepath.Join(mp, parent))
			}
			if h.Unified != "" {
				_ = unix.Rmdir(filepath.Join(h.Unified, parent))
			}
		}
	})
	root := engineWithBusybox(t)
	tar := filepath.Join(dir, "busybox.tar")
	mustEngine(t, root, "save", "-o", tar, "busybox:it")
	mustDocker(t, sock, "load", "-i", tar)
	r := docker(t, sock, nil, "run", "--rm", "--runtime", "berth", "--network", "none", "busybox:it", "sh", "-c", "echo pid=$$; exit 4")
	if r.code != 4 || r.stdout != "pid=1\n" {
		t.Fatalf("docker run --runtime berth: %d %q %q", r.code, r.stdout, r.stderr)
	}
	id := strings.TrimSpace(mustDocker(t, sock, "run", "-d", "--runtime", "berth", "--network", "none", "busybox:it", "sleep", "100"))
	if got := mustDocker(t, sock, "exec", id, "echo", "in"); got != "in\n" {
		t.Fatalf("docker exec: %q", got)
	}
	if got := mustDocker(t, sock, "inspect", "-f", "{{.HostConfig.Runtime}} {{.State.Running}}", id); got != "berth true\n" {
		t.Fatalf("inspect: %q", got)
	}
	mustDocker(t, sock, "rm", "-f", id)
}

// A capability name this build does not know (a newer kernel's) is left
// out with a warning, as runc leaves it: the config still runs.
func TestRuntimeIgnoresUnknownCapabilities(t *testing.T) {
	b := newBundle(t, "true")
	c := b.spec.Process.Capabilities
	c.Bounding, c.Permitted = append(c.Bounding, "CAP_FROM_THE_FUTURE"), append(c.Permitted, "CAP_FROM_THE_FUTURE")
	r := b.run()
	if r.code != 0 || !strings.Contains(r.stderr, "ignoring unknown capabilities: CAP_FROM_THE_FUTURE") {
		t.Fatalf("unknown capability: %d %q", r.code, r.stderr)
	}
}

// An update that sets the device rules again changes only what differs
// (cgroup v1): a process writing to /dev/null all along never finds it
// denied, as it would between a replayed "deny all" and the allows.
func TestRuntimeDeviceUpdateHasNoDeniedWindow(t *testing.T) {
	b := newBundle(t, "sh", "-c", "while :; do echo x > /dev/null || exit 7; done")
	one, three := int64(1), int64(3)
	rules := []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}, {Allow: true, Type: "c", Major: &one, Minor: &three, Access: "rwm"}}
	b.spec.Linux.Resources = &specs.LinuxResources{Devices: rules}
	b.write()
	if r := berth(t, "run", "-d", "--bundle", b.dir, b.id); r.code != 0 {
		t.Fatalf("run: %d %s", r.code, r.stderr)
	}
	data, err := json.Marshal(specs.LinuxResources{Devices: rules})
	if err != nil {
		t.Fatal(err)
	}
	res := filepath.Join(b.dir, "resources.json")
	if err := os.WriteFile(res, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 30; i++ {
		if r := berth(t, "update", "-r", res, b.id); r.code != 0 {
			t.Fatalf("update: %d %s", r.code, r.stderr)
		}
	}
	if st := b.state().Status; st != "running" {
		t.Fatalf("the writer to /dev/null stopped (%s): it was denied during an update", st)
	}
}

// A user with CAP_DAC_OVERRIDE runs a binary that only its owner may
// execute, as execve allows it (runc's issue 3715); without the
// capability the run fails.
func TestRuntimeRunsAnOwnerOnlyBinaryWithDACOverride(t *testing.T) {
	prog := filepath.Join(t.TempDir(), "echo")
	data, err := os.ReadFile(filepath.Join(*busybox, "bin", "busybox"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prog, data, 0o744); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(prog), 0o755)
	for _, withCap := range []bool{false, true} {
		b := newBundle(t, "/tmp/echo", "hi")
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/tmp/echo", Type: "bind", Source: prog, Options: []string{"bind", "ro"}})
		b.spec.Process.User = specs.User{UID: 1000, GID: 100}
		c := b.spec.Process.Capabilities
		c.Bounding, c.Effective, c.Permitted = []string{"CAP_KILL"}, []string{"CAP_KILL"}, []string{"CAP_KILL"}
		if withCap {
			dac := []string{"CAP_DAC_OVERRIDE"}
			c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient = dac, dac, dac, dac, dac
		}
		r := b.run()
		if withCap && (r.code != 0 || r.stdout != "hi\n") {
			t.Fatalf("owner-only binary with CAP_DAC_OVERRIDE: %d %q %q", r.code, r.stdout, r.stderr)
		}
		if !withCap && (r.code != 126 || !strings.Contains(r.stderr, "permission denied")) {
			t.Fatalf("owner-only binary without CAP_DAC_OVERRIDE: %d %q %q", r.code, r.stdout, r.stderr)
		}
	}
}

// A tmpfs that names no mode takes the mode of the directory it covers,
// as with runc; one made for the mount is the tmpfs's 1777, and a mode
// in the options wins.
func TestRuntimeTmpfsKeepsTheModeOfItsDirectory(t *testing.T) {
	b := newBundle(t, "stat", "-c", "%a", "/run", "/tmp/made", "/home")
	b.spec.Mounts = append(b.spec.Mounts,
		specs.Mount{Destination: "/run", Type: "tmpfs", Source: "tmpfs"},
		specs.Mount{Destination: "/tmp/made", Type: "tmpfs", Source: "tmpfs", Options: []string{"ro"}},
		specs.Mount{Destination: "/home", Type: "tmpfs", Source: "tmpfs", Options: []string{"mode=0410", "ro"}})
	if r := b.run(); r.code != 0 || r.stdout != "755\n1777\n410\n" {
		t.Fatalf("tmpfs modes: %d %q %q, want 755 1777 410", r.code, r.stdout, r.stderr)
	}
}
