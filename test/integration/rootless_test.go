package integration

import (
	"archive/tar"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// rootlessUser is an unprivileged test user with a home of its own,
// and the berth binary and busybox tar where it can read them.
type rootlessUser struct {
	name, home, runDir, bin, tar string
	uid, gid                     int
}

// newRootlessUser makes a user (removed at the end, with everything it
// made: its pause process, its files) with, when subStart is not 0, a
// subordinate range of 65536 ids from subStart.
func newRootlessUser(t *testing.T, subStart int) *rootlessUser {
	t.Helper()
	for _, tool := range []string{"useradd", "userdel", "usermod", "setpriv", "newuidmap"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make deps installs it): %v", tool, err)
		}
	}
	b := make([]byte, 3)
	rand.Read(b)
	u := &rootlessUser{name: "berthrl" + hex.EncodeToString(b)}
	// A world-traversable base: the suite's temp dirs are private.
	base, err := os.MkdirTemp("/tmp", "berth-rootless-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(base, 0o755)
	u.home = filepath.Join(base, "home")
	if out, err := exec.Command("useradd", "--no-user-group", "-g", "nogroup", "-M", "-d", u.home, "-s", "/bin/sh", u.name).CombinedOutput(); err != nil {
		os.RemoveAll(base)
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() {
		// What a failed test left running goes first: without a cgroup,
		// only the runtime knows the container's processes.
		if ids := strings.Fields(u.berth(t, "ps", "-aq").stdout); len(ids) > 0 {
			u.berth(t, append([]string{"rm", "-f"}, ids...)...)
		}
		u.stopPause(t)
		exec.Command("userdel", u.name).Run()
		os.RemoveAll(base) // the user's files, whatever their owners
		for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
			if b, _ := os.ReadFile(f); strings.Contains(string(b), u.name+":") {
				t.Errorf("%s keeps %s's range", f, u.name)
			}
		}
	})
	// useradd may have given a range of its own (SUB_UID_MIN): the test
	// decides.
	exec.Command("usermod", "--del-subuids", "1-4294967294", "--del-subgids", "1-4294967294", u.name).Run()
	if subStart != 0 {
		r := strconv.Itoa(subStart) + "-" + strconv.Itoa(subStart+65535)
		if out, err := exec.Command("usermod", "--add-subuids", r, "--add-subgids", r, u.name).CombinedOutput(); err != nil {
			t.Fatalf("usermod: %v %s", err, out)
		}
	}
	pw, err := user.Lookup(u.name)
	if err != nil {
		t.Fatal(err)
	}
	u.uid, _ = strconv.Atoi(pw.Uid)
	u.gid, _ = strconv.Atoi(pw.Gid)
	u.runDir = filepath.Join(base, "run")
	for _, d := range []string{u.home, u.runDir} {
		os.Mkdir(d, 0o700)
		os.Chown(d, u.uid, u.gid)
	}
	u.bin = filepath.Join(base, "berth")
	if out, err := exec.Command("cp", *berthBin, u.bin).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	u.tar = filepath.Join(base, "busybox.tar")
	if out, err := exec.Command("tar", "-C", *busybox, "-cf", u.tar, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v %s", err, out)
	}
	os.Chmod(u.tar, 0o644)
	return u
}

// berth runs the user's berth with a login's environment.
func (u *rootlessUser) berth(t *testing.T, args ...string) result {
	t.Helper()
	return u.berthEnv(t, nil, args...)
}

