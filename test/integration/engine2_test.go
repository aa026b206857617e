package integration

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// run -it detaches with ctrl-p ctrl-q and the container keeps running;
// attach re-attaches, its input reaches the container, and attach exits
// with the container's code once it ends.
func TestEngineAttachDetach(t *testing.T) {
	root := engineWithBusybox(t)
	// The keys come once the container had time to echo the line.
	r := engineInPty(t, root, &slowReader{parts: []string{"hello\n", "\x10\x11"}, pause: 500 * time.Millisecond}, "run", "-it", "--name", "cat", "busybox:it", "cat")
	if r.code != 0 || !strings.Contains(r.stdout, "hello") {
		t.Fatalf("run -it then detach: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if st := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}}", "cat")); st != "running" {
		t.Fatalf("after detach the container is %s", st)
	}
	// Another detach sequence, then input that ends the container (^D).
	r = engineIn(t, root, &slowReader{parts: []string{"again\n", "\x04"}, pause: 300 * time.Millisecond}, "attach", "--detach-keys", "ctrl-x", "cat")
	if r.code != 0 || !strings.Contains(r.stdout, "again") {
		t.Fatalf("attach: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if st := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "cat")); st != "exited 0" {
		t.Fatalf("after ^D: %s", st)
	}
	if r := engine(t, root, "attach", "cat"); r.code == 0 || !strings.Contains(r.stderr, "start it first") {
		t.Fatalf("attach to an exited container: %d %q", r.code, r.stderr)
	}
	if r := engineInPty(t, root, strings.NewReader(""), "run", "-it", "--detach-keys", "ctrl-", "busybox:it", "true"); r.code != 125 {
		t.Fatalf("bad detach keys: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// -it wants a terminal, as Docker's: a pipe is refused, nothing made.
	if r := engineIn(t, root, strings.NewReader("x\n"), "run", "-it", "--name", "piped", "busybox:it", "cat"); r.code != 1 || !strings.Contains(r.stderr, "the input device is not a TTY") {
		t.Fatalf("run -it from a pipe: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "inspect", "piped"); r.code == 0 {
		t.Fatal("a refused run -it made its container")
	}
	// A non-tty attach keeps stdout and stderr apart.
	mustEngine(t, root, "run", "-d", "--name", "talker", "busybox:it", "sh", "-c", "sleep 0.5; echo out; echo err >&2")
	if r := engine(t, root, "attach", "talker"); r.code != 0 || r.stdout != "out\n" || r.stderr != "err\n" {
		t.Fatalf("attach without a tty: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// -i passes stdin and closes it at its end; -t gives a terminal; exec
// takes -i and -t too.
func TestEngineInteractiveAndTty(t *testing.T) {
	root := engineWithBusybox(t)
	if r := engineIn(t, root, strings.NewReader("line1\nline2\n"), "run", "--rm", "-i", "busybox:it", "sh", "-c", "cat; echo done"); r.code != 0 || r.stdout != "line1\nline2\ndone\n" {
		t.Fatalf("run -i: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := engineIn(t, root, strings.NewReader("ignored\n"), "run", "--rm", "busybox:it", "sh", "-c", "cat; echo eof"); r.code != 0 || r.stdout != "eof\n" {
		t.Fatalf("run without -i must not pass stdin: %d %q", r.code, r.stdout)
	}
	r := engine(t, root, "run", "--rm", "-t", "busybox:it", "sh", "-c", `tty; echo "TERM=$TERM"`)
	if r.code != 0 || !strings.Contains(r.stdout, "/dev/pts/0") || !strings.Contains(r.stdout, "TERM=xterm") || !strings.Contains(r.stdout, "\r\n") {
		t.Fatalf("run -t: %d %q %q", r.code, r.stdout, r.stderr)
	}
	mustEngine(t, root, "run", "-d", "--name", "box", "busybox:it", "sleep", "100")
	if r := engineIn(t, root, strings.NewReader("piped\n"), "exec", "-i", "box", "cat"); r.code != 0 || r.stdout != "piped\n" {
		t.Fatalf("exec -i: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := engine(t, root, "exec", "-t", "box", "sh", "-c", "tty; exit 3"); r.code != 3 || !strings.HasPrefix(r.stdout, "/dev/pts/") {
		t.Fatalf("exec -t: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// An exec session with a terminal outlives its start: exec -dt keeps
// its terminal, and exec -it detaches on ctrl-p ctrl-q (or
// --detach-keys) with its process still running. attach ends a detach
// as exec does, and as the docker CLI does.
func TestEngineExecDetach(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "box", "busybox:it", "sleep", "100")
	mustEngine(t, root, "exec", "-dt", "box", "sh", "-c", "tty > /tmp/tty; exec sleep 300")
	waitFor(t, func() bool {
		return strings.Contains(engine(t, root, "exec", "box", "cat", "/tmp/tty").stdout, "/dev/pts/")
	})
	r := engineInPty(t, root, &slowReader{parts: []string{"echo hi-$((1+1))\n", "\x10\x11"}, pause: 500 * time.Millisecond}, "exec", "-it", "box", "sh")
	// Ended as the docker CLI ends it: a message and 1.
	if r.code != 1 || !strings.Contains(r.stdout, "hi-2") || !strings.HasSuffix(r.stdout, "read escape sequence\r\n") {
		t.Fatalf("exec -it then detach: %d %q %q", r.code, r.stdout, r.stderr)
	}
	r = engineInPty(t, root, &slowReader{parts: []string{"echo yo\n", "\x18x"}, pause: 500 * time.Millisecond}, "exec", "-it", "--detach-keys", "ctrl-x,x", "box", "cat")
	if r.code != 1 || !strings.Contains(r.stdout, "yo") {
		t.Fatalf("exec -it --detach-keys: %d %q %q", r.code, r.stdout, r.stderr)
	}
	ps := mustEngine(t, root, "exec", "box", "ps", "-o", "args")
	for _, want := range []string{"sleep 300", "\nsh\n", "\ncat\n"} {
		if !strings.Contains(ps, want) {
			t.Fatalf("a detached session's process is gone (%q):\n%s", want, ps)
		}
	}
	mustEngine(t, root, "run", "-dit", "--name", "sh", "busybox:it", "sh")
	r = engineInPty(t, root, &slowReader{parts: []string{"echo there\n", "\x10\x11"}, pause: 500 * time.Millisecond}, "attach", "sh")
	if r.code != 1 || !strings.Contains(r.stdout, "there") || !strings.HasSuffix(r.stdout, "read escape sequence\r\n") {
		t.Fatalf("attach then detach: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := engineInPty(t, root, strings.NewReader(""), "exec", "-it", "--detach-keys", "ctrl-", "box", "true"); r.code != 1 || !strings.Contains(r.stdout, "invalid detach keys") {
		t.Fatalf("bad detach keys: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// Named volumes outlive containers and start with the image's content;
// an image VOLUME gets an anonymous volume that rm -v removes; --mount
// makes binds, volumes and tmpfs; a volume in use cannot be removed.
// TestEngineVolumeDriverOptions: the local driver's -o mounts a tmpfs
// or binds a host directory on the volume when a container uses it;
// removing the volume unmounts it and leaves a bound host directory's
// files alone; bad options are refused and make nothing.
func TestEngineVolumeDriverOptions(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,uid=1000", "tv")
	if got := mustEngine(t, root, "volume", "inspect", "-f", "{{json .Options}}", "tv"); got != `{"device":"tmpfs","o":"size=1m,uid=1000","type":"tmpfs"}`+"\n" {
		t.Fatalf("inspect: %q", got)
	}
	if got := mustEngine(t, root, "run", "--rm", "-v", "tv:/data", "busybox:it", "sh", "-c", "stat -f -c %T /data; stat -c %u /data; echo x > /data/f"); got != "tmpfs\n1000\n" {
		t.Fatalf("a tmpfs volume: %q", got)
	}
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustEngine(t, root, "volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device="+host, "bv")
	if got := mustEngine(t, root, "run", "--rm", "-v", "bv:/data", "busybox:it", "sh", "-c", "cat /data/f; echo c > /data/g"); got != "host\n" {
		t.Fatalf("a bound volume: %q", got)
	}
	mustEngine(t, root, "volume", "rm", "tv", "bv")
	for _, f := range []string{"f", "g"} {
		if _, err := os.Stat(filepath.Join(host, f)); err != nil {
			t.Fatalf("volume rm of a bound volume: the host's %s: %v", f, err)
		}
	}
	if mi, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mi), root) {
		t.Fatalf("a volume's mount outlived it: %s", mi)
	}
	for _, bad := range [][]string{
		{"volume", "create", "-o", "size=1m", "b1"},
		{"volume", "create", "-o", "type=tmpfs", "b2"},
		{"volume", "create", "-o", "type=none", "-o", "o=bind", "-o", "device=" + filepath.Join(host, "missing"), "b3"},
		{"volume", "create", "-o", "novalue", "b4"},
	} {
		if r := engine(t, root, bad...); r.code == 0 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %d %q", bad, r.code, r.stderr)
		}
	}
	if ls := mustEngine(t, root, "volume", "ls", "-q"); ls != "" {
		t.Fatalf("volumes after refused creates: %q", ls)
	}
}

func TestEngineVolumes(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "import", "-c", `CMD ["sh"]`, "-c", "VOLUME /data", filepath.Join(suiteDir, "busybox-layer.tar"), "busybox:vol")
	mustEngine(t, root, "run", "--rm", "-v", "etc:/etc", "busybox:it", "sh", "-c", "echo kept > /etc/mine")
	if r := mustEngine(t, root, "run", "--rm", "--mount", "type=volume,source=etc,target=/x,readonly", "busybox:it", "sh", "-c", "cat /x/mine; grep -c ^root: /x/passwd; touch /x/y 2>&1 || true"); !strings.HasPrefix(r, "kept\n1\n") || !strings.Contains(r, "Read-only") {
		t.Fatalf("named volume, second container: %q", r)
	}
	mp := strings.TrimSpace(mustEngine(t, root, "volume", "inspect", "-f", "{{.Mountpoint}}", "etc"))
	if b, err := os.ReadFile(filepath.Join(mp, "mine")); err != nil || string(b) != "kept\n" {
		t.Fatalf("volume mountpoint %s: %q %v", mp, b, err)
	}
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "busybox:vol", "sh", "-c", "echo d > /data/f; sleep 100"))
	vols := strings.Fields(mustEngine(t, root, "volume", "ls", "-q"))
	if len(vols) != 2 {
		t.Fatalf("volumes: %v", vols)
	}
	anon := vols[0]
	if anon == "etc" {
		anon = vols[1]
	}
	if src := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{range .Mounts}}{{.Type}} {{.Name}} {{.Destination}}{{end}}", id)); src != "volume "+anon+" /data" {
		t.Fatalf("inspect mounts: %q", src)
	}
	if r := engine(t, root, "volume", "rm", anon); r.code == 0 || !strings.Contains(r.stderr, "in use") {
		t.Fatalf("volume rm of a volume in use: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "rm", "-f", "-v", id)
	if vols := strings.Fields(mustEngine(t, root, "volume", "ls", "-q")); len(vols) != 1 || vols[0] != "etc" {
		t.Fatalf("rm -v left %v", vols)
	}
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "f"), []byte("host\n"), 0o644)
	r := mustEngine(t, root, "run", "--rm", "--mount", "type=bind,src="+host+",dst=/h,ro", "--mount", "type=tmpfs,target=/t,tmpfs-size=1m",
		"busybox:it", "sh", "-c", "cat /h/f; touch /h/g 2>/dev/null || echo ro; df -k /t | tail -1")
	if !strings.HasPrefix(r, "host\nro\n") || !strings.Contains(r, "1024") {
		t.Fatalf("--mount bind and tmpfs: %q", r)
	}
	for _, bad := range [][]string{
		{"--mount", "type=nfs,target=/x"}, {"--mount", "type=bind,src=relative,dst=/x"}, {"--mount", "type=bind,src=/nonexistent-berth,dst=/x"},
		{"-v", "bad name!:/x"}, {"-v", "a:/x", "-v", "b:/x"}, {"-v", "v:relative"},
	} {
		args := append(append([]string{"run", "--rm"}, bad...), "busybox:it", "true")
		if r := engine(t, root, args...); r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Fatalf("%v: %d %q", bad, r.code, r.stderr)
		}
	}
	if vols := strings.Fields(mustEngine(t, root, "volume", "ls", "-q")); len(vols) != 1 {
		t.Fatalf("refused runs left volumes: %v", vols)
	}
	mustEngine(t, root, "volume", "create", "spare")
	if out := mustEngine(t, root, "volume", "prune", "-a", "-f"); !strings.Contains(out, "spare") || !strings.Contains(out, "etc") {
		t.Fatalf("volume prune -a: %q", out)
	}
}

// --init is PID 1, forwards stop's SIGTERM to the command (which as PID
// 1 itself would ignore it) and reaps orphans.
func TestEngineInit(t *testing.T) {
	root := engineWithBusybox(t)
	if r := mustEngine(t, root, "run", "--rm", "--init", "busybox:it", "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; (sleep 0.1 &); sleep 0.3; ps -o stat,comm | grep -c Z || true"); !strings.HasPrefix(r, "/dev/init -- sh") || !strings.HasSuffix(r, "0\n") {
		t.Fatalf("--init: %q", r)
	}
	mustEngine(t, root, "run", "-d", "--init", "--name", "i", "busybox:it", "sleep", "100")
	start := time.Now()
	mustEngine(t, root, "stop", "-t", "20", "i")
	if code := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.ExitCode}}", "i")); code != "143" || time.Since(start) > 15*time.Second {
		t.Fatalf("stop with --init: exit %s after %v", code, time.Since(start))
	}
}

// --device, Docker's device rules, --ulimit, --env-file, --log-opt.
func TestEngineDevicesUlimitsEnvFile(t *testing.T) {
	root := engineWithBusybox(t)
	r := engine(t, root, "run", "--rm", "--device", "/dev/null:/dev/mynull:rw", "busybox:it", "sh", "-c",
		"echo x > /dev/mynull && echo written; mknod /tmp/disk b 7 0 && (head -c1 /tmp/disk >/dev/null 2>&1 || echo denied)")
	if r.code != 0 || r.stdout != "written\ndenied\n" {
		t.Fatalf("--device and device rules: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := mustEngine(t, root, "run", "--rm", "--ulimit", "nofile=100:200", "--ulimit", "nproc=50", "busybox:it", "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u"); r != "100\n200\n50\n" {
		t.Fatalf("--ulimit: %q", r)
	}
	for _, bad := range []string{"nofile=300:200", "nosuch=1", "nofile=1:999999999999"} {
		if r := engine(t, root, "run", "--rm", "--ulimit", bad, "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "--ulimit") {
			t.Fatalf("--ulimit %s: %d %q", bad, r.code, r.stderr)
		}
	}
	envFile := filepath.Join(t.TempDir(), "env")
	os.WriteFile(envFile, []byte("# comment\nA=1\nB=two words\nFROM_HOST\n"), 0o644)
	cmd := exec.Command(*berthBin, "--root", root, "--runroot", filepath.Join(root, "run"), "run", "--rm", "--env-file", envFile, "-e", "A=override", "busybox:it", "sh", "-c", `echo "$A|$B|$FROM_HOST"`)
	cmd.Env = append(os.Environ(), "FROM_HOST=h")
	if out, err := cmd.Output(); err != nil || string(out) != "override|two words|h\n" {
		t.Fatalf("--env-file: %q %v", out, err)
	}
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--log-opt", "max-size=2k", "--log-opt", "max-file=2", "busybox:it", "sh", "-c", "seq 1 2000"))
	mustEngine(t, root, "wait", id)
	logs, _ := filepath.Glob(filepath.Join(root, "containers", id, "container.log*"))
	if len(logs) != 2 {
		t.Fatalf("--log-opt max-file=2: %v", logs)
	}
	if out := mustEngine(t, root, "logs", "--tail", "1", id); out != "2000\n" {
		t.Fatalf("logs after rotation: %q", out)
	}
}

// --pid, --ipc and --network container:NAME share that container's
// namespaces; --pid host sees the host's processes.
func TestEngineSharedNamespaces(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "main", "busybox:it", "sleep", "100"))
	pid := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Pid}}", "main"))
	r := mustEngine(t, root, "run", "--rm", "--pid", "container:main", "--ipc", "container:"+id[:12], "--network", "container:main", "busybox:it", "sh", "-c",
		"ps -o comm | grep -c sleep; readlink /proc/self/ns/ipc; readlink /proc/self/ns/net")
	want := "1\n"
	for _, ns := range []string{"ipc", "net"} {
		l, _ := os.Readlink("/proc/" + pid + "/ns/" + ns)
		want += l + "\n"
	}
	if r != want {
		t.Fatalf("container: namespaces: %q, want %q", r, want)
	}
	if r := mustEngine(t, root, "run", "--rm", "--pid", "host", "busybox:it", "sh", "-c", "test -d /proc/"+pid+" && echo seen"); r != "seen\n" {
		t.Fatalf("--pid host: %q", r)
	}
	if r := engine(t, root, "run", "--rm", "--pid", "container:nosuch", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "nosuch") {
		t.Fatalf("--pid container:nosuch: %d %q", r.code, r.stderr)
	}
}

