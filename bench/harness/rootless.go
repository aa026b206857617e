package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// rootlessEnv is the rootless rows' throw-away user (with a subordinate
// range), its berth and podman, and the image in each one's store.
type rootlessEnv struct {
	name, base, home, run string
	uid, gid              int
	berth, podman         []string // argv prefixes run as the user (setpriv, for the untimed steps)
	berthBin              string
	env                   []string // the user's environment, for the timed runs
	podmanErr             error
	tunMode               os.FileMode // /dev/net/tun's mode before the harness changed it
}

var (
	rootlessOnce sync.Once
	rootlessErr  error
)

// rootless makes the user once; teardown removes it.
func (e *env) rootless() (*rootlessEnv, error) {
	rootlessOnce.Do(func() { e.rl, rootlessErr = e.setupRootless() })
	return e.rl, rootlessErr
}

func (e *env) setupRootless() (*rootlessEnv, error) {
	for _, tool := range []string{"useradd", "usermod", "setpriv", "newuidmap", "slirp4netns"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("%s is not installed (make deps installs it)", tool)
		}
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	r := &rootlessEnv{name: "berthbench" + hex.EncodeToString(b)}
	var err error
	// A short path: podman keeps sockets below XDG_RUNTIME_DIR.
	if r.base, err = os.MkdirTemp("/tmp", "bbr-"); err != nil {
		return nil, err
	}
	_ = os.Chmod(r.base, 0o755) // the user reads the binary and the image from here
	r.home, r.run = filepath.Join(r.base, "home"), filepath.Join(r.base, "run")
	if out, err := exec.Command("useradd", "--no-user-group", "-g", "nogroup", "-M", "-d", r.home, "-s", "/bin/sh", r.name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("useradd: %v: %s", err, out)
	}
	e.rlUser = r.name
	e.quiet("usermod", "--del-subuids", "1-4294967294", "--del-subgids", "1-4294967294", r.name)
	if out, err := exec.Command("usermod", "--add-subuids", "700000-765535", "--add-subgids", "700000-765535", r.name).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("usermod: %v: %s", err, out)
	}
	u, err := user.Lookup(r.name)
	if err != nil {
		return nil, err
	}
	r.uid, _ = strconv.Atoi(u.Uid)
	r.gid, _ = strconv.Atoi(u.Gid)
	for _, d := range []string{r.home, r.run} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
		_ = os.Chown(d, r.uid, r.gid) // made just now, by root
	}
	bin := filepath.Join(r.base, "berth")
	if out, err := exec.Command("cp", filepath.Join(filepath.Dir(*berthBin), "berth"), bin).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp berth: %v: %s", err, out)
	}
	tar, err := e.rootfsTar()
	if err != nil {
		return nil, err
	}
	userTar := filepath.Join(r.base, "rootfs.tar")
	if out, err := exec.Command("cp", tar, userTar).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("cp image: %v: %s", err, out)
	}
	_ = os.Chmod(userTar, 0o644) // as above
	// slirp4netns opens /dev/net/tun as the user: Debian has it 0666,
	// this machine 0600.
	if fi, err := os.Stat("/dev/net/tun"); err == nil && fi.Mode().Perm() != 0o666 {
		r.tunMode = fi.Mode().Perm()
		_ = os.Chmod("/dev/net/tun", 0o666) // restored by teardown
	}
	as := []string{"setpriv", "--reuid", u.Uid, "--regid", u.Gid, "--clear-groups", "env", "-i", "HOME=" + r.home,
		"XDG_RUNTIME_DIR=" + r.run, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	r.berth = append(append([]string(nil), as...), bin)
	r.berthBin, r.env = bin, as[len(as)-3:]
	if out, err := exec.Command(r.berth[0], append(r.berth[1:], "import", userTar, image)...).CombinedOutput(); err != nil {
		return r, fmt.Errorf("rootless berth import: %v: %s", err, out)
	}
	r.podman = append(append([]string(nil), as...), "podman", "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--runtime", "runc")
	if findBin("podman") == "" {
		r.podmanErr = errors.New("not installed (apt-get install podman)")
	} else if out, err := exec.Command(r.podman[0], append(r.podman[1:], "import", "-q", userTar, image)...).CombinedOutput(); err != nil {
		r.podmanErr = fmt.Errorf("rootless podman import: %v: %s", err, lastOf(string(out)))
	}
	e.notes = append(e.notes, "rootless rows: a throw-away user with subordinate ids 700000-765535; berth rootless and Podman rootless (runc, its storage driver as it chooses here), on the hybrid host without a delegated cgroup.")
	return r, nil
}