// berthEnv is berth with more environment variables.
func (u *rootlessUser) berthEnv(t *testing.T, env []string, args ...string) result {
	t.Helper()
	pre := append([]string{"--reuid", strconv.Itoa(u.uid), "--regid", strconv.Itoa(u.gid), "--clear-groups",
		"env", "-i", "HOME=" + u.home, "XDG_RUNTIME_DIR=" + u.runDir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}, env...)
	cmd := exec.Command("setpriv", append(append(pre, u.bin), args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run berth as %s: %v", u.name, err)
	}
	return r
}

func (u *rootlessUser) must(t *testing.T, args ...string) string {
	t.Helper()
	r := u.berth(t, args...)
	if r.code != 0 {
		t.Fatalf("berth %v as %s: exit %d: %s", args, u.name, r.code, r.stderr)
	}
	return r.stdout
}

// stopPause ends the user's namespace holder, which berth started for
// the user's commands (and every monitor with it is gone by now).
func (u *rootlessUser) stopPause(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(u.runDir, "berth", "rootless", "pause.pid"))
	if err != nil {
		return
	}
	pid, _ := strconv.Atoi(strings.Fields(string(b) + " 0")[0])
	if pid <= 0 {
		return
	}
	if st, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(u.uid) {
		return // gone, or not the user's any more
	}
	unix.Kill(pid, unix.SIGKILL) // the holder berth started for this test's user
	for i := 0; i < 200; i++ {
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || strings.Contains(string(b), ") Z ") {
			return // gone, or a zombie that init reaps
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Errorf("the pause process %d stays", pid)
}

// An unprivileged user with a subordinate range runs containers: root
// inside is the user's uid outside, the range maps the others, layers
// keep their owners (as the range maps them), and run -d, exec, logs,
// cp, stop, rm and rmi work; a limit that cannot be enforced is refused;
// nothing is left in the user's stores after rm and rmi.
func TestRootlessRun(t *testing.T) {
	u := newRootlessUser(t, 400000)
	if r := u.berth(t, "import", u.tar, "bb"); r.code != 0 || strings.Contains(r.stderr, "warning") {
		t.Fatalf("import: %d %s", r.code, r.stderr)
	}
	// The pause is up since import: nsenter's constructor joins its
	// namespaces, with no second start of the binary.
	if r := u.berthEnv(t, []string{"BERTH_TRACE=1"}, "images", "-q"); r.code != 0 || !strings.Contains(r.stderr, "cli rootless namespaces joined before Go") {
		t.Fatalf("second command: %d %q", r.code, r.stderr)
	}
	out := u.must(t, "run", "--rm", "--network", "none", "bb", "sh", "-c", "id -u; cat /proc/self/uid_map; echo x > /tmp/f; stat -c %u /tmp/f")
	want := "0\n0 " + strconv.Itoa(u.uid) + " 1\n1 400000 65536\n0\n"
	if got := strings.Join(strings.Fields(strings.ReplaceAll(out, "\n", " \n ")), " "); got != strings.Join(strings.Fields(strings.ReplaceAll(want, "\n", " \n ")), " ") {
		t.Fatalf("inside: %q, want %q", out, want)
	}
	// Unpacked as the namespace's root: the image's root-owned files
	// belong to the user on the host.
	snaps, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "snapshots", "*", "fs", "bin", "busybox"))
	if len(snaps) != 1 {
		t.Fatalf("the layer's busybox: %v", snaps)
	}
	if st, err := os.Stat(snaps[0]); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(u.uid) {
		t.Fatalf("a root-owned file of the layer on the host: %v %+v", err, st)
	}
	// A pull from the loopback registry, unpacked with the image's owners.
	reg := startRegistry(t, nil)
	pushImage(t, reg+"/owned:1", imageOf(t, hostArch(), v1.Config{}, layerOf(t, tarEntry{name: "owned", typ: tar.TypeReg, body: "x", uid: 1234})))
	u.must(t, "pull", reg+"/owned:1")
	owned, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "snapshots", "*", "fs", "owned"))
	if len(owned) != 1 {
		t.Fatalf("the pulled layer: %v", owned)
	}
	if st, err := os.Stat(owned[0]); err != nil || st.Sys().(*syscall.Stat_t).Uid != 400000+1233 {
		t.Fatalf("uid 1234 of the layer on the host: %v %+v", err, st)
	}
	u.must(t, "rmi", reg+"/owned:1")
	u.must(t, "run", "-d", "--name", "s", "--network", "none", "bb", "sh", "-c", "echo started; exec sleep 100")
	if got := u.must(t, "exec", "s", "sh", "-c", "id -u; touch /tmp/app; chown 1000:1000 /tmp/app; stat -c %u /tmp/app"); got != "0\n1000\n" {
		t.Fatalf("exec: %q", got)
	}
	// uid 1000 inside is the range's 999th id outside.
	if got := u.must(t, "inspect", "-f", "{{.State.Pid}}", "s"); got != "" {
		pid := strings.TrimSpace(got)
		st, err := os.Stat("/proc/" + pid + "/root/tmp/app")
		if err != nil || st.Sys().(*syscall.Stat_t).Uid != 400000+999 {
			t.Fatalf("uid 1000's file on the host: %v %+v", err, st)
		}
	}
	if got := u.must(t, "logs", "s"); got != "started\n" {
		t.Fatalf("logs: %q", got)
	}
	in := filepath.Join(u.home, "in")
	os.WriteFile(in, []byte("copied\n"), 0o644)
	u.must(t, "cp", in, "s:/tmp/in")
	u.must(t, "cp", "s:/tmp/in", filepath.Join(u.home, "back"))
	if b, _ := os.ReadFile(filepath.Join(u.home, "back")); string(b) != "copied\n" {
		t.Fatalf("cp back: %q", b)
	}
	if r := u.berth(t, "run", "--rm", "--network", "none", "-m", "64m", "bb", "true"); r.code == 0 || !strings.Contains(r.stderr, "no cgroup is delegated") {
		t.Fatalf("--memory without a cgroup: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "run", "--rm", "--network", "none", "--storage-opt", "size=20m", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, "loop device") {
		t.Fatalf("--storage-opt rootless: %d %q", r.code, r.stderr)
	}
	rootlessUserns(t, u, 400000)
	if got := u.must(t, "info", "--format", "{{.SecurityOptions}} {{.CgroupDriver}} {{.DockerRootDir}}"); !strings.Contains(got, "name=rootless") ||
		!strings.Contains(got, " none "+filepath.Join(u.home, ".local", "share", "berth")) {
		t.Fatalf("info: %q", got)
	}
	u.must(t, "stop", "-t", "0", "s")
	u.must(t, "rm", "s")
	u.must(t, "rmi", "bb")
	store := filepath.Join(u.home, ".local", "share", "berth")
	for _, d := range []string{"containers", "snapshots"} {
		ents, _ := os.ReadDir(filepath.Join(store, d))
		for _, e := range ents {
			if e.Name() != "names" {
				t.Errorf("left in %s: %s", d, e.Name())
			}
		}
	}
	if blobs, _ := os.ReadDir(filepath.Join(store, "image", "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("%d blobs left", len(blobs))
	}
}

// A user without a subordinate range gets the single mapping (root
// inside is the user), with a one-line warning when berth starts its
// namespaces.
func TestRootlessWithoutASubordinateRange(t *testing.T) {
	u := newRootlessUser(t, 0)
	r := u.berth(t, "import", u.tar, "bb")
	if r.code != 0 || strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, "warning: no subordinate ids for "+u.name) {
		t.Fatalf("first command: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "run", "--rm", "--network", "none", "--userns=auto", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, "the user has no subordinate IDs to hand out") {
		t.Fatalf("--userns=auto without a range: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "run", "--rm", "--network", "none", "--userns=keep-id", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, "the user has no subordinate IDs to map") {
		t.Fatalf("--userns=keep-id without a range: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "images", "-q"); r.stderr != "" {
		t.Fatalf("the warning comes again: %q", r.stderr)
	}
	out := u.must(t, "run", "--rm", "--network", "none", "bb", "cat", "/proc/self/uid_map")
	if got := strings.Fields(out); strings.Join(got, " ") != "0 "+strconv.Itoa(u.uid)+" 1" {
		t.Fatalf("uid_map: %q", out)
	}
	u.must(t, "rmi", "bb")
}

// A rootless container on the default network gets a user-mode network
// (slirp4netns: eth0 10.0.2.100, MTU 65520, slirp4netns's name server),
// and published tcp and udp ports are served from the host by berth's
// forwarder; a
// port below the unprivileged start is refused in one line, and
// user-defined networks say they need root.
func TestRootlessNetwork(t *testing.T) {
	usersTun(t)
	u := newRootlessUser(t, 470000)
	u.must(t, "import", u.tar, "bb")
	out := u.must(t, "run", "--rm", "bb", "sh", "-c", "ip -o -4 addr show eth0 | grep -o 'inet [0-9./]*'; cat /sys/class/net/eth0/mtu; grep nameserver /etc/resolv.conf; ip route | grep default")
	if !strings.Contains(out, "inet 10.0.2.100/24\n65520\nnameserver 10.0.2.3\ndefault via 10.0.2.2") {
		t.Fatalf("the user-mode network: %q", out)
	}
	port := freePort(t)
	u.must(t, "run", "-d", "--name", "web", "-p", "127.0.0.1:"+strconv.Itoa(port)+":80", "bb", "sh", "-c",
		"mkdir /www && echo rootless-web > /www/index.html && exec httpd -f -p 80 -h /www")
	if got := getWhenUp(t, port); got != "rootless-web\n" {
		t.Fatalf("the published port serves %q", got)
	}
	// udp: each client's datagrams come back to it.
	probe := filepath.Join(u.home, "probe")
	if out, err := exec.Command("cp", probeBinary(t), probe).CombinedOutput(); err != nil {
		t.Fatalf("cp probe: %v %s", err, out)
	}
	os.Chmod(probe, 0o755)
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	uport := strconv.Itoa(pc.LocalAddr().(*net.UDPAddr).Port)
	pc.Close()
	u.must(t, "run", "-d", "--name", "echo", "-p", "127.0.0.1:"+uport+":7/udp", "-v", probe+":/probe:ro", "bb", "/probe", "udpecho", "7")
	for _, msg := range []string{"one", "two"} {
		c, err := net.Dial("udp4", "127.0.0.1:"+uport)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		waitFor(t, func() bool {
			c.Write([]byte(msg))
			c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			b := make([]byte, 64)
			n, _ := c.Read(b)
			got = string(b[:n])
			return got != ""
		})
		c.Close()
		if got != msg {
			t.Fatalf("udp through the published port: sent %q, got %q", msg, got)
		}
	}
	u.must(t, "rm", "-f", "echo")
	if r := u.berth(t, "run", "--rm", "-p", "80:80", "bb", "true"); r.code == 0 || !strings.Contains(r.stderr, "ip_unprivileged_port_start") {
		t.Fatalf("a privileged port: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "run", "--rm", "-p", strconv.Itoa(port)+":80", "bb", "true"); r.code == 0 || !strings.Contains(r.stderr, "already allocated") {
		t.Fatalf("a port in use: %d %q", r.code, r.stderr)
	}
	if r := u.berth(t, "network", "create", "front"); r.code == 0 {
		r := u.berth(t, "run", "--rm", "--network", "front", "bb", "true")
		u.berth(t, "network", "rm", "front")
		if r.code == 0 || !strings.Contains(r.stderr, "need root") {
			t.Fatalf("a user-defined network: %d %q", r.code, r.stderr)
		}
	}
	u.must(t, "rm", "-f", "web")
	if _, err := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/"); err == nil {
		t.Fatal("the port is still served after rm")
	}
	u.must(t, "rmi", "bb")
}

// usersTun makes /dev/net/tun usable by users for the test, as Debian
// has it (0666); this machine's is 0600.
func usersTun(t *testing.T) {
	tun, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Fatalf("/dev/net/tun: %v", err)
	}
	if tun.Mode().Perm() != 0o666 {
		os.Chmod("/dev/net/tun", 0o666)
		t.Cleanup(func() { os.Chmod("/dev/net/tun", tun.Mode().Perm()) })
	}
}

// Rootless, berth build runs RUN steps in the user namespace (as its
// root, on the user-mode network), and berth serve listens on
// $XDG_RUNTIME_DIR/berth/docker.sock for the docker CLI.
func TestRootlessBuildAndServe(t *testing.T) {
	requireDockerCLI(t)
	usersTun(t)
	u := newRootlessUser(t, 540000)
	u.must(t, "import", u.tar, "bb")
	ctx := filepath.Join(u.home, "ctx")
	os.Mkdir(ctx, 0o755)
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM bb\nRUN echo built > /built && id -u > /who && chown 1000 /who\nCMD [\"cat\", \"/built\"]\n"), 0o644)
	u.must(t, "build", "-t", "app", ctx)
	if got := u.must(t, "run", "--rm", "--network", "none", "app", "sh", "-c", "cat /built /who; stat -c %u /who"); got != "built\n0\n1000\n" {
		t.Fatalf("the built image: %q", got)
	}
	sock := filepath.Join(u.runDir, "berth", "docker.sock")
	serve := exec.Command("setpriv", "--reuid", strconv.Itoa(u.uid), "--regid", strconv.Itoa(u.gid), "--clear-groups",
		"env", "-i", "HOME="+u.home, "XDG_RUNTIME_DIR="+u.runDir, "PATH=/usr/sbin:/usr/bin:/sbin:/bin", u.bin, "serve")
	var logs bytes.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			serve.Process.Signal(unix.SIGTERM) // the server this test started
			serve.Wait()
		}
	}
	defer stop()
	waitFor(t, func() bool { _, err := os.Stat(sock); return err == nil })
	if got := mustDocker(t, sock, "run", "--rm", "--network", "none", "app"); got != "built\n" {
		t.Fatalf("docker run through the rootless server: %q (server: %s)", got, logs.String())
	}
	if got := mustDocker(t, sock, "info", "--format", "{{.SecurityOptions}}"); !strings.Contains(got, "name=rootless") {
		t.Fatalf("docker info: %q", got)
	}
	stop()
	u.must(t, "rmi", "app", "bb")
}

