package main

import (
	"github.com/berth-project/berth/internal/seccomp/profile"

	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// env is everything the scenarios share: bundles, state roots, the
// peers that can run here, and what was started for them.
type env struct {
	work    string
	bundles map[string]string // name -> bundle dir
	peers   []string
	skip    map[string]string // peer -> why it cannot run at all
	notes   []string
	machine string
	runc    string
	crun    []string // argv prefix: crun, or crun behind the hybrid-host wrapper
	podman  []string // argv prefix with its private storage
	engine  []string // berth's engine CLI with its private storage (nil if set-up failed)
	docker  []string // argv prefix with its private socket
	dockerd *exec.Cmd
	rss     map[string]int64 // peak RSS (KiB) of the runtime process, run scenario
	seq     int
	parMu   sync.Mutex // guards seq, rss and errFiles
	// preexisting names what the harness must not remove at the end:
	// parent cgroups and /run/containerd that were there before it.
	preexisting map[string]bool
	errFiles    []*os.File
	pull        *pullImage   // the pull scenario's registry, once started
	api         apiServers   // the API rows' servers, once started
	crunAgent   *agent       // runs crun's commands in its mount namespace (hybrid host)
	rl          *rootlessEnv // the rootless rows' user, once made
	rlUser      string       // its name, as soon as it exists
}

func setup() (*env, error) {
	var err error
	e := &env{bundles: map[string]string{}, skip: map[string]string{}, rss: map[string]int64{}, preexisting: map[string]bool{}}
	for _, p := range leftoverCandidates() {
		if _, err := os.Stat(p); err == nil {
			e.preexisting[p] = true
		}
	}
	e.machine = machine()
	if *berthBin, err = filepath.Abs(*berthBin); err != nil {
		return nil, err
	}
	if *rootfs, err = filepath.Abs(*rootfs); err != nil {
		return nil, err
	}
	if *outDir, err = filepath.Abs(*outDir); err != nil {
		return nil, err
	}
	// State under /run, where runtimes keep it by default.
	if e.work, err = os.MkdirTemp("/run", "berth-bench-"); err != nil {
		return nil, err
	}
	for name, mutate := range bundleKinds {
		dir := filepath.Join(e.work, "bundle-"+name)
		if err := writeBundle(dir, *rootfs, mutate); err != nil {
			return nil, err
		}
		e.bundles[name] = dir
	}
	for _, p := range strings.Split(*peersFlag, ",") {
		if p == "" {
			continue
		}
		e.peers = append(e.peers, p)
		if why := e.preparePeer(p); why != "" {
			e.skip[p] = why
			fmt.Fprintf(os.Stderr, "%s: %s\n", p, why)
		}
	}
	return e, nil
}

func (e *env) preparePeer(p string) string {
	switch p {
	case "berth":
		if _, err := os.Stat(*berthBin); err != nil {
			return "not built: " + err.Error()
		}
		if err := e.setupBerthEngine(); err != nil {
			e.notes = append(e.notes, "berth engine: "+oneLine(err))
		}
	case "runc":
		e.runc = findBin("runc")
		if e.runc == "" {
			return "not installed (apt-get install runc)"
		}
	case "crun":
		c := findBin("crun")
		if c == "" {
			return "not installed (apt-get install crun)"
		}
		e.crun = []string{c}
		if hybridCgroups() {
			// crun refuses v1 controllers beside a cgroup2 mount; hidden
			// in a private mount namespace it runs as on a v1 host. A
			// private tmpfs covers the mount point: crun still writes its
			// cgroup there, which would otherwise land on the host's
			// /sys/fs/cgroup tmpfs under the real cgroup2 mount. One
			// agent behind the wrapper runs all of crun's commands
			// (agent.go), so the wrapper is paid once, not per command.
			wrapper := []string{"unshare", "-m", "--propagation", "private", "sh", "-c",
				`umount /sys/fs/cgroup/unified && mount -t tmpfs -o size=1m none /sys/fs/cgroup/unified && exec "$0" "$@"`}
			cost := e.wrapperCost(wrapper)
			a, err := startAgent(wrapper)
			if err != nil {
				return "its agent did not start: " + oneLine(err)
			}
			e.crunAgent = a
			e.crun = []string{agentArg0, c}
			e.notes = append(e.notes, fmt.Sprintf("crun refuses this hybrid cgroup host: it runs in a private mount namespace with the cgroup2 mount hidden, all its commands through one agent started there once, which times them itself; crun's figures are its own. The `unshare -m` wrapper alone would cost %s (median) per command.", fmtMs(cost)))
		}
	case "podman":
		if findBin("podman") == "" {
			return "not installed (apt-get install podman)"
		}
		if err := e.setupPodman(); err != nil {
			return "setup failed: " + oneLine(err)
		}
	case "docker":
		if findBin("dockerd") == "" {
			return "not installed (apt-get install docker.io)"
		}
		if err := e.setupDocker(); err != nil {
			return "dockerd did not start here: " + oneLine(err)
		}
	case "floor":
	default:
		return "unknown peer"
	}
	return ""
}

func findBin(name string) string {
	if *binDir != "" {
		p := filepath.Join(*binDir, name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, _ := exec.LookPath(name)
	return p
}

func hybridCgroups() bool {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	s := string(data)
	return strings.Contains(s, " - cgroup2 ") && strings.Contains(s, " - cgroup ") &&
		strings.Contains(s, "/sys/fs/cgroup/unified ")
}

func (e *env) wrapperCost(wrapper []string) float64 {
	var samples []float64
	for i := 0; i < 30; i++ {
		d, err := e.timed("", append(append([]string(nil), wrapper...), "true")...)
		if err == nil {
			samples = append(samples, float64(d)/float64(time.Millisecond))
		}
	}
	return summarise("", samples).Median
}

// id returns a fresh container name.
func (e *env) id(prefix string) string {
	e.parMu.Lock()
	defer e.parMu.Unlock()
	e.seq++
	return fmt.Sprintf("%s-%d", prefix, e.seq)
}

// errFile lends a file for a command's output; concurrent commands get
// their own.
func (e *env) errFile() *os.File {
	e.parMu.Lock()
	defer e.parMu.Unlock()
	if n := len(e.errFiles); n > 0 {
		f := e.errFiles[n-1]
		e.errFiles = e.errFiles[:n-1]
		f.Truncate(0)
		f.Seek(0, 0)
		return f
	}
	f, err := os.CreateTemp(e.work, "out")
	if err != nil {
		f, _ = os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	}
	return f
}

func (e *env) returnErrFile(f *os.File) {
	e.parMu.Lock()
	e.errFiles = append(e.errFiles, f)
	e.parMu.Unlock()
}

// timed runs argv and returns its wall time; peer, when set, records the
// process's peak RSS. Output goes to a file, never a pipe: a created
// container's init inherits it and would hold a pipe open.
func (e *env) timed(peer string, argv ...string) (time.Duration, error) {
	out := e.errFile()
	defer e.returnErrFile(out)
	if argv[0] == agentArg0 {
		d, rss, err := e.crunAgent.run(argv[1:], out)
		if err != nil {
			msg, _ := os.ReadFile(out.Name())
			return d, fmt.Errorf("%s: %v: %s", filepath.Base(argv[1]), err, strings.TrimSpace(string(msg)))
		}
		if peer != "" {
			e.parMu.Lock()
			if rss > e.rss[peer] {
				e.rss[peer] = rss
			}
			e.parMu.Unlock()
		}
		return d, nil
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	d, err := runTimed(cmd, out)
	if err != nil {
		return d, err
	}
	if peer != "" {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			e.parMu.Lock()
			if ru.Maxrss > e.rss[peer] {
				e.rss[peer] = ru.Maxrss
			}
			e.parMu.Unlock()
		}
	}
	return d, nil
}

// runTimed runs cmd with its output to out, and returns its wall time,
// or its error with what it printed.
func runTimed(cmd *exec.Cmd, out *os.File) (time.Duration, error) {
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		msg, _ := os.ReadFile(out.Name())
		return d, fmt.Errorf("%s: %v: %s", filepath.Base(cmd.Path), err, strings.TrimSpace(string(msg)))
	}
	return d, nil
}

// quiet runs argv untimed and ignores its result (cleanup).
func (e *env) quiet(argv ...string) {
	out := e.errFile()
	defer e.returnErrFile(out)
	if argv[0] == agentArg0 {
		_, _, _ = e.crunAgent.run(argv[1:], out) // as below: its result does not matter
		return
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Run()
}

// runtimeArgv is the command line prefix of an OCI runtime peer.
func (e *env) runtimeArgv(peer string) []string {
	switch peer {
	case "berth":
		return []string{*berthBin, "--root", filepath.Join(e.work, "berth")}
	case "runc":
		return []string{e.runc, "--root", filepath.Join(e.work, "runc")}
	case "crun":
		return append(append([]string(nil), e.crun...), "--root", filepath.Join(e.work, "crun"))
	}
	return nil
}

// rootfsTar makes an uncompressed tar of the busybox rootfs for image
// imports.
func (e *env) rootfsTar() (string, error) {
	tar := filepath.Join(e.work, "busybox.tar")
	if _, err := os.Stat(tar); err == nil {
		return tar, nil
	}
	out, err := exec.Command("tar", "-C", *rootfs, "-cf", tar, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("tar rootfs: %v %s", err, out)
	}
	return tar, nil
}

const image = "localhost/berth-bench-busybox:latest"

// setupBerthEngine imports the rootfs as berth's image, in storage of
// the harness's own.
func (e *env) setupBerthEngine() error {
	dir := filepath.Join(e.work, "berth-engine")
	bin := filepath.Join(filepath.Dir(*berthBin), "berth")
	cli := []string{bin, "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run")}
	tar, err := e.rootfsTar()
	if err != nil {
		return err
	}
	if out, err := exec.Command(cli[0], append(cli[1:], "import", tar, image)...).CombinedOutput(); err != nil {
		return fmt.Errorf("berth import: %v: %s", err, out)
	}
	e.engine = cli
	return nil
}

func (e *env) setupPodman() error {
	dir := filepath.Join(e.work, "podman")
	e.podman = []string{"podman", "--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"),
		"--tmpdir", filepath.Join(dir, "tmp"), "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc"}
	tar, err := e.rootfsTar()
	if err != nil {
		return err
	}
	if out, err := exec.Command(e.podman[0], append(e.podman[1:], "import", "-q", tar, image)...).CombinedOutput(); err != nil {
		return fmt.Errorf("podman import: %v: %s", err, out)
	}
	return nil
}

// podmanRun is podman's equivalent of the runtime's run, with this
// host's limits (its default RLIMIT_NOFILE exceeds the hard limit here).
func (e *env) podmanRun(extra ...string) []string {
	a := append(append([]string(nil), e.podman...), "run", "--rm", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	a = append(a, extra...)
	return append(a, image, "/bin/true")
}

func (e *env) setupDocker() error {
	dir := filepath.Join(e.work, "docker")
	os.MkdirAll(dir, 0o700)
	sock := filepath.Join(dir, "docker.sock")
	cmd := exec.Command("dockerd", "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "--host", "unix://"+sock, "--iptables=false", "--ip6tables=false",
		"--bridge=none", "--default-ulimit", "nofile=20000:20000")
	logf, _ := os.Create(filepath.Join(dir, "dockerd.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	e.dockerd = cmd
	e.docker = []string{"docker", "-H", "unix://" + sock}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if err := exec.Command("docker", "-H", "unix://"+sock, "version").Run(); err == nil {
			break
		}
		if time.Now().After(deadline) || cmd.ProcessState != nil {
			return errors.New(lastLine(filepath.Join(dir, "dockerd.log")))
		}
		time.Sleep(200 * time.Millisecond)
	}
	tar, err := e.rootfsTar()
	if err != nil {
		return err
	}
	if out, err := exec.Command(e.docker[0], append(e.docker[1:], "import", tar, image)...).CombinedOutput(); err != nil {
		return fmt.Errorf("docker import: %v: %s", err, out)
	}
	return nil
}

func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	last := "no output"
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

func (e *env) teardown() {
	e.teardownRootless()
	if e.engine != nil {
		out, _ := execOutput(append(append([]string(nil), e.engine...), "ps", "-a", "-q")...)
		for _, id := range strings.Fields(out) {
			e.quiet(append(append([]string(nil), e.engine...), "rm", "-f", id)...)
		}
		e.quiet(append(append([]string(nil), e.engine...), "network", "prune", "-f")...)
	}
	if e.pull != nil {
		e.pull.srv.Close()
	}
	// Before the engines' own clean-up: the servers hold no container,
	// but podman's would answer its reset.
	e.stopAPIServers()
	if e.podman != nil {
		e.quiet(append(append([]string(nil), e.podman...), "rm", "-a", "-f")...)
		e.quiet(append(append([]string(nil), e.podman...), "system", "reset", "-f")...)
	}
	if e.dockerd != nil {
		e.quiet(append(append([]string(nil), e.docker...), "rm", "-f", "bench-docker-sleep")...)
		e.dockerd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { e.dockerd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			syscall.Kill(-e.dockerd.Process.Pid, syscall.SIGKILL)
		}
	}
	// Processes the peers left running on our work dir: podman's exec
	// sessions through its API keep their conmon for --exit-delay (300 s)
	// after they end. They name our work dir, which is ours alone.
	killOwnedBy(e.work)
	// The parents cgroups of berth and the engines, and containerd's
	// state dir, when this run made them (empty once the containers are
	// gone).
	for _, p := range leftoverCandidates() {
		if e.preexisting[p] {
			continue
		}
		if strings.HasPrefix(p, "/sys/fs/cgroup/") {
			rmdirTree(p)
		} else {
			os.RemoveAll(p)
		}
	}
	// Whatever a peer left mounted below our work dir.
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var mps []string
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && strings.HasPrefix(f[4], e.work) {
			mps = append(mps, f[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mps)))
	for _, mp := range mps {
		syscall.Unmount(mp, syscall.MNT_DETACH)
	}
	os.RemoveAll(e.work)
}

func machine() string {
	host := runtime.NumCPU()
	mem := ""
	if data, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.SplitN(string(data), "\n", 2)[0], "MemTotal: %d kB", &kb)
		mem = fmt.Sprintf(", %d GiB", (kb+(1<<19))>>20)
	}
	var u syscall.Utsname
	syscall.Uname(&u)
	rel := make([]byte, 0, 65)
	for _, c := range u.Release {
		if c == 0 {
			break
		}
		rel = append(rel, byte(c))
	}
	cg := "cgroup v1"
	switch {
	case hybridCgroups():
		cg = "hybrid cgroups"
	case func() bool { _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); return err == nil }():
		cg = "cgroup v2"
	}
	return fmt.Sprintf("%d CPUs%s, kernel %s, %s", host, mem, rel, cg)
}