// diff lists a container's changes; commit makes an image of them;
// restart runs the container again.
func TestEngineDiffCommitRestart(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "--name", "c", "busybox:it", "sh", "-c", "echo new > /new; rm /bin/ls; mkdir /tmp/d; rm -rf /usr; mkdir /usr; touch /usr/only")
	diff := mustEngine(t, root, "diff", "c")
	for _, want := range []string{"A /new\n", "D /bin/ls\n", "C /bin\n", "A /tmp/d\n", "C /usr\n", "A /usr/only\n"} {
		if !strings.Contains(diff, want) {
			t.Fatalf("diff lacks %q:\n%s", want, diff)
		}
	}
	if strings.Contains(diff, "/etc/hosts") {
		t.Fatalf("diff shows the engine's mount points:\n%s", diff)
	}
	mustEngine(t, root, "commit", "-m", "snap", "-c", `CMD ["cat", "/new"]`, "c", "busybox:committed")
	if r := mustEngine(t, root, "run", "--rm", "busybox:committed"); r != "new\n" {
		t.Fatalf("committed image CMD: %q", r)
	}
	// The commit's parent is the container's image, in inspect and in
	// the list, as Docker keeps it; a tag does not change it.
	base := mustEngine(t, root, "image", "inspect", "-f", "{{.Id}}", "busybox:it")
	mustEngine(t, root, "tag", "busybox:committed", "busybox:committed2")
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{.Parent}}", "busybox:committed2"); got != base {
		t.Fatalf("the commit's parent: %q, want %q", got, base)
	}
	if got := mustEngine(t, root, "image", "inspect", "-f", "{{.Parent}}", "busybox:it"); got != "\n" {
		t.Fatalf("an imported image's parent: %q", got)
	}
	if r := engine(t, root, "run", "--rm", "busybox:committed", "sh", "-c", "ls /bin/ls; ls /usr"); !strings.Contains(r.stderr, "No such file") || r.stdout != "only\n" {
		t.Fatalf("committed deletions: %d %q %q", r.code, r.stdout, r.stderr)
	}
	mustEngine(t, root, "run", "-d", "--name", "r", "busybox:it", "sh", "-c", "echo started; sleep 100")
	pid1 := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Pid}}", "r"))
	mustEngine(t, root, "restart", "-t", "1", "r")
	pid2 := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Pid}}", "r"))
	if !strings.HasPrefix(pid2, "running ") || strings.HasSuffix(pid2, " "+pid1) {
		t.Fatalf("restart: before %s, after %s", pid1, pid2)
	}
	waitFor(t, func() bool { return mustEngine(t, root, "logs", "r") == "started\nstarted\n" })
}