// rootlessUserns runs containers in user namespaces of their own out of
// the user's subordinate range: the kernel refuses the user idmapped
// mounts of the store, so the layers are copies with shifted owners,
// made once per range and removed with the image.
func rootlessUserns(t *testing.T, u *rootlessUser, subStart int) {
	t.Helper()
	// The container's root is not the user: it must be able to reach
	// the store, as with Docker's userns-remap. Said in one line.
	local, share := filepath.Join(u.home, ".local"), filepath.Join(u.home, ".local", "share")
	want := u.home + " is not searchable by the container's user (chmod o+x " + u.home + " " + local + " " + share + ")"
	if r := u.berth(t, "run", "--rm", "--network", "none", "--userns=auto", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
		t.Fatalf("--userns=auto with a private home: %d %q", r.code, r.stderr)
	}
	for _, d := range []string{u.home, local, share} {
		if err := os.Chmod(d, 0o711); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(d, 0o700)
	}
	script := "id -u; cat /proc/self/uid_map; stat -c %u:%g /bin/busybox; touch /x; stat -c %u /x"
	for i := 0; i < 2; i++ { // the second run takes the copies the first made
		got := strings.Fields(u.must(t, "run", "--rm", "--network", "none", "--userns=auto", "bb", "sh", "-c", script))
		if strings.Join(got, " ") != "0 0 1 4096 0:0 0" {
			t.Fatalf("--userns=auto rootless, run %d: %q", i, got)
		}
	}
	// On the host the copy's root is the range's first ID: the user's
	// namespace maps ID 1 to the first subordinate ID.
	copies, _ := filepath.Glob(filepath.Join(u.home, ".local", "share", "berth", "snapshots", "*", "shifted", "1-4096", "bin", "busybox"))
	if len(copies) != 1 {
		t.Fatalf("shifted copies: %v", copies)
	}
	if st, err := os.Lstat(copies[0]); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(subStart) {
		t.Fatalf("the copy's owner: %v %+v", err, st)
	}
	got := strings.Fields(u.must(t, "run", "--rm", "--network", "none", "--userns=auto:size=200", "bb", "sh", "-c", "id -u; cat /proc/self/uid_map"))
	if strings.Join(got, " ") != "0 0 1 200" {
		t.Fatalf("--userns=auto:size=200 rootless: %q", got)
	}
	// keep-id: the user is themselves in the container, so what the
	// process writes to a directory of theirs is theirs on the host.
	work := filepath.Join(u.home, "work")
	os.Mkdir(work, 0o755)
	os.Chown(work, u.uid, u.gid)
	got = strings.Fields(u.must(t, "run", "--rm", "--network", "none", "--userns=keep-id", "-v", work+":/w", "bb", "sh", "-c",
		"id -u; id -g; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /w/f"))
	U := strconv.Itoa(u.uid)
	keep := []string{U, strconv.Itoa(u.gid), "0", "1", U, U, "0", "1", strconv.Itoa(u.uid + 1), strconv.Itoa(u.uid + 1), strconv.Itoa(65535 - u.uid), "0"}
	if strings.Join(got, " ") != strings.Join(keep, " ") {
		t.Fatalf("--userns=keep-id: %q, want %q", got, keep)
	}
	if st, err := os.Lstat(filepath.Join(work, "f")); err != nil || st.Sys().(*syscall.Stat_t).Uid != uint32(u.uid) {
		t.Fatalf("keep-id's file on the host: %v %+v", err, st)
	}
	for opt, want := range map[string]string{
		"--userns=auto:size=70000": "no free range of 70000 IDs left (IDs 1 to 65536 are handed out)",
		"--uidmap=0:60000:10000":   "--uidmap: IDs 60000 to 69999 are not in rootless berth's range (1 to 65536",
	} {
		if r := u.berth(t, "run", "--rm", "--network", "none", opt, "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("%s rootless: %d %q", opt, r.code, r.stderr)
		}
	}
}