// writeBundle writes a /bin/true bundle on rootfs, changed by mutate.
func writeBundle(dir, rootfs string, mutate func(map[string]any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	caps := []string{"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"}
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"root":       map[string]any{"path": rootfs, "readonly": true},
		"process": map[string]any{
			"args": []string{"/bin/true"}, "env": []string{"PATH=/bin"}, "cwd": "/",
			"user":         map[string]any{"uid": 0, "gid": 0},
			"capabilities": map[string]any{"bounding": caps, "effective": caps, "permitted": caps},
			"rlimits":      []map[string]any{{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}},
		},
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
		},
		"linux": map[string]any{
			"namespaces":  []map[string]any{{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}},
			"maskedPaths": []string{"/proc/kcore", "/proc/keys"}, "readonlyPaths": []string{"/proc/sys"},
		},
	}
	if mutate != nil {
		mutate(spec)
	}
	data, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), data, 0o644)
}

var bundleKinds = map[string]func(map[string]any){
	"net": nil,
	"nonet": func(s map[string]any) {
		s["linux"].(map[string]any)["namespaces"] = []map[string]any{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}}
	},
	"memory": func(s map[string]any) {
		s["linux"].(map[string]any)["resources"] = map[string]any{"memory": map[string]any{"limit": 64 << 20}}
	},
	"sleep": func(s map[string]any) {
		s["process"].(map[string]any)["args"] = []string{"sleep", "100000"}
	},
	// Docker's default profile, resolved for the bundle's capabilities,
	// with no_new_privs as the engines set it.
	"seccomp": func(s map[string]any) {
		p := s["process"].(map[string]any)
		p["noNewPrivileges"] = true
		caps := p["capabilities"].(map[string]any)["bounding"].([]string)
		s["linux"].(map[string]any)["seccomp"] = profile.Default().For(caps, profile.ThisHost())
	},
}