// kill -9 of the CLI in the middle of a foreground run: the container
// runs on under its monitor, and stop, rm and a new run work.
func TestEngineCLIKilledMidRun(t *testing.T) {
	root := engineWithBusybox(t)
	cmd := exec.Command(*berthBin, "--root", root, "--runroot", filepath.Join(root, "run"), "run", "--name", "fg", "busybox:it", "sh", "-c", "echo up; sleep 100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(engine(t, root, "logs", "fg").stdout, "up") })
	cmd.Process.Signal(syscall.SIGKILL) // the CLI this test started
	cmd.Wait()
	if st := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Status}}", "fg")); st != "running" {
		t.Fatalf("after the CLI died: %s", st)
	}
	mustEngine(t, root, "stop", "-t", "1", "fg")
	mustEngine(t, root, "rm", "fg")
	mustEngine(t, root, "run", "--rm", "--name", "fg", "busybox:it", "true")
}

// slowReader hands out its parts with a pause before each after the
// first, then EOF: input typed by someone.
type slowReader struct {
	parts []string
	pause time.Duration
	n     int
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n >= len(r.parts) {
		time.Sleep(r.pause)
		return 0, io.EOF
	}
	if r.n > 0 {
		time.Sleep(r.pause)
	}
	n := copy(p, r.parts[r.n])
	r.n++
	return n, nil
}

// --userns=auto: the container's root is a host ID range of its own;
// the image's files, owned by root on disk, are its root's through
// idmapped layers (no chown: the shared layers stay as they are); what
// it writes is its root's inside; commit writes it back as root's.
func TestEngineUserNamespace(t *testing.T) {
	root := engineWithBusybox(t)
	// The container's root must reach its rootfs: o+x on the way, as
	// Docker's userns-remap needs (the test's temp dirs are 0700).
	for d := root; d != "/" && d != filepath.Clean(os.TempDir()); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			os.Chmod(d, fi.Mode().Perm()|0o011)
		}
	}
	r := mustEngine(t, root, "run", "--rm", "--userns=auto", "busybox:it", "sh", "-c",
		"id -u; cat /proc/self/uid_map; stat -c %u /bin/busybox; touch /new && stat -c %u /new; echo x >> /etc/passwd && echo appended")
	f := strings.Fields(r)
	if len(f) != 7 || f[0] != "0" || f[1] != "0" || f[3] != "65536" || f[4] != "0" || f[5] != "0" || f[6] != "appended" {
		t.Fatalf("inside: %q", r)
	}
	start, _ := strconv.Atoi(f[2])
	if start < 1<<20 {
		t.Fatalf("host range starts at %d", start)
	}
	id1 := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--userns=auto", "busybox:it", "sh", "-c", "echo hi > /made; sleep 100"))
	id2 := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--userns", "auto:size=1000", "busybox:it", "sleep", "100"))
	uids := map[string]bool{}
	for _, id := range []string{id1, id2} {
		pid := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Pid}}", id))
		status, _ := os.ReadFile("/proc/" + pid + "/status")
		u := strings.Fields(grepLine(string(status), "Uid:"))
		if len(u) < 2 || u[1] == "0" {
			t.Fatalf("host sees %s as uid %v", id[:12], u)
		}
		uids[u[1]] = true
	}
	if len(uids) != 2 {
		t.Fatalf("two containers share a range: %v", uids)
	}
	if fi, err := os.Stat(filepath.Join(*busybox, "bin", "busybox")); err != nil || fi.Sys().(*syscall.Stat_t).Uid != 0 {
		t.Fatal("the image's files were chowned")
	}
	waitFor(t, func() bool { return engine(t, root, "exec", id1, "cat", "/made").stdout == "hi\n" })
	mustEngine(t, root, "commit", id1, "busybox:userns")
	if r := mustEngine(t, root, "run", "--rm", "busybox:userns", "stat", "-c", "%u", "/made"); r != "0\n" {
		t.Fatalf("committed owner: %q", r)
	}
	if r := engine(t, root, "run", "--rm", "--userns", "bogus", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "--userns") {
		t.Fatalf("--userns bogus: %d %q", r.code, r.stderr)
	}
	if r := mustEngine(t, root, "run", "--rm", "--uidmap", "0:3000000:70000", "busybox:it", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; stat -c %u /bin/busybox"); strings.Join(strings.Fields(r), " ") != "0 3000000 70000 0 3000000 70000 0" {
		t.Fatalf("--uidmap: %q", r)
	}
	mustEngine(t, root, "rm", "-f", id1, id2)
	if b, _ := os.ReadFile(filepath.Join(root, "userns-ranges.json")); string(b) != "{}" {
		t.Fatalf("ranges left after --rm and rm: %s", b)
	}
}

// --memory-swap, --cpu-shares and --cpuset-cpus reach the container's
// cgroup; logs --since/--until bound the output by time.
func TestEngineResourcesAndLogTimes(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "-m", "64m", "--memory-swap", "128m", "--cpu-shares", "512", "--cpuset-cpus", "0",
		"busybox:it", "sh", "-c", "echo logged; sleep 100"))
	read := func(paths ...string) string {
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				return strings.TrimSpace(string(b))
			}
		}
		return "missing"
	}
	v1, v2 := "/sys/fs/cgroup/%s/berth/"+id+"/%s", "/sys/fs/cgroup/berth/"+id+"/%s"
	if got := read(fmt.Sprintf(v1, "cpuset", "cpuset.cpus"), fmt.Sprintf(v2, "cpuset.cpus")); got != "0" {
		t.Errorf("cpuset.cpus: %s", got)
	}
	if got := read(fmt.Sprintf(v1, "cpu", "cpu.shares"), fmt.Sprintf(v2, "cpu.weight")); got != "512" && got != "20" {
		t.Errorf("cpu shares: %s", got)
	}
	if got := read(fmt.Sprintf(v1, "memory", "memory.limit_in_bytes"), fmt.Sprintf(v2, "memory.max")); got != "67108864" {
		t.Errorf("memory limit: %s", got)
	}
	if got := read(fmt.Sprintf(v1, "memory", "memory.memsw.limit_in_bytes"), fmt.Sprintf(v2, "memory.swap.max")); got != "134217728" && got != "missing" { // missing: no swap accounting on this host
		t.Errorf("memory+swap limit: %s", got)
	}
	waitFor(t, func() bool { return engine(t, root, "logs", id).stdout == "logged\n" })
	if out := mustEngine(t, root, "logs", "--since", "1h", id); out != "logged\n" {
		t.Fatalf("--since 1h: %q", out)
	}
	if out := mustEngine(t, root, "logs", "--until", "1h", id); out != "" {
		t.Fatalf("--until 1h: %q", out)
	}
	if r := engine(t, root, "logs", "--since", "yesterday", id); r.code != 125 {
		t.Fatalf("--since yesterday: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "--rm", "--memory-swap", "32m", "-m", "64m", "busybox:it", "true"); r.code != 125 {
		t.Fatalf("swap below memory: %d %q", r.code, r.stderr)
	}
}

// monitorExe is the program of container id's monitor: berth, or
// berth-monitor once it is in its idle stage.
func monitorExe(root, id string) string {
	b, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	var st struct{ MonitorPid int }
	json.Unmarshal(b, &st)
	exe, _ := os.Readlink("/proc/" + strconv.Itoa(st.MonitorPid) + "/exe")
	return filepath.Base(exe)
}

// waitIdleStage waits until container id's monitor is in its idle
// stage.
func waitIdleStage(t *testing.T, root, id string) {
	t.Helper()
	for i := 0; i < 100 && monitorExe(root, id) != "berth-monitor"; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if exe := monitorExe(root, id); exe != "berth-monitor" {
		t.Fatalf("%s: the monitor is %q, not the idle stage", id, exe)
	}
}