// lastOf is the last line of a command's output.
func lastOf(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// teardownRootless removes what the rootless rows made: containers,
// the pause processes, the user and its files; /dev/net/tun's mode.
func (e *env) teardownRootless() {
	r := e.rl
	if r == nil {
		if e.rlUser != "" {
			e.quiet("userdel", e.rlUser)
		}
		return
	}
	if r.berth != nil {
		out, _ := execOutput(append(append([]string(nil), r.berth...), "ps", "-aq")...)
		if ids := strings.Fields(out); len(ids) > 0 {
			e.quiet(append(append(append([]string(nil), r.berth...), "rm", "-f"), ids...)...)
		}
	}
	if r.podman != nil && r.podmanErr == nil {
		e.quiet(append(append([]string(nil), r.podman...), "rm", "-a", "-f")...)
	}
	// The namespace holders of the user's berth and podman.
	for _, f := range []string{filepath.Join(r.run, "berth", "rootless", "pause.pid"), filepath.Join(r.run, "libpod", "tmp", "pause.pid")} {
		if b, err := os.ReadFile(f); err == nil {
			if pid, _ := strconv.Atoi(strings.Fields(string(b) + " 0")[0]); pid > 0 {
				var st syscall.Stat_t
				if syscall.Stat("/proc/"+strconv.Itoa(pid), &st) == nil && int(st.Uid) == r.uid {
					_ = syscall.Kill(pid, syscall.SIGKILL) // the bench user's, started for these rows
				}
			}
		}
	}
	time.Sleep(100 * time.Millisecond) // the holders' files close
	e.quiet("userdel", r.name)
	_ = os.RemoveAll(r.base) // the user's stores, whatever their owners
	if r.tunMode != 0 {
		_ = os.Chmod("/dev/net/tun", r.tunMode) // as it was
	}
}

// rootlessRunOp is run --rm --network none for berth and podman,
// rootless.
func (e *env) rootlessRunOp(p string) (*op, string) {
	if p != "berth" && p != "podman" {
		return nil, "no rootless engine"
	}
	r, err := e.rootless()
	if err != nil {
		return nil, oneLine(err)
	}
	// Timed as the user's own processes (the credentials set at fork),
	// with no setpriv or env in between: what a user's shell starts.
	a := []string{r.berthBin, "run", "--rm", "--network", "none", image, "/bin/true"}
	if p == "podman" {
		if r.podmanErr != nil {
			return nil, oneLine(r.podmanErr)
		}
		a = append(append([]string{findBin("podman")}, r.podman[len(r.podman)-6:]...), "run", "--rm", "--network", "none",
			"--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096", image, "/bin/true")
	}
	return &op{once: func(int) (time.Duration, error) { return e.timedAs(r, a...) }}, ""
}

// timedAs is timed for a command of the rootless user.
func (e *env) timedAs(r *rootlessEnv, argv ...string) (time.Duration, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = r.env
	cmd.Dir = r.home
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(r.uid), Gid: uint32(r.gid), Groups: []uint32{}}}
	out := e.errFile()
	defer e.returnErrFile(out)
	return runTimed(cmd, out)
}