// rmdirTree removes an empty cgroup tree, children first (Podman puts
// conmon in libpod_parent/conmon). A cgroup with processes stays.
func rmdirTree(dir string) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.IsDir() {
			rmdirTree(filepath.Join(dir, e.Name()))
		}
	}
	syscall.Rmdir(dir)
}

// leftoverCandidates lists what peers create outside the work directory.
func leftoverCandidates() []string {
	var out []string
	for _, parent := range []string{"berth", "docker", "libpod_parent"} {
		dirs, _ := filepath.Glob("/sys/fs/cgroup/*/" + parent)
		if len(dirs) == 0 {
			// Not there yet: name where they will appear.
			hier, _ := filepath.Glob("/sys/fs/cgroup/*/cgroup.procs")
			for _, h := range hier {
				dirs = append(dirs, filepath.Join(filepath.Dir(h), parent))
			}
		}
		out = append(out, dirs...)
	}
	return append(out, "/run/containerd")
}

// killOwnedBy kills, by PID, the processes whose command line names dir
// (a directory of the harness's own, so none of them is another's).
func killOwnedBy(dir string) {
	procs, _ := os.ReadDir("/proc")
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir+"/") {
			pids = append(pids, pid)
		}
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL) // gone already: nothing to do
	}
	for _, pid := range pids {
		// Their cgroups can go only once they are reaped or gone.
		for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
}
