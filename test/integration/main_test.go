// Package integration runs real containers with berth-runtime, as root,
// and checks them from outside and inside. Every test works under one
// suite directory (state root, bundles) and one cgroup prefix; the suite
// ends with a leak check over processes, mounts, cgroups and state.
package integration

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups"
	"github.com/berth-project/berth/test/leakcheck"
)

var (
	runtimeBin = flag.String("berth-runtime", "", "berth-runtime binary (built when empty)")
	busybox    = flag.String("busybox", "", "busybox rootfs fixture (made when empty)")
	berthBin   = flag.String("berth", "", "berth binary (built when empty)")
	composeBin = flag.String("compose", "", "docker compose binary (built into bin/ when empty)")
	crictlBin  = flag.String("crictl", "", "crictl binary (built into bin/ when empty)")
	cniPlugins = flag.String("cni-plugins", "", "directory of CNI plugins (built into bin/cni when empty)")
	suiteDir   string
	cgPrefix   string
)

func TestMain(m *testing.M) {
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Println("integration tests need root (namespaces, mounts, cgroups): skipped")
		os.Exit(0)
	}
	code, err := setupAndRun(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "integration:", err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setupAndRun(m *testing.M) (int, error) {
	var err error
	suiteDir, err = os.MkdirTemp("", "berth-it-")
	if err != nil {
		return 0, err
	}
	// Containers with a user namespace run as a mapped, unprivileged
	// host uid: they must be able to reach their bundle.
	os.Chmod(suiteDir, 0o755)
	defer os.RemoveAll(suiteDir)
	cgPrefix = fmt.Sprintf("/berth-it-%d", os.Getpid())
	if *runtimeBin == "" {
		*runtimeBin = filepath.Join(suiteDir, "berth-runtime")
		out, err := exec.Command("go", "build", "-o", *runtimeBin, "../../cmd/berth-runtime").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("build berth-runtime: %v\n%s", err, out)
		}
	}
	// The rootfs is used from inside the suite dir: containers with a
	// user namespace run as an unprivileged host uid, which could not
	// reach a checkout under a private directory such as /root.
	local := filepath.Join(suiteDir, "busybox")
	if *berthBin == "" {
		*berthBin = filepath.Join(suiteDir, "berth")
		out, err := exec.Command("go", "build", "-o", *berthBin, "../../cmd/berth").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("build berth: %v\n%s", err, out)
		}
		// berth cri is berth-cri, beside berth.
		out, err = exec.Command("go", "build", "-o", filepath.Join(suiteDir, "berth-cri"), "../../cmd/berth-cri").CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("build berth-cri: %v\n%s", err, out)
		}
	}
	// The clients and plugins not given are built into bin/, once, by
	// their scripts.
	for _, tool := range []struct {
		flag   *string
		path   string
		script []string // the script and its arguments before the output path
	}{
		{composeBin, "docker-compose", []string{"docker-compose.sh"}},
		{crictlBin, "crictl", []string{"cri-tools.sh", "crictl"}},
		{cniPlugins, "cni", []string{"cni-plugins.sh"}},
	} {
		if *tool.flag != "" {
			continue
		}
		abs, err := filepath.Abs("../../bin/" + tool.path)
		if err != nil {
			return 0, err
		}
		if out, err := exec.Command("../../scripts/"+tool.script[0], append(tool.script[1:], abs)...).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("build %s: %v\n%s", tool.path, err, out)
		}
		*tool.flag = abs
	}
	if *busybox == "" {
		if out, err := exec.Command("../../scripts/mkbusybox.sh", local).CombinedOutput(); err != nil {
			return 0, fmt.Errorf("make busybox fixture: %v\n%s", err, out)
		}
	} else if out, err := exec.Command("cp", "-a", *busybox, local).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("copy busybox fixture: %v\n%s", err, out)
	}
	*busybox = local
	// Inits whose runtime process exited are re-parented to us, and
	// reaped, instead of to the host's init.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, err
	}
	_, err = os.Stat("/run/berth")
	defaultRootBefore := err == nil
	netBefore := berthNetObjects()
	parentsBefore := leakcheck.EngineCgroupParents()
	code := m.Run()
	reapZombies()
	if _, err := os.Stat("/run/berth"); err == nil && !defaultRootBefore {
		fmt.Fprintln(os.Stderr, "LEAK CHECK FAILED: a test used the default state root /run/berth")
		os.RemoveAll("/run/berth")
		return 1, nil
	}
	leaks := append(findLeaks(), leakcheck.RemoveMadeParents(parentsBefore)...)
	for _, o := range berthNetObjects() {
		if !slices.Contains(netBefore, o) {
			leaks = append(leaks, o)
		}
	}
	if len(leaks) > 0 {
		fmt.Fprintf(os.Stderr, "LEAK CHECK FAILED:\n  %s\n", strings.Join(leaks, "\n  "))
		return 1, nil
	}
	fmt.Println("leak check: no processes, mounts, cgroups, network devices, nftables tables or state left")
	return code, nil
}

