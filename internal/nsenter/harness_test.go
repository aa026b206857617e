//go:build linux && cgo

package nsenter

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The harness runs the C start stage for real: this test binary has
// the constructor, so started with PlanEnv it applies the plan sent to
// it and execs, as a container's init does, with no runtime around.

type frame struct {
	Type  string `json:"type"`
	Error string `json:"error"`
	Code  int    `json:"code"`
}

type started struct {
	cmd    *exec.Cmd
	sock   *os.File
	out    *bytes.Buffer
	frames []frame
}

// startPlan starts the stage with plan, the child's sync socket at fd 3
// and extra files after it, and reads its frames up to ready or error.
func startPlan(t *testing.T, plan []byte, cloneflags uintptr, extra ...*os.File) *started {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	parent, child := os.NewFile(uintptr(fds[0]), "parent"), os.NewFile(uintptr(fds[1]), "child")
	t.Cleanup(func() { parent.Close() })
	s := &started{sock: parent, out: &bytes.Buffer{}}
	s.cmd = exec.Command(os.Args[0])
	s.cmd.Env = []string{"_BERTH_SYNC_FD=3", PlanEnv + "=1"}
	s.cmd.ExtraFiles = append([]*os.File{child}, extra...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: cloneflags}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	child.Close()
	hdr := binary.BigEndian.AppendUint32(nil, uint32(len(plan)))
	if _, err := parent.Write(append(hdr, plan...)); err != nil {
		t.Fatal(err)
	}
	for {
		var n [4]byte
		if _, err := io.ReadFull(parent, n[:]); err != nil {
			break
		}
		body := make([]byte, binary.BigEndian.Uint32(n[:]))
		if _, err := io.ReadFull(parent, body); err != nil {
			t.Fatal(err)
		}
		var f frame
		if err := json.Unmarshal(body, &f); err != nil {
			t.Fatalf("frame %q: %v", body, err)
		}
		s.frames = append(s.frames, f)
		if f.Type == "ready" || f.Type == "error" {
			break
		}
	}
	return s
}

func (s *started) wait(t *testing.T) (string, int) {
	t.Helper()
	err := s.cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return s.out.String(), code
}

func needRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("the start stage switches users and mounts: run as root (make test does)")
	}
}

func encode(t *testing.T, p *Plan) []byte {
	t.Helper()
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStageAppliesTheProcessAndWaitsForStart(t *testing.T) {
	needRoot(t)
	fifo := filepath.Join(t.TempDir(), "exec.fifo")
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(fifo, 0o622); err != nil { // past the umask, as the runtime makes it
		t.Fatal(err)
	}
	fd, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	path := os.NewFile(uintptr(fd), "fifo")
	defer path.Close()
	s := startPlan(t, encode(t, &Plan{
		Args: []string{"sh", "-c", `id -u; id -g; id -G; umask; pwd; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; ulimit -n; echo "$X"; ls /proc/self/fd`},
		Env:  []string{"PATH=/usr/bin:/bin", "X=from the plan"}, Cwd: "/tmp", UID: 65534, GID: 65534, Groups: []uint32{100},
		Umask: 0o027, Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 123, Hard: 456, Name: "RLIMIT_NOFILE"}},
		Caps: &Caps{DropBounding: true, LastCap: 40, Bounding: 1 << unix.CAP_KILL}, NoNewPrivs: true, FifoFD: 4,
	}), 0, path)
	if len(s.frames) != 1 || s.frames[0].Type != "ready" {
		t.Fatalf("frames %+v, output %s", s.frames, s.out)
	}
	// Nothing runs before start opens the fifo; a stage that failed
	// after ready never opens it for writing.
	exited := make(chan struct{})
	var out string
	var code int
	go func() {
		out, code = s.wait(t)
		close(exited)
	}()
	opened := make(chan *os.File, 1)
	go func() {
		if r, err := os.OpenFile(fifo, os.O_RDONLY, 0); err == nil {
			opened <- r
		}
	}()
	var b []byte
	select {
	case r := <-opened:
		b, _ = io.ReadAll(r)
		r.Close()
		<-exited
	case <-exited:
		// Unblock the reader's open.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
		t.Fatalf("exited before start, %d: %s", code, out)
	}
	if string(b) != "0" || code != 0 {
		t.Fatalf("fifo read %q, exit %d, output %s", b, code, out)
	}
	want := "65534\n65534\n65534 100\n0027\n/tmp\nCapEff:\t0000000000000000\nCapBnd:\t0000000000000020\nNoNewPrivs:\t1\n123\nfrom the plan\n0\n1\n2\n3\n"
	if out != want {
		t.Fatalf("output\n%s\nwant\n%s", out, want)
	}
}