// A container that runs on is handed to the monitor's idle stage
// (berth-monitor, exec'd in place): its log, attach, stop, the restart
// policy and --rm all go on working through it and back.
func TestEngineMonitorIdleStage(t *testing.T) {
	root := engineWithBusybox(t)
	idle := func(id string) { t.Helper(); waitIdleStage(t, root, id) }
	// The log goes on without a gap across the hand-off.
	counter := `trap "exit 3" TERM; i=0; while :; do echo $i; i=$((i+1)); sleep 0.1; done`
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "idle", "busybox:it", "sh", "-c", counter))
	idle(id)
	att := exec.Command(*berthBin, "--root", root, "--runroot", filepath.Join(root, "run"), "attach", "--no-stdin", "idle")
	out, _ := att.StdoutPipe()
	if err := att.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if _, perr := strconv.Atoi(strings.TrimSpace(line)); err != nil || perr != nil {
		t.Fatalf("attach to the idle stage: %q %v", line, err)
	}
	att.Process.Kill() // the client this test started
	att.Wait()
	mustEngine(t, root, "stop", "idle")
	if st := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "idle"); st != "exited 3\n" {
		t.Fatalf("stop through the idle stage: %q", st)
	}
	lines := strings.Fields(mustEngine(t, root, "logs", "idle"))
	for i, l := range lines {
		if l != strconv.Itoa(i) {
			t.Fatalf("log line %d is %q: a gap or a repeat across the hand-off (%d lines)", i, l, len(lines))
		}
	}
	if len(lines) < 20 {
		t.Fatalf("only %d log lines", len(lines))
	}
	// The restart policy: the resumed engine restarts, and the restarted
	// container goes idle again.
	mustEngine(t, root, "run", "-d", "--name", "again", "--restart", "on-failure:1", "busybox:it", "sh", "-c", "sleep 2.5; echo ran; exit 1")
	waitFor(t, func() bool {
		return mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "again") == "running 1\n"
	})
	for i := 0; i < 100 && mustEngine(t, root, "inspect", "-f", "{{.State.Status}}", "again") != "exited\n"; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	if st := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", "again"); st != "exited 1 1\n" {
		t.Fatalf("restart through the idle stage: %q", st)
	}
	if logs := mustEngine(t, root, "logs", "again"); logs != "ran\nran\n" {
		t.Fatalf("restart logs: %q", logs)
	}
	// A tty container, and --rm: removed when it ends after going idle.
	id = strings.TrimSpace(mustEngine(t, root, "run", "-d", "-t", "--rm", "--name", "gone", "busybox:it", "sh", "-c", counter))
	idle(id)
	mustEngine(t, root, "stop", "gone")
	waitFor(t, func() bool { return engine(t, root, "inspect", "gone").code != 0 })
	if _, err := os.Stat(filepath.Join(root, "containers", id)); !os.IsNotExist(err) {
		t.Fatalf("--rm after the idle stage left %v", err)
	}
}

// --storage-opt size=N gives the writable layer a file system of that
// size of its own: a write past it fails inside the container with
// ENOSPC, what fits is kept across a restart, shown by diff and inspect
// -s, committed; rm leaves no mount or loop device; a bad option or
// size is refused with nothing made. The docker CLI sets it too.
func TestEngineStorageOptSize(t *testing.T) {
	root := engineWithBusybox(t)
	r := engine(t, root, "run", "--name", "sized", "--storage-opt", "size=20m", "--network", "none", "busybox:it", "sh", "-c",
		"df -k / | tail -1; dd if=/dev/zero of=/big bs=1M count=40; rm -f /big; echo kept > /kept")
	if r.code != 0 || !strings.Contains(r.stderr, "No space left on device") {
		t.Fatalf("40 MiB into a 20 MiB layer: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if f := strings.Fields(r.stdout); len(f) < 2 || f[1] == "" || len(f[1]) > 5 { // KiB: under 100000
		t.Fatalf("df of the layer: %q", r.stdout)
	}
	if out := mustEngine(t, root, "start", "-a", "sized"); !strings.Contains(out, "/") {
		t.Fatalf("restart: %q", out)
	}
	if out := mustEngine(t, root, "diff", "sized"); !strings.Contains(out, "A /kept") {
		t.Fatalf("diff: %q", out)
	}
	if out := mustEngine(t, root, "inspect", "-s", "-f", "{{.SizeRw}} {{.HostConfig.StorageOpt.size}}", "sized"); !strings.HasSuffix(out, " 20971520\n") || strings.HasPrefix(out, "0 ") {
		t.Fatalf("inspect -s: %q", out)
	}
	mustEngine(t, root, "commit", "sized", "sized:1")
	if out := mustEngine(t, root, "run", "--rm", "--network", "none", "sized:1", "cat", "/kept"); out != "kept\n" {
		t.Fatalf("the committed layer: %q", out)
	}
	mustEngine(t, root, "rm", "sized")
	if loops := loopDevicesUnder(root); len(loops) > 0 {
		t.Fatalf("loop devices left: %v", loops)
	}
	for _, bad := range [][]string{{"--storage-opt", "size=1k"}, {"--storage-opt", "size=lots"}, {"--storage-opt", "dm.basesize=20G"}} {
		if r := engine(t, root, append(append([]string{"run", "--rm", "--name", "bad"}, bad...), "busybox:it", "true")...); r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %d %q", bad, r.code, r.stderr)
		}
	}
	sock, _ := apiServer(t, root)
	if out := mustDocker(t, sock, "run", "--rm", "--storage-opt", "size=16m", "--network", "none", "busybox:it", "sh", "-c", "df -k / | tail -1"); !strings.Contains(out, "overlay") {
		t.Fatalf("docker run --storage-opt: %q", out)
	}
	if ids := mustEngine(t, root, "ps", "-aq"); ids != "" {
		t.Fatalf("left: %q", ids)
	}
}

// loopDevicesUnder lists the loop devices whose file is under dir.
func loopDevicesUnder(dir string) []string {
	var out []string
	files, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, f := range files {
		if b, err := os.ReadFile(f); err == nil && strings.HasPrefix(strings.TrimSpace(string(b)), dir) {
			out = append(out, f)
		}
	}
	return out
}

// A container on a user-defined network goes to the idle stage too,
// which serves its name server: names of containers that were there
// before the hand-off and of ones that came after (A and AAAA), and
// the rest through the upstreams, as the full monitor did.
func TestEngineIdleStageServesNames(t *testing.T) {
	keepIPv6Forwarding(t)
	root := engineWithBusybox(t)
	mustEngine(t, root, "network", "create", "--ipv6", "--subnet", "10.232.0.0/24", "--subnet", "fd42:beef:7::/64", "names")
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "asker", "--network", "names", "busybox:it", "sleep", "300"))
	mustEngine(t, root, "run", "-d", "--name", "early", "--network", "names", "--network-alias", "first", "busybox:it", "sleep", "300")
	waitIdleStage(t, root, id)
	mustEngine(t, root, "run", "-d", "--name", "late", "--network", "names", "--ip6", "fd42:beef:7::99", "busybox:it", "sleep", "300")
	for _, q := range []struct{ name, typ, want string }{
		{"early", "a", "Address: 10.232.0."},
		{"first", "a", "Address: 10.232.0."},
		{"late", "a", "Address: 10.232.0."},
		{"late", "aaaa", "Address: fd42:beef:7::99"},
	} {
		if out := mustEngine(t, root, "exec", "asker", "nslookup", "-type="+q.typ, q.name, "127.0.0.11"); !strings.Contains(out, q.want) {
			t.Errorf("the idle stage's answer for %s %s: %q", q.typ, q.name, out)
		}
	}
	if r := engine(t, root, "exec", "asker", "nslookup", "nobody", "127.0.0.11"); r.code == 0 {
		t.Errorf("a name of no container resolved: %s", r.stdout)
	}
	mustEngine(t, root, "rm", "-f", "asker", "early", "late")
	mustEngine(t, root, "network", "rm", "names")
}