// reapZombies collects exited inits re-parented to the test binary. It
// runs only between commands (tests are sequential), so it never takes
// the exit status of a command a test waits for.
func reapZombies() {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// allGone reports whether every pid has exited and been reaped (or
// belongs to another parent, which reaps it).
func allGone(pids []int) bool {
	for _, p := range pids {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue // reaped
		}
		i := strings.LastIndexByte(string(data), ')')
		f := strings.Fields(string(data)[i+2:])
		if len(f) < 2 || f[0] != "Z" || f[1] == strconv.Itoa(os.Getpid()) {
			return false // still dying, or a zombie we must reap
		}
	}
	return true
}

// findLeaks lists what the suite left behind.
func findLeaks() []string {
	var leaks []string
	time.Sleep(50 * time.Millisecond)
	// processes whose root is inside the suite (a container's)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		root, err := os.Readlink(filepath.Join("/proc", p.Name(), "root"))
		if err == nil && (strings.HasPrefix(root, suiteDir) || strings.HasPrefix(root, *busybox) || strings.HasPrefix(root, "/tmp/berth-rootless-")) {
			leaks = append(leaks, "process "+p.Name()+" rooted at "+root)
		}
	}
	for _, p := range procs {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		exe, _ := os.Readlink(filepath.Join("/proc", p.Name(), "exe"))
		switch {
		case strings.HasPrefix(string(cmdline), "berth:["):
			// A monitor, an ID map's namespace holder, any role of berth's.
			leaks = append(leaks, "berth process "+p.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		case strings.HasPrefix(string(cmdline), "slirp4netns\x00"):
			leaks = append(leaks, "slirp4netns process "+p.Name())
		case strings.HasPrefix(exe, "/tmp/berth-rootless-"):
			leaks = append(leaks, "rootless test user's process "+p.Name()+": "+strings.ReplaceAll(string(cmdline), "\x00", " "))
		}
	}
	if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth/[0-9a-f]*"); len(dirs) > 0 {
		for _, d := range dirs {
			if len(filepath.Base(d)) == 64 {
				leaks = append(leaks, "engine container cgroup "+d)
			}
		}
	}
	for _, l := range loopDevicesUnder(suiteDir) {
		leaks = append(leaks, "loop device "+l)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range strings.Split(string(mi), "\n") {
		if strings.Contains(line, suiteDir) || strings.Contains(line, *busybox) {
			leaks = append(leaks, "mount "+line)
		}
	}
	if dirs, _ := filepath.Glob("/sys/fs/cgroup/*/libpod_parent"); len(dirs) > 0 {
		leaks = append(leaks, "cgroup "+dirs[0]+" (the Podman test's)")
	}
	if h, err := cgroups.DetectHost(); err == nil {
		roots := map[string]string{}
		for n, mp := range h.V1 {
			roots[n] = mp
		}
		if h.Unified != "" {
			roots["unified"] = h.Unified
		}
		for n, r := range roots {
			dir := filepath.Join(r, cgPrefix)
			ents, err := os.ReadDir(dir)
			if err != nil {
				continue
			}
			for _, e := range ents {
				if e.IsDir() {
					leaks = append(leaks, "cgroup "+n+":"+filepath.Join(cgPrefix, e.Name()))
				}
			}
			unix.Rmdir(dir)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(suiteDir, "state"))
	for _, e := range ents {
		if e.IsDir() && e.Name() != "seccomp@cache" {
			leaks = append(leaks, "state dir "+e.Name())
		}
	}
	return leaks
}

// ---- helpers ----

// bundle is one test's bundle on the shared read-only busybox rootfs.
type bundle struct {
	t    *testing.T
	dir  string
	id   string
	spec *specs.Spec
}

var idSeq int

// newBundle makes a bundle whose process runs args, with the usual
// namespaces and mounts, placed in the suite's cgroup prefix.
func newBundle(t *testing.T, args ...string) *bundle {
	t.Helper()
	idSeq++
	id := fmt.Sprintf("%s-%d", strings.ReplaceAll(strings.ToLower(t.Name()), "/", "-"), idSeq)
	dir := filepath.Join(suiteDir, "bundles", id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	caps := []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SYS_CHROOT", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE", "CAP_SETPCAP"}
	s := &specs.Spec{
		Version:  "1.2.0",
		Root:     &specs.Root{Path: *busybox, Readonly: true},
		Hostname: "box",
		Process: &specs.Process{
			Args: args, Cwd: "/", Env: []string{"PATH=/bin:/sbin:/usr/bin"},
			Capabilities:    &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			NoNewPrivileges: true,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "mode=755"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/tmp", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			CgroupsPath: filepath.Join(cgPrefix, id),
			Namespaces: []specs.LinuxNamespace{
				{Type: "pid"}, {Type: "network"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}, {Type: "cgroup"},
			},
			MaskedPaths:   []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/acpi"},
			ReadonlyPaths: []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/bus"},
		},
	}
	b := &bundle{t: t, dir: dir, id: id, spec: s}
	t.Cleanup(func() {
		// Whatever the test did, the container must go. Its processes
		// (exec'd ones too) may be re-parented to us: reap them, or as
		// zombies they keep its cgroup busy.
		var pids []int
		if r := berth(t, "ps", "--format", "json", b.id); r.code == 0 {
			json.Unmarshal([]byte(r.stdout), &pids)
		}
		berth(t, "kill", "--all", b.id, "KILL")
		// Until each is gone: a zombie of ours, not yet reaped, would
		// keep the cgroup busy (it has left cgroup.procs already).
		for i := 0; i < 200 && !allGone(pids); i++ {
			reapZombies()
			time.Sleep(5 * time.Millisecond)
		}
		berth(t, "delete", "--force", b.id)
		reapZombies()
	})
	return b
}

func (b *bundle) write() {
	b.t.Helper()
	data, err := json.Marshal(b.spec)
	if err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b.dir, "config.json"), data, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

type result struct {
	stdout, stderr string
	code           int
}

// berth runs berth-runtime with the suite's state root.
func berth(t *testing.T, args ...string) result {
	t.Helper()
	return berthIn(t, "", args...)
}

func berthIn(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(*runtimeBin, append([]string{"--root", filepath.Join(suiteDir, "state")}, args...)...)
	cmd.Dir = dir
	// Files, not pipes: a created container's init inherits them and
	// holds them open until it exits, so Wait on a pipe would block.
	out, err := os.CreateTemp(suiteDir, "stdout")
	if err != nil {
		t.Fatal(err)
	}
	errf, err := os.CreateTemp(suiteDir, "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		out.Close()
		errf.Close()
		os.Remove(out.Name())
		os.Remove(errf.Name())
	}()
	cmd.Stdout, cmd.Stderr = out, errf
	err = cmd.Run()
	o, _ := os.ReadFile(out.Name())
	e, _ := os.ReadFile(errf.Name())
	r := result{stdout: string(o), stderr: string(e)}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run berth-runtime: %v", err)
	}
	return r
}