func TestStageFailsInTheGoStagesWords(t *testing.T) {
	needRoot(t)
	for _, c := range []struct {
		plan *Plan
		msg  string
		code int
	}{
		{&Plan{Args: []string{"nosuch"}, Env: []string{"PATH=/bin"}}, `exec: "nosuch": executable file not found in $PATH`, 127},
		{&Plan{Args: []string{"/etc"}}, `exec: "/etc": is a directory: permission denied`, 126},
		{&Plan{Args: []string{"/nonexistent"}}, `exec: "/nonexistent": stat /nonexistent: no such file or directory`, 127},
		{&Plan{Args: []string{"true"}, Cwd: "/nonexistent"}, `chdir to cwd "/nonexistent" set in config.json: no such file or directory`, 0},
		{&Plan{Args: []string{"true"}, Steps: []Step{{Op: StepMount, Target: TargetDir, Path: "/x", What: "mount /x"}}},
			"mount /x: start plan: a step in the root before the root is open", 0},
	} {
		s := startPlan(t, encode(t, c.plan), 0)
		out, code := s.wait(t)
		if len(s.frames) != 1 || s.frames[0].Type != "error" || s.frames[0].Error != c.msg || s.frames[0].Code != c.code || code != 1 {
			t.Errorf("%v: frames %+v, exit %d, output %s; want %q (%d)", c.plan.Args, s.frames, code, out, c.msg, c.code)
		}
	}
	s := startPlan(t, []byte("not a plan"), 0)
	if _, code := s.wait(t); len(s.frames) != 1 || !strings.Contains(s.frames[0].Error, "not a plan of this version") || code != 1 {
		t.Errorf("garbage: %+v", s.frames)
	}
}

// TestStageStepsStayInTheRoot runs mount steps in a mount namespace of
// their own: a target behind a symlink in the root lands inside it,
// however the link points.
func TestStageStepsStayInTheRoot(t *testing.T) {
	needRoot(t)
	dir := t.TempDir()
	root := filepath.Join(dir, "root")
	outside := filepath.Join(dir, "outside")
	// The link's target exists in the root too: a dangling one is an
	// error, as in package rootfs.
	for _, d := range []string{root, outside, filepath.Join(root, outside)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(root, "evil")); err != nil {
		t.Fatal(err)
	}
	s := startPlan(t, encode(t, &Plan{
		Args: []string{"/bin/sh", "-c", "grep -c ' " + root + "/" + strings.TrimPrefix(outside, "/") + "/sub ' /proc/self/mountinfo; grep -c ' " + outside + "/sub ' /proc/self/mountinfo; ls -ln " + root + "/dev; cat " + root + "/etc/mode; grep -c ' " + root + "/up ' /proc/self/mountinfo"},
		Caps: &Caps{LastCap: 40, Bounding: ^uint64(0), Effective: ^uint64(0), Permitted: ^uint64(0)},
		Steps: []Step{
			{Op: StepMount, Path: "/", Flags: unix.MS_SLAVE | unix.MS_REC, What: "make / rslave"},
			{Op: StepRoot, Path: root},
			{Op: StepMount, Target: TargetDir, Path: "/evil/sub", Src: "tmpfs", FSType: "tmpfs", Data: "size=1m", What: "mount /evil/sub"},
			{Op: StepMknod, Path: "/dev/null", A: unix.S_IFCHR | 0o666, Flags: unix.Mkdev(1, 3), B: 1<<32 | 2, What: "create device /dev/null"},
			{Op: StepSymlink, Path: "/dev/fd", Src: "/proc/self/fd", What: "symlink /dev/fd"},
			{Op: StepMount, Target: TargetFile, Path: "/etc/mode", Src: "/proc/self/mountinfo", Flags: unix.MS_BIND, What: "bind"},
			{Op: StepMount, Target: TargetExisting, Path: "/etc/mode", Flags: unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY, What: "remount"},
			// ".." stops at the root, as at "/".
			{Op: StepMount, Target: TargetDir, Path: "/../../../up", Src: "tmpfs", FSType: "tmpfs", What: "mount /../../../up"},
		},
	}), unix.CLONE_NEWNS)
	out, code := s.wait(t)
	if len(s.frames) != 1 || s.frames[0].Type != "ready" || code != 0 {
		t.Fatalf("frames %+v, exit %d, output %s", s.frames, code, out)
	}
	lines := strings.SplitN(out, "\n", 3)
	if lines[0] != "1" || lines[1] != "0" {
		t.Fatalf("the tmpfs is not at the root's copy of the link's target alone:\n%s", out)
	}
	if !strings.Contains(lines[2], "crw-rw-rw-    1 1        2          1,   3") && !strings.Contains(lines[2], "crw-rw-rw- 1 1 2 1, 3") {
		t.Fatalf("device node:\n%s", out)
	}
	if !strings.Contains(lines[2], "fd -> /proc/self/fd") || !strings.Contains(lines[2], "tmpfs") {
		t.Fatalf("link or the bound file:\n%s", out)
	}
	if all := strings.Split(strings.TrimSpace(out), "\n"); all[len(all)-1] != "1" {
		t.Fatalf("a target with .. is not in the root:\n%s", out)
	}
	for _, p := range []string{filepath.Join(outside, "sub"), filepath.Join(filepath.Dir(dir), "up"), "/up"} {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("%s was made outside the root", p)
		}
	}
}