// iperfMounts give a busybox container Debian's iperf3 and its
// libraries, read-only.
var iperfMounts = []string{"-v", "/usr/bin/iperf3:/usr/bin/iperf3:ro", "-v", "/usr/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:ro",
	"-v", "/usr/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro", "-v", "/lib64:/lib64:ro"}

// portThroughput measures TCP from the host into a container through a
// published port: iperf3 -s in a container the engine runs with
// runArgs (it publishes PORT), three 2-second iperf3 -c runs from the
// host, the median in Gbit/s.
func (e *env) portThroughput(cli []string, extra ...string) (string, string) {
	if findBin("iperf3") == "" {
		return "", "iperf3 is not installed (make bench installs it)"
	}
	port := strconv.Itoa(20000 + int(time.Now().UnixNano()%10000))
	name := e.id("iperf")
	a := append(append([]string(nil), cli...), "run", "-d", "--name", name, "-p", "127.0.0.1:"+port+":5201")
	a = append(append(append(a, extra...), iperfMounts...), image, "/usr/bin/iperf3", "-s")
	if out, err := exec.Command(a[0], a[1:]...).CombinedOutput(); err != nil {
		return "", "iperf3 server: " + oneLine(fmt.Errorf("%v: %s", err, lastOf(string(out))))
	}
	defer e.quiet(append(append([]string(nil), cli...), "rm", "-f", name)...)
	var rates []float64
	for i := 0; i < 40 && len(rates) < 3; i++ {
		out, err := exec.Command("iperf3", "-c", "127.0.0.1", "-p", port, "-t", "2", "-J").Output()
		if err != nil {
			time.Sleep(100 * time.Millisecond) // the server is starting
			continue
		}
		var res struct {
			End struct {
				SumReceived struct {
					BitsPerSecond float64 `json:"bits_per_second"`
				} `json:"sum_received"`
			} `json:"end"`
		}
		if json.Unmarshal(out, &res) == nil && res.End.SumReceived.BitsPerSecond > 0 {
			rates = append(rates, res.End.SumReceived.BitsPerSecond/1e9)
		}
	}
	if len(rates) == 0 {
		return "", "iperf3 got no answer through the published port"
	}
	sort.Float64s(rates)
	return fmt.Sprintf("%.1f Gbit/s", rates[len(rates)/2]), ""
}

// rootlessThroughput is the rootless port row: berth's forwarder, and
// podman with slirp4netns's own port forwarding.
func (e *env) rootlessThroughput(p string) (string, string) {
	if p != "berth" && p != "podman" {
		return "", "no rootless engine"
	}
	r, err := e.rootless()
	if err != nil {
		return "", oneLine(err)
	}
	if p == "podman" {
		if r.podmanErr != nil {
			return "", oneLine(r.podmanErr)
		}
		return e.portThroughput(r.podman, "--network", "slirp4netns:port_handler=slirp4netns", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=4096:4096")
	}
	return e.portThroughput(r.berth)
}

// rootfulThroughput is the same through a rootful engine's bridge.
func (e *env) rootfulThroughput(p string) (string, string) {
	switch {
	case p != "berth":
		return "", "measured for berth; the rootless row has the peers"
	case e.engine == nil:
		return "", "the berth engine did not set up"
	}
	return e.portThroughput(e.engine)
}

// rootlessRatios notes rootless berth's start against rootful berth's
// (the goal: within 1.2 ×) when both rows ran.
func (e *env) rootlessRatios(results []scenarioResult) {
	median := func(id, peer string) float64 {
		for _, r := range results {
			if r.ID == id {
				for _, p := range r.Peers {
					if p.Peer == peer && p.N > 0 {
						return p.Median
					}
				}
			}
		}
		return 0
	}
	if rl, rf := median("rootless-run", "berth"), median("engine-run", "berth"); rl > 0 && rf > 0 {
		e.notes = append(e.notes, fmt.Sprintf("rootless berth run --rm is %.2f × rootful berth's (%s vs %s, medians).", rl/rf, fmtMs(rl), fmtMs(rf)))
	}
}