// A healthcheck runs in the container on its schedule, from the monitor
// and from its idle stage: failures in a row make it unhealthy, a
// success healthy, with the log, the streak, ps' status and filter and
// health_status events as Docker has them; a probe past its timeout is
// killed; failures in the start period do not count; a restart starts
// over; bad options are refused.
func TestEngineHealthcheck(t *testing.T) {
	root := engineWithBusybox(t)
	health := func(name string) string {
		return strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.State.Health.Status}} {{.State.Health.FailingStreak}}", name))
	}
	waitHealth := func(name, want string) {
		t.Helper()
		var got string
		for i := 0; i < 100; i++ {
			if got = health(name); strings.HasPrefix(got, want+" ") {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("%s: health %q, want %s", name, got, want)
	}
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "web", "--health-cmd", "test -f /tmp/ok && echo fine",
		"--health-interval", "500ms", "--health-retries", "2", "busybox:it", "sleep", "60"))
	if got := health("web"); got != "starting 0" {
		t.Fatalf("health at start: %q", got)
	}
	waitHealth("web", "unhealthy")
	if out := mustEngine(t, root, "ps", "--filter", "health=unhealthy", "--format", "{{.Names}} {{.Status}}"); !strings.HasPrefix(out, "web Up") || !strings.Contains(out, "(unhealthy)") {
		t.Fatalf("ps of an unhealthy container: %q", out)
	}
	// The idle stage runs the probes from here on.
	waitIdleStage(t, root, id)
	mustEngine(t, root, "exec", "web", "touch", "/tmp/ok")
	waitHealth("web", "healthy")
	var st struct {
		State struct {
			Health struct {
				Log []struct {
					ExitCode int
					Output   string
				}
			}
		}
	}
	if err := json.Unmarshal([]byte(mustEngine(t, root, "inspect", "-f", "{{json .}}", "web")), &st); err != nil {
		t.Fatal(err)
	}
	log := st.State.Health.Log
	if n := len(log); n == 0 || n > 5 || log[n-1].ExitCode != 0 || log[n-1].Output != "fine\n" {
		t.Fatalf("health log: %+v", log)
	}
	if out := mustEngine(t, root, "ps", "--filter", "health=healthy", "--format", "{{.Names}}"); out != "web\n" {
		t.Fatalf("health=healthy: %q", out)
	}
	ev := mustEngine(t, root, "events", "--since", "1m", "--until", "0s", "--filter", "event=health_status", "--format", "{{.Action}}")
	if ev != "health_status: unhealthy\nhealth_status: healthy\n" {
		t.Fatalf("health events: %q", ev)
	}
	// A restart starts over: starting, then healthy again (/tmp/ok is
	// in the container's upper layer).
	mustEngine(t, root, "restart", "-t", "1", "web")
	if got := health("web"); got != "starting 0" {
		t.Fatalf("health after restart: %q", got)
	}
	waitHealth("web", "healthy")

	// Past its timeout a probe is killed and counts as a failure.
	mustEngine(t, root, "run", "-d", "--name", "slow", "--health-cmd", "sleep 5", "--health-timeout", "200ms",
		"--health-interval", "200ms", "--health-retries", "1", "busybox:it", "sleep", "60")
	waitHealth("slow", "unhealthy")
	if out := mustEngine(t, root, "inspect", "-f", "{{range .State.Health.Log}}{{.ExitCode}} {{.Output}}|{{end}}", "slow"); !strings.HasPrefix(out, "-1 Health check exceeded timeout (200ms)|") {
		t.Fatalf("timed-out probe: %q", out)
	}
	// In the start period failures do not count.
	mustEngine(t, root, "run", "-d", "--name", "warming", "--health-cmd", "false", "--health-start-period", "1m",
		"--health-start-interval", "100ms", "--health-interval", "1h", "busybox:it", "sleep", "60")
	for i := 0; i < 100; i++ {
		if n := strings.Count(mustEngine(t, root, "inspect", "-f", "{{range .State.Health.Log}}x{{end}}", "warming"), "x"); n >= 3 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := health("warming"); got != "starting 0" {
		t.Fatalf("failures in the start period: %q", got)
	}
	for _, bad := range [][]string{{"--health-interval", "-1s"}, {"--no-healthcheck", "--health-cmd", "true"}, {"--health-retries", "-2"}} {
		if r := engine(t, root, append(append([]string{"create"}, bad...), "busybox:it")...); r.code != 125 {
			t.Errorf("create %v: %d %q", bad, r.code, r.stderr)
		}
	}
	for _, name := range []string{"web", "slow", "warming"} {
		mustEngine(t, root, "rm", "-f", name)
	}
}

// A legacy link names its target in /etc/hosts and passes its
// environment as Docker's ALIAS_ variables; a missing target is
// refused at create and leaves nothing; on a user-defined network the
// link's alias is answered by the container's name server; rm --link
// takes a link off.
func TestEngineLegacyLinks(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "db", "-e", "SECRET=s3", "busybox:it", "sleep", "60")
	out := mustEngine(t, root, "run", "--name", "app", "--link", "db:data", "busybox:it", "sh", "-c", "echo $DATA_NAME $DATA_ENV_SECRET; grep -c data /etc/hosts")
	if out != "/app/data s3\n1\n" {
		t.Fatalf("inside a linked container: %q", out)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{json .HostConfig.Links}}", "app"); got != "[\"/db:/app/data\"]\n" {
		t.Fatalf("inspect: %q", got)
	}
	if r := engine(t, root, "create", "--link", "nosuch:x", "busybox:it"); r.code != 125 || !strings.Contains(r.stderr, "could not get container for nosuch") {
		t.Fatalf("a link to nothing: %d %q", r.code, r.stderr)
	}
	// rm --link takes the link off and leaves both containers.
	if r := engine(t, root, "rm", "--link", "app/nosuch"); r.code == 0 || !strings.Contains(r.stderr, "could not find link nosuch") {
		t.Fatalf("rm --link of no link: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "rm", "--link", "/app/data")
	if got := mustEngine(t, root, "inspect", "-f", "{{json .HostConfig.Links}} {{.State.Status}}", "app"); got != "null exited\n" {
		t.Fatalf("after rm --link: %q", got)
	}
	mustEngine(t, root, "rm", "-f", "app", "db")
	// On a user-defined network the alias is the name server's, for a
	// target that starts later too.
	mustEngine(t, root, "network", "create", "linknet")
	mustEngine(t, root, "run", "-d", "--name", "client", "--network", "linknet", "--link", "later:svc", "busybox:it", "sleep", "60")
	mustEngine(t, root, "run", "-d", "--name", "later", "--network", "linknet", "busybox:it", "sleep", "60")
	ip := strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{(index .NetworkSettings.Networks \"linknet\").IPAddress}}", "later"))
	if out := mustEngine(t, root, "exec", "client", "nslookup", "svc"); !strings.Contains(out, ip) {
		t.Fatalf("nslookup svc (later is %s): %q", ip, out)
	}
	mustEngine(t, root, "rm", "-f", "client", "later")
	if d := containerDirs(root); len(d) != 0 {
		t.Fatalf("left %v", d)
	}
}

// The command line answers as Docker's where it used to differ: an
// unknown subcommand fails (1), the list/remove aliases work, --format
// json prints JSON, prunes ask first (the answer read from stdin), info
// and system prune exist, exit codes are Docker's, -w makes its
// directory, a failed start leaves the container created, and Docker's
// config file gives the lists' formats.
func TestEngineCLIAnswersAsDocker(t *testing.T) {
	root := engineWithBusybox(t)
	for _, args := range [][]string{{"network", "bogus"}, {"volume", "bogus"}, {"image", "bogus"}, {"container", "bogus"}, {"system", "bogus"}, {"bogus"}} {
		if r := engine(t, root, args...); r.code != 1 || !strings.Contains(r.stderr, `unknown command "bogus"`) {
			t.Errorf("%v: %d %q", args, r.code, r.stderr)
		}
	}
	if r := engine(t, root, "network"); r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
		t.Errorf("a group alone prints its help: %d %q", r.code, r.stdout)
	}
	mustEngine(t, root, "create", "--name", "idle", "busybox:it", "true")
	for _, args := range [][]string{{"container", "list", "-a", "-q"}, {"image", "list", "-q"}} {
		if out := mustEngine(t, root, args...); strings.TrimSpace(out) == "" {
			t.Errorf("%v listed nothing", args)
		}
	}
	var row struct{ Names, State string }
	if err := json.Unmarshal([]byte(mustEngine(t, root, "ps", "-a", "--format", "json")), &row); err != nil || row.Names != "idle" || row.State != "created" {
		t.Errorf("ps --format json: %+v %v", row, err)
	}
	var objs []map[string]any
	if err := json.Unmarshal([]byte(mustEngine(t, root, "inspect", "--format", "json", "idle")), &objs); err != nil || len(objs) != 1 {
		t.Errorf("inspect --format json: %v %v", objs, err)
	}
	// host and none are networks too, pre-defined ones.
	if out := mustEngine(t, root, "network", "ls", "--format", "{{.Name}} {{.Driver}}"); !strings.Contains(out, "host host\n") || !strings.Contains(out, "none null\n") {
		t.Errorf("network ls: %q", out)
	}
	if r := engine(t, root, "network", "rm", "host"); r.code != 1 || !strings.Contains(r.stderr, "pre-defined network") {
		t.Errorf("network rm host: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "network", "create", "spare")
	// No answer (stdin at its end) is no; "y" is yes.
	if r := engineIn(t, root, strings.NewReader(""), "network", "prune"); r.code != 0 || !strings.Contains(r.stdout, "Are you sure") {
		t.Fatalf("network prune without -f: %d %q", r.code, r.stdout)
	}
	if out := mustEngine(t, root, "network", "ls", "--format", "{{.Name}}"); !strings.Contains(out, "spare") {
		t.Fatalf("an unanswered prune removed the network: %q", out)
	}
	if r := engineIn(t, root, strings.NewReader("y\n"), "network", "prune"); r.code != 0 || !strings.Contains(r.stdout, "spare") {
		t.Fatalf("network prune, yes: %d %q", r.code, r.stdout)
	}
	if out := mustEngine(t, root, "info", "--format", "{{.Containers}} {{.ContainersStopped}} {{.Driver}}"); out != "1 1 overlay2\n" {
		t.Fatalf("info: %q", out)
	}
	if out := mustEngine(t, root, "system", "prune", "-f"); !strings.Contains(out, "Deleted Containers:") || !strings.Contains(out, "Total reclaimed space:") {
		t.Fatalf("system prune: %q", out)
	}
	if out := mustEngine(t, root, "ps", "-a", "-q"); out != "" {
		t.Fatalf("system prune left %q", out)
	}
	// Exit codes as Docker's: the daemon's refusals are 1, a forced
	// removal of nothing and a logout without a login are fine.
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"exec", "nosuch", "true"}, 1},
		{[]string{"rm", "-f", "nosuch"}, 0},
		{[]string{"volume", "rm", "-f", "nosuch"}, 0},
		{[]string{"logout", "127.0.0.1:9"}, 0},
	} {
		if r := engine(t, root, c.args...); r.code != c.code {
			t.Errorf("%v: %d, want %d (%q)", c.args, r.code, c.code, r.stderr)
		}
	}
	mustEngine(t, root, "create", "--name", "stopped", "busybox:it", "true")
	if r := engine(t, root, "exec", "stopped", "true"); r.code != 1 || !strings.Contains(r.stderr, "is not running") {
		t.Errorf("exec into a stopped container: %d %q", r.code, r.stderr)
	}
	// inspect finds networks and volumes too; top takes ps's options;
	// a published port is exposed.
	mustEngine(t, root, "volume", "create", "vol1")
	if out := mustEngine(t, root, "inspect", "-f", "{{.Name}}", "vol1", "bridge"); out != "vol1\nbridge\n" {
		t.Errorf("inspect of a volume and a network: %q", out)
	}
	mustEngine(t, root, "run", "-d", "--name", "topped", "-p", "127.0.0.1::80", "busybox:it", "sleep", "60")
	if out := mustEngine(t, root, "top", "topped", "-o", "pid,comm"); !strings.HasPrefix(out, "PID") || !strings.Contains(out, "sleep") {
		t.Errorf("top -o pid,comm: %q", out)
	}
	if out := mustEngine(t, root, "inspect", "-f", "{{json .Config.ExposedPorts}}", "topped"); out != "{\"80/tcp\":{}}\n" {
		t.Errorf("exposed ports of -p: %q", out)
	}
	mustEngine(t, root, "rm", "-f", "topped")
	mustEngine(t, root, "volume", "rm", "vol1")
	// -w makes a working directory the image lacks.
	if out := mustEngine(t, root, "run", "--rm", "-w", "/made/here", "busybox:it", "pwd"); out != "/made/here\n" {
		t.Errorf("-w /made/here: %q", out)
	}
	// A start that failed leaves the container created, its code kept.
	if r := engine(t, root, "run", "--name", "failed", "busybox:it", "nosuchcmd"); r.code != 127 {
		t.Fatalf("a missing command: %d", r.code)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "failed"); got != "created 127\n" {
		t.Errorf("after a failed start: %q", got)
	}
	mustEngine(t, root, "rm", "stopped", "failed")
	// Docker's config file gives the lists' default formats.
	os.MkdirAll(filepath.Join(root, "docker-config"), 0o700)
	os.WriteFile(filepath.Join(root, "docker-config", "config.json"), []byte(`{"psFormat": "{{.Names}}!", "imagesFormat": "{{.Repository}}:{{.Tag}}"}`), 0o600)
	mustEngine(t, root, "create", "--name", "fmt", "busybox:it", "true")
	if out := mustEngine(t, root, "ps", "-a"); out != "fmt!\n" {
		t.Errorf("psFormat: %q", out)
	}
	if out := mustEngine(t, root, "images"); out != "busybox:it\n" {
		t.Errorf("imagesFormat: %q", out)
	}
	if out := mustEngine(t, root, "ps", "-a", "--format", "{{.Status}}"); out != "Created\n" {
		t.Errorf("--format over psFormat: %q", out)
	}
	// The shell completes the names a verb acts on.
	if out := mustEngine(t, root, "__complete", "rm", "f"); !strings.HasPrefix(out, "fmt\n") {
		t.Errorf("completion of rm: %q", out)
	}
	if out := mustEngine(t, root, "__complete", "network", "rm", ""); !strings.Contains(out, "bridge\n") {
		t.Errorf("completion of network rm: %q", out)
	}
	mustEngine(t, root, "rm", "fmt")
}