// TestRootlessFuseOverlayfs runs a rootless container on fuse-overlayfs,
// as BERTH_STORAGE_DRIVER asks (this kernel never refuses native
// overlayfs, where berth falls back on it by itself), and checks that
// its daemon goes with the container.
func TestRootlessFuseOverlayfs(t *testing.T) {
	if _, err := exec.LookPath("fuse-overlayfs"); err != nil {
		t.Fatalf("fuse-overlayfs is needed (make deps installs it): %v", err)
	}
	u := newRootlessUser(t, 610000)
	u.must(t, "import", u.tar, "bb")
	fuse := []string{"BERTH_STORAGE_DRIVER=fuse-overlayfs"}
	dev, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if dev.Mode().Perm()&0o006 != 0o006 {
		// As Debian's 0666 is not here: first the refusal, in a line.
		if r := u.berthEnv(t, fuse, "run", "--rm", "--network", "none", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, "fuse-overlayfs needs /dev/fuse read-write") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("fuse-overlayfs without /dev/fuse: %d %q", r.code, r.stderr)
		}
		os.Chmod("/dev/fuse", 0o666)
		t.Cleanup(func() { os.Chmod("/dev/fuse", dev.Mode().Perm()) })
	}
	r := u.berthEnv(t, fuse, "run", "--rm", "--network", "none", "bb", "sh", "-c", "grep ' / ' /proc/mounts; echo x > /f; cat /f")
	if r.code != 0 || !strings.Contains(r.stdout, "fuse-overlayfs / fuse.fuse-overlayfs") || !strings.HasSuffix(r.stdout, "x\n") {
		t.Fatalf("run on fuse-overlayfs: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := u.berthEnv(t, fuse, "info", "--format", "{{.Warnings}}").stdout; !strings.Contains(got, "storage is fuse-overlayfs, as BERTH_STORAGE_DRIVER asks") {
		t.Fatalf("info: %q", got)
	}
	if r := u.berthEnv(t, []string{"BERTH_STORAGE_DRIVER=vfs"}, "run", "--rm", "--network", "none", "bb", "true"); r.code != 125 || !strings.Contains(r.stderr, "want overlay or fuse-overlayfs") {
		t.Fatalf("a copying driver: %d %q", r.code, r.stderr)
	}
	// Its daemons went with the mounts.
	var left []string
	for i := 0; i < 100; i++ {
		left = nil
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, _ := os.ReadFile(p); strings.HasPrefix(string(b), "fuse-overlayfs\x00") && strings.Contains(string(b), u.home) {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) > 0 {
		t.Fatalf("fuse-overlayfs left running: %v", left)
	}
	u.must(t, "rmi", "bb")
}