// run runs the bundle to completion and returns its output.
func (b *bundle) run() result {
	b.t.Helper()
	b.write()
	return berth(b.t, "run", "--bundle", b.dir, b.id)
}

// create creates the container and returns its init pid.
func (b *bundle) create() int {
	b.t.Helper()
	b.write()
	r := berth(b.t, "create", "--bundle", b.dir, b.id)
	if r.code != 0 {
		b.t.Fatalf("create: %s", r.stderr)
	}
	return b.state().Pid
}

func (b *bundle) state() specs.State {
	b.t.Helper()
	r := berth(b.t, "state", b.id)
	if r.code != 0 {
		b.t.Fatalf("state: %s", r.stderr)
	}
	var s specs.State
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		b.t.Fatalf("state output %q: %v", r.stdout, err)
	}
	return s
}

// assertGone checks that a container left no state dir and no cgroup.
func assertGone(t *testing.T, id string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(suiteDir, "state", id)); !os.IsNotExist(err) {
		t.Errorf("state dir of %s left behind", id)
	}
	h, err := cgroups.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	for n, mp := range h.V1 {
		if _, err := os.Stat(filepath.Join(mp, cgPrefix, id)); err == nil {
			t.Errorf("cgroup %s:%s left behind", n, id)
		}
	}
}

func nsLink(t *testing.T, pid int, ns string) string {
	t.Helper()
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// berthNetObjects lists berth's network devices (bridges berth*, veths
// vb*) and nftables tables on the host.
func berthNetObjects() []string {
	var out []string
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "berth") || strings.HasPrefix(l.Name(), "vb") {
			out = append(out, "network device "+l.Name())
		}
	}
	if c, err := nftables.New(); err == nil {
		for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
			tables, _ := c.ListTablesOfFamily(fam)
			for _, t := range tables {
				if strings.HasPrefix(t.Name, "berth") {
					out = append(out, fmt.Sprintf("nftables table %s (family %d)", t.Name, fam))
				}
			}
		}
	}
	return out
}