// The namespace tools know the engine's containers, by name and ID
// prefix, under the engine's own --root and --runroot.
func TestEngineNsToolsFindEngineContainers(t *testing.T) {
	root := engineWithBusybox(t)
	id := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--name", "web", "--hostname", "webhost", "busybox:it", "sleep", "60"))
	for _, ref := range []string{"web", id, id[:8]} {
		if out := mustEngine(t, root, "ns", "enter", "--container", ref, "--uts", "--", "hostname"); out != "webhost\n" {
			t.Errorf("ns enter --container %s: %q", ref, out)
		}
	}
	if out := mustEngine(t, root, "ns", "ls", "-t", "uts"); !regexp.MustCompile(`(?m)\buts\b.*\bweb\b`).MatchString(out) {
		t.Errorf("ns ls: the container's namespace is not named: %q", out)
	}
	if r := engine(t, root, "ns", "enter", "--container", "nosuch", "--uts", "--", "true"); r.code == 0 || !strings.Contains(r.stderr, "no such container: nosuch") {
		t.Errorf("ns enter of nothing: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "ns", "--help"); r.code != 0 || !strings.Contains(r.stdout, "usage: berth ns") {
		t.Errorf("ns --help: %d %q", r.code, r.stdout)
	}
	mustEngine(t, root, "rm", "-f", "web")
}

// The resource, kernel and metadata flags of run (issue 18) reach the
// container: /dev/shm's size, sysctls, oom_score_adj, CFS period and
// quota, a memory reservation, the host's cgroup namespace; inspect
// shows them with annotations, --expose and --label-file; --cidfile
// names the container; bad values fail before anything is made.
func TestEngineRunResourceAndNamespaceFlags(t *testing.T) {
	root := engineWithBusybox(t)
	cid := filepath.Join(root, "cid")
	labels := filepath.Join(root, "labels")
	if err := os.WriteFile(labels, []byte("# a comment\nteam=storage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	hostCgroupNS, err := os.Readlink("/proc/self/ns/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	out := mustEngine(t, root, "run", "--name", "res", "--network", "none", "--cidfile", cid, "--shm-size", "96m",
		"--sysctl", "net.ipv4.ip_forward=1", "--oom-score-adj", "321", "--cpu-period", "50000", "--cpu-quota", "25000",
		"--memory-reservation", "32m", "--cgroupns", "host", "--annotation", "org.example/k=v", "--expose", "7000-7001/udp",
		"--label-file", labels, "busybox:it", "sh", "-c",
		"df -k /dev/shm | tail -1 | awk '{print $2}'; cat /proc/sys/net/ipv4/ip_forward /proc/self/oom_score_adj; readlink /proc/self/ns/cgroup; "+
			"cd /sys/fs/cgroup; cat cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us memory/memory.soft_limit_in_bytes")
	want := "98304\n1\n321\n" + hostCgroupNS + "\n50000\n25000\n33554432\n"
	if out != want {
		t.Fatalf("inside:\n%q\nwant\n%q", out, want)
	}
	id, err := os.ReadFile(cid)
	if err != nil || !strings.HasPrefix(mustEngine(t, root, "inspect", "-f", "{{.Id}}", "res"), string(id)) || len(id) != 64 {
		t.Fatalf("--cidfile: %q %v", id, err)
	}
	got := mustEngine(t, root, "inspect", "-f", "{{.HostConfig.ShmSize}} {{.HostConfig.CgroupnsMode}} {{.HostConfig.OomScoreAdj}} {{.HostConfig.CpuQuota}} {{index .HostConfig.Annotations \"org.example/k\"}} {{index .Config.Labels \"team\"}} {{len .Config.ExposedPorts}}", "res")
	if got != "100663296 host 321 25000 v storage 2\n" {
		t.Fatalf("inspect: %q", got)
	}
	if r := engine(t, root, "run", "--cidfile", cid, "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "container ID file found") {
		t.Fatalf("a --cidfile that is there: %d %q", r.code, r.stderr)
	}
	before := len(containerDirs(root))
	for _, bad := range [][]string{
		{"--sysctl", "kernel.panic=1"},
		{"--network", "host", "--sysctl", "net.ipv4.ip_forward=1"},
		{"--cgroupns", "bogus"},
		{"--oom-score-adj", "2000"},
		{"--cpus", "1", "--cpu-period", "50000"},
		{"--blkio-weight", "5"},
		{"--shm-size", "lots"},
		{"--pull", "sometimes"},
		{"--expose", "70000"},
	} {
		args := append(append([]string{"run", "--rm"}, bad...), "busybox:it", "true")
		if r := engine(t, root, args...); r.code != 125 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: %d %q", bad, r.code, r.stderr)
		}
	}
	if r := engine(t, root, "run", "--rm", "--pull", "never", "busybox:nosuch", "true"); r.code != 125 || strings.Contains(r.stderr, "Unable to find image") && strings.Contains(r.stderr, "Pulling") {
		t.Fatalf("--pull never of a missing image: %d %q", r.code, r.stderr)
	}
	if n := len(containerDirs(root)); n != before {
		t.Fatalf("refused runs left %d containers", n-before)
	}
}

// More of Docker's flags (issue 18): exec --env-file and --privileged,
// ps -n and -l, stats' NET I/O and BLOCK I/O, update's CFS quota, stop
// --timeout, network rm -f of a missing network, volume update's clear
// refusal, and the flags that change nothing here (logs --details, rmi
// --no-prune) being taken.
func TestEngineMoreDockerFlags(t *testing.T) {
	root := engineWithBusybox(t)
	envFile := filepath.Join(root, "env")
	if err := os.WriteFile(envFile, []byte("FROM_FILE=yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustEngine(t, root, "run", "-d", "--name", "first", "--network", "none", "busybox:it", "sleep", "100")
	mustEngine(t, root, "run", "--name", "second", "--network", "none", "busybox:it", "true")
	if got := mustEngine(t, root, "exec", "--env-file", envFile, "first", "sh", "-c", "echo $FROM_FILE; grep CapEff /proc/self/status"); !strings.HasPrefix(got, "yes\nCapEff:\t00000000a80425fb\n") {
		t.Fatalf("exec --env-file: %q", got)
	}
	if got := mustEngine(t, root, "exec", "--privileged", "first", "grep", "CapEff", "/proc/self/status"); got == "CapEff:\t00000000a80425fb\n" || !strings.HasPrefix(got, "CapEff:\t000001") {
		t.Fatalf("exec --privileged: %q", got)
	}
	if got := mustEngine(t, root, "ps", "-l", "--format", "{{.Names}}"); got != "second\n" {
		t.Fatalf("ps -l: %q", got)
	}
	if got := mustEngine(t, root, "ps", "-n", "2", "--format", "{{.Names}}"); got != "second\nfirst\n" {
		t.Fatalf("ps -n 2: %q", got)
	}
	if st := mustEngine(t, root, "stats", "--no-stream", "first"); !strings.Contains(st, "NET I/O") || !strings.Contains(st, "BLOCK I/O") {
		t.Fatalf("stats columns: %q", st)
	}
	mustEngine(t, root, "update", "--cpu-period", "100000", "--cpu-quota", "50000", "first")
	if got := mustEngine(t, root, "exec", "first", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"); got != "50000\n" {
		t.Fatalf("update --cpu-quota: %q", got)
	}
	mustEngine(t, root, "logs", "--details", "second")
	owned := filepath.Join(root, "owned")
	if err := os.WriteFile(owned, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(owned, 1234, 1234); err != nil {
		t.Fatal(err)
	}
	mustEngine(t, root, "cp", owned, "first:/tmp/plain")
	mustEngine(t, root, "cp", "-a", owned, "first:/tmp/kept")
	if got := mustEngine(t, root, "exec", "first", "stat", "-c", "%u", "/tmp/plain", "/tmp/kept"); got != "0\n1234\n" {
		t.Fatalf("cp and cp -a owners: %q", got)
	}
	if got := mustEngine(t, root, "ps", "-s", "--filter", "name=first", "--format", "{{.Size}}"); !strings.HasPrefix(got, "2B (virtual ") {
		t.Fatalf("ps -s: %q", got)
	}
	if got := mustEngine(t, root, "inspect", "-s", "-f", "{{.SizeRw}} {{gt .SizeRootFs .SizeRw}}", "first"); got != "2 true\n" {
		t.Fatalf("inspect -s: %q", got)
	}
	// cp -L copies what a link names, under the link's name, both ways.
	hostLink := filepath.Join(root, "hostlink")
	if err := os.Symlink(owned, hostLink); err != nil {
		t.Fatal(err)
	}
	mustEngine(t, root, "cp", "-L", hostLink, "first:/tmp/")
	mustEngine(t, root, "exec", "first", "ln", "-s", "/tmp/plain", "/tmp/ln")
	back := t.TempDir()
	mustEngine(t, root, "cp", "-L", "first:/tmp/ln", back)
	mustEngine(t, root, "cp", "first:/tmp/ln", filepath.Join(back, "asis"))
	if got := mustEngine(t, root, "exec", "first", "stat", "-c", "%F %s", "/tmp/hostlink"); got != "regular file 1\n" {
		t.Fatalf("cp -L in: %q", got)
	}
	if fi, err := os.Lstat(filepath.Join(back, "ln")); err != nil || !fi.Mode().IsRegular() {
		t.Fatalf("cp -L out: %v %v", fi, err)
	}
	if dest, err := os.Readlink(filepath.Join(back, "asis")); err != nil || dest != "/tmp/plain" {
		t.Fatalf("cp without -L: %q %v", dest, err)
	}
	mustEngine(t, root, "stop", "--timeout", "1", "first")
	if r := engine(t, root, "network", "rm", "-f", "no-such-network"); r.code != 0 {
		t.Fatalf("network rm -f of a missing network: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "volume", "update", "v"); r.code == 0 || !strings.Contains(r.stderr, "cluster volumes") {
		t.Fatalf("volume update: %d %q", r.code, r.stderr)
	}
	mustEngine(t, root, "tag", "busybox:it", "busybox:extra")
	mustEngine(t, root, "rmi", "--no-prune", "busybox:extra")
	// Per-device block IO: a host block device's numbers reach the
	// container's blkio cgroup, and a file that is no device is refused.
	var blockDev string
	ents, _ := os.ReadDir("/dev")
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode()&os.ModeDevice != 0 && fi.Mode()&os.ModeCharDevice == 0 {
			blockDev = "/dev/" + e.Name()
			break
		}
	}
	if blockDev == "" {
		t.Fatal("this machine has no block device in /dev")
	}
	var st unix.Stat_t
	if err := unix.Stat(blockDev, &st); err != nil {
		t.Fatal(err)
	}
	num := fmt.Sprintf("%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
	got := mustEngine(t, root, "run", "--rm", "--network", "none", "--device-read-bps", blockDev+":1mb", "--device-write-iops", blockDev+":300",
		"busybox:it", "cat", "/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device", "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device")
	if got != num+" 1048576\n"+num+" 300\n" {
		t.Fatalf("per-device block IO: %q, want %s's", got, num)
	}
	// --cgroup-parent: the container's cgroup under it, and the parent
	// berth made gone with the container.
	parent := cgPrefix + "/parent"
	if got := mustEngine(t, root, "run", "--rm", "--network", "none", "--cgroupns", "host", "--cgroup-parent", parent, "busybox:it", "grep", ":memory:", "/proc/self/cgroup"); !strings.Contains(got, ":memory:"+parent+"/") {
		t.Fatalf("--cgroup-parent: %q", got)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory" + parent); !os.IsNotExist(err) {
		t.Fatalf("the parent cgroup stayed: %v", err)
	}
	if r := engine(t, root, "run", "--rm", "--device-read-bps", "/etc/passwd:1mb", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "not a device") {
		t.Fatalf("a throttle on a file: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "--rm", "--network", "none", "-a", "stderr", "busybox:it", "sh", "-c", "echo out; echo err >&2"); r.code != 0 || r.stdout != "" || r.stderr != "err\n" {
		t.Fatalf("run -a stderr: %d %q %q", r.code, r.stdout, r.stderr)
	}
	mustEngine(t, root, "run", "--rm", "--network", "none", "--volume-driver", "foo", "busybox:it", "true") // no volume: no driver needed, as with Docker
	if r := engine(t, root, "run", "--rm", "--volume-driver", "foo", "-v", "drvvol:/x", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "no such plugin") {
		t.Fatalf("a volume of a driver that is not there: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "run", "-d", "-a", "stdout", "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, "conflicting options") {
		t.Fatalf("run -d -a: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "search", "busybox"); r.code == 0 || !strings.Contains(r.stderr, "name the registry to search") {
		t.Fatalf("search without a registry: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "search", "--filter", "color=red", "localhost:1/x"); r.code == 0 || !strings.Contains(r.stderr, "invalid filter") {
		t.Fatalf("search with a bad filter: %d %q", r.code, r.stderr)
	}
	// image prune's filters: label= and label!= choose among the
	// dangling images, an unknown key is refused.
	id := strings.TrimSpace(mustEngine(t, root, "commit", "-c", "LABEL keep=yes", "second"))
	mustEngine(t, root, "image", "prune", "-f", "--filter", "label!=keep=yes")
	if r := engine(t, root, "image", "inspect", id); r.code != 0 {
		t.Fatalf("prune --filter label!= removed the labelled image: %s", r.stderr)
	}
	mustEngine(t, root, "image", "prune", "-f", "--filter", "label=keep=yes")
	if r := engine(t, root, "image", "inspect", id); r.code == 0 {
		t.Fatal("prune --filter label= left the labelled image")
	}
	if r := engine(t, root, "image", "prune", "-f", "--filter", "colour=red"); r.code == 0 {
		t.Fatal("prune took an unknown filter")
	}
	mustEngine(t, root, "rm", "-f", "first", "second")
}

// The classic builder's options for its RUN steps' containers reach
// them: a memory limit, a ulimit, /dev/shm's size.
func TestEngineBuildStepContainerOptions(t *testing.T) {
	root := engineWithBusybox(t)
	ctx := buildContext(t, map[string]string{"Dockerfile": "FROM busybox:it\nRUN cat /sys/fs/cgroup/memory/memory.limit_in_bytes > /limit; ulimit -n > /nofile; df -k /dev/shm | tail -1 | awk '{print $2}' > /shm\nCMD cat /limit /nofile /shm\n"})
	mustEngine(t, root, "build", "-q", "--memory", "64m", "--ulimit", "nofile=512:512", "--shm-size", "32m", "-t", "steps:1", ctx)
	if got := mustEngine(t, root, "run", "--rm", "--network", "none", "steps:1"); got != "67108864\n512\n32768\n" {
		t.Fatalf("the step's limits: %q", got)
	}
	if r := engine(t, root, "build", "--memory", "lots", ctx); r.code == 0 || !strings.Contains(r.stderr, "--memory") {
		t.Fatalf("a bad --memory: %d %q", r.code, r.stderr)
	}
	if r := engine(t, root, "build", "--squash", ctx); r.code == 0 || !strings.Contains(r.stderr, "experimental") {
		t.Fatalf("--squash: %d %q", r.code, r.stderr)
	}
	// df counts the build cache, and -v lists each kind's items.
	if df := mustEngine(t, root, "system", "df", "--format", "{{.Type}} {{.TotalCount}}"); !strings.Contains(df, "Build Cache ") || strings.Contains(df, "Build Cache 0\n") {
		t.Fatalf("df: %q", df)
	}
	if df := mustEngine(t, root, "system", "df", "-v"); !strings.Contains(df, "Images space usage:") || !strings.Contains(df, "steps") ||
		!strings.Contains(df, "Local Volumes space usage:") || !strings.Contains(df, "Build cache usage:") {
		t.Fatalf("df -v:\n%s", df)
	}
	// builder prune keeps what until= and --keep-storage keep.
	if got := mustEngine(t, root, "builder", "prune", "-f", "--filter", "until=1h"); !strings.Contains(got, "Total: 0 cache entries") {
		t.Fatalf("builder prune --filter until=1h: %q", got)
	}
	if got := mustEngine(t, root, "builder", "prune", "-f", "--keep-storage", "1tb"); !strings.Contains(got, "Total: 0 cache entries") {
		t.Fatalf("builder prune --keep-storage 1tb: %q", got)
	}
	if got := mustEngine(t, root, "builder", "prune", "-f"); strings.Contains(got, "Total: 0 cache entries") {
		t.Fatalf("builder prune: %q", got)
	}
}

// TestEngineRefusesValuesThatWouldAddLines: what lands in /etc/hosts,
// resolv.conf or the kernel is one token each (issue 22): a newline in
// --hostname, --domainname, --add-host, --dns-search or --dns-option
// would add a line of the caller's (a name server). Out-of-range limits
// and a bogus stop signal are refused too, in Docker's words; nothing is
// made.
func TestEngineRefusesValuesThatWouldAddLines(t *testing.T) {
	root := engineWithBusybox(t)
	for _, c := range []struct{ flag, want string }{
		{"--hostname=a\nb", "invalid hostname format"},
		{"--domainname=ex.com\nnameserver 6.6.6.6", "invalid domainname format"},
		{"--dns-search=ex.com\nnameserver 6.6.6.6", "is not a valid domain"},
		{"--dns-option=ndots:1\nnameserver 6.6.6.6", "invalid DNS option"},
		{"--add-host=h\n6.6.6.6 evil:1.2.3.4", "invalid hostname"},
		{"--cpus=-1", "range of CPUs is from 0.01 to"},
		{"--cpus=9999", "range of CPUs is from 0.01 to"},
		{"--memory=1", "Minimum memory limit allowed is 6MB"},
		{"--stop-signal=BOGUS", "invalid signal: BOGUS"},
	} {
		if r := engine(t, root, "run", "--name", "bad", "--network", "none", c.flag, "busybox:it", "true"); r.code != 125 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: %d %q, want 125 and %q", c.flag, r.code, r.stderr, c.want)
		}
	}
	if out := mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("refused runs made containers: %q", out)
	}
	got := mustEngine(t, root, "run", "--rm", "--dns", "10.1.1.1", "--dns-search", "svc.local", "--dns-option", "ndots:2", "--add-host", "db.local:10.0.0.9",
		"--hostname", "web-1", "--domainname", "example.com", "busybox:it", "sh", "-c", "cat /etc/resolv.conf; grep db.local /etc/hosts; hostname")
	if got != "nameserver 10.1.1.1\nsearch svc.local\noptions ndots:2\n10.0.0.9\tdb.local\nweb-1\n" {
		t.Fatalf("good values: %q", got)
	}
}

// TestEnginePausedContainerStopsAndIsRemoved: stop and rm -f of a paused
// container end it (issue 22): a frozen process takes no signal, not
// even SIGKILL, so the engine thaws it first, as Docker's do. Each
// command runs under a deadline, so a hang fails the test instead of
// the suite.
func TestEnginePausedContainerStopsAndIsRemoved(t *testing.T) {
	root := engineWithBusybox(t)
	bounded := func(args ...string) result {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, *berthBin, append([]string{"--root", root, "--runroot", filepath.Join(root, "run")}, args...)...)
		r := runIn(t, root, nil, cmd)
		if ctx.Err() != nil {
			t.Fatalf("berth %v hung on a paused container", args)
		}
		return r
	}
	mustEngine(t, root, "run", "-d", "--name", "frozen", "--network", "none", "busybox:it", "sleep", "100")
	mustEngine(t, root, "pause", "frozen")
	if r := bounded("stop", "-t", "1", "frozen"); r.code != 0 {
		t.Fatalf("stop of a paused container: %d %q", r.code, r.stderr)
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.Paused}} {{.State.ExitCode}}", "frozen"); got != "exited false 137\n" {
		t.Fatalf("after the stop: %q", got)
	}
	mustEngine(t, root, "start", "frozen")
	mustEngine(t, root, "pause", "frozen")
	if r := bounded("rm", "-f", "frozen"); r.code != 0 {
		t.Fatalf("rm -f of a paused container: %d %q", r.code, r.stderr)
	}
	if out := mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("left: %q", out)
	}
}

// TestEngineStopCancelsRestartBackOff: a stop or rm -f of a container in
// its restart back-off (issue 22) ends it, as Docker's does: no restart
// follows, and the monitor goes. That the stop returns at once rather
// than when the back-off is over is a matter of time, which no test
// asserts: the closing note gives the figures.
func TestEngineStopCancelsRestartBackOff(t *testing.T) {
	root := engineWithBusybox(t)
	mustEngine(t, root, "run", "-d", "--name", "flaky", "--network", "none", "--restart", "always", "busybox:it", "sh", "-c", "exit 1")
	count := func() int {
		n, _ := strconv.Atoi(strings.TrimSpace(mustEngine(t, root, "inspect", "-f", "{{.RestartCount}}", "flaky")))
		return n
	}
	waitFor(t, func() bool { return count() >= 4 }) // the back-off is 1.6 s and growing now
	mustEngine(t, root, "stop", "flaky")
	n := count()
	time.Sleep(2 * time.Second) // past the back-off that was pending
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky"); got != "exited "+strconv.Itoa(n)+"\n" {
		t.Fatalf("after a stop in the back-off: %q, want exited %d", got, n)
	}
	mustEngine(t, root, "start", "flaky")
	waitFor(t, func() bool { return count() > n }) // restarting again
	mustEngine(t, root, "rm", "-f", "flaky")
	if out := mustEngine(t, root, "ps", "-aq"); out != "" {
		t.Fatalf("left: %q", out)
	}
}

// monitorPid is the pid of container id's monitor, as its state says.
func monitorPid(t *testing.T, root, id string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		MonitorPid int `json:"monitorPid"`
	}
	if err := json.Unmarshal(b, &st); err != nil || st.MonitorPid == 0 {
		t.Fatalf("state of %s: %s %v", id, b, err)
	}
	return st.MonitorPid
}

// TestEngineKilledMonitorOfARmContainer: a --rm container whose monitor
// is killed goes, as its monitor would have removed it (issue 22: it
// stayed Exited (255), and its start failed on the volatile overlay's
// mark); another container is Exited (255) and starts again.
func TestEngineKilledMonitorOfARmContainer(t *testing.T) {
	root := engineWithBusybox(t)
	rm := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--rm", "--network", "none", "busybox:it", "sleep", "100"))
	kept := strings.TrimSpace(mustEngine(t, root, "run", "-d", "--network", "none", "busybox:it", "sleep", "100"))
	for _, id := range []string{rm, kept} {
		if err := unix.Kill(monitorPid(t, root, id), unix.SIGKILL); err != nil { // a monitor this test started
			t.Fatal(err)
		}
	}
	waitFor(t, func() bool { return !strings.Contains(engine(t, root, "ps", "-a", "--no-trunc", "-q").stdout, rm) })
	if r := engine(t, root, "inspect", rm); r.code == 0 {
		t.Fatal("the --rm container is still there")
	}
	if got := mustEngine(t, root, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", kept); got != "exited 255\n" {
		t.Fatalf("the other container: %q", got)
	}
	mustEngine(t, root, "start", kept)
	mustEngine(t, root, "rm", "-f", kept)
}
