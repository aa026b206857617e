package runtime

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/runtime/syncproto"
)

// ExecOptions are exec's inputs besides the container id.
type ExecOptions struct {
	Process       *specs.Process
	Detach        bool
	PidFile       string
	ConsoleSocket string
	// Console, if set, is used instead of dialing ConsoleSocket: the
	// pty's master is sent over it (berth exec -t relays it itself).
	Console     *os.File
	PreserveFDs int
	// Stdio of the process; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File
	// Started, if set, is called with the process's pid once it runs
	// (an exec session records it before waiting).
	Started func(pid int)
	// IgnorePaused lets the process join a paused container: it runs
	// once the container is resumed (runc's --ignore-paused).
	IgnorePaused bool
	// SubCgroups puts the process in cgroups below the container's
	// (runc's --cgroup): see ParseSubCgroups.
	SubCgroups map[string]string
}

// ParseSubCgroups reads runc's exec --cgroup values, PATH or
// CONTROLLER[,CONTROLLER]:PATH, into controller -> path below the
// container's cgroup ("" for every controller not named). A path that
// leaves the container's cgroup is refused.
func ParseSubCgroups(values []string) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range values {
		ctrls, path, ok := strings.Cut(v, ":")
		if !ok {
			ctrls, path = "", v
		}
		rel := filepath.Clean(strings.TrimPrefix(path, "/"))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, fmt.Errorf("--cgroup: %s is not a sub cgroup path", path)
		}
		if rel == "." {
			rel = ""
		}
		for _, c := range strings.Split(ctrls, ",") {
			out[c] = rel
		}
	}
	return out, nil
}

// Exec runs a new process in a created or running container: it joins
// every namespace of the container's init (the nsenter constructor does
// it, user first, and forks into the PID namespace), the container's
// cgroups, and applies the process spec as init does. Unless detached it
// waits and returns the process's exit code.
func (r *Runtime) Exec(id string, o ExecOptions) (int, error) {
	trace("exec")
	c, cg, err := r.withCgroup(id)
	if err != nil {
		return 0, err
	}
	trace("exec: state read")
	switch st := r.status(c); {
	case st == Paused && !o.IgnorePaused:
		return 0, fmt.Errorf("cannot exec in a paused container %s (use --ignore-paused to override)", id)
	case st != Running && st != Created && st != Paused:
		return 0, fmt.Errorf("cannot exec in container %s: it is %s", id, st)
	}
	if !nsenter.Supported() {
		return 0, errors.New("exec needs a cgo build of berth (namespaces are joined before Go starts)")
	}
	p := o.Process
	if p == nil || len(p.Args) == 0 {
		return 0, errors.New("exec: no command given")
	}
	if err := grantable(p); err != nil {
		return 0, err
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	var relay *os.File // our own console socket's end: the pty goes to our stdio
	if p.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		if o.Detach {
			return 0, errors.New("exec: a detached process with a terminal needs --console-socket")
		}
		if o.Console, relay, err = consolePair(); err != nil {
			return 0, err
		}
		defer o.Console.Close() // ours; the process has its copy
		defer relay.Close()     // ours, used for one message
	}
	// Joined through /proc of the live init, which was checked above.
	var joins []nsenter.Join
	fork := false
	for _, ns := range c.Config.Linux.Namespaces {
		t := namespaceTypes[ns.Type]
		joins = append(joins, nsenter.Join{Type: t, Path: "/proc/" + strconv.Itoa(c.Pid) + "/ns/" + t})
		fork = fork || t == "pid"
	}

	parentSock, childSock, extra, syncFD, err := childFiles(o.PreserveFDs)
	if err != nil {
		return 0, err
	}
	defer parentSock.Close() // ours; the child has its copy
	defer childSock.Close()  // ours; the child has its copy
	consoleFD := -1
	if p.Terminal {
		f := o.Console
		if f == nil {
			if f, err = console.DialSocket(o.ConsoleSocket); err != nil {
				return 0, err
			}
			defer f.Close() // the console socket: the pty was sent over it
		}
		consoleFD = 3 + len(extra)
		extra = append(extra, f)
	}
	// The process joins the container's cgroups itself, before it runs
	// anything: born into the cgroup2 one (clone3), moving its one
	// thread into the v1 ones. In a user namespace it may not write the
	// host's cgroupfs, and sub cgroups are moved into by us.
	var tasks []string
	cgroupFD, born := -1, false
	selfJoin := len(o.SubCgroups) == 0 && !inUserNamespace(c.Config)
	if selfJoin {
		tasks = cg.SelfJoinFiles()
		fd, ok, err := cg.CloneFD()
		if err != nil {
			return 0, err
		}
		if ok {
			defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
			cgroupFD, born = fd, true
		}
	}
	enc, err := nsenter.Instruction{SyncFD: syncFD, Fork: fork, Joins: joins, Tasks: tasks}.Encode()
	if err != nil {
		return 0, err
	}
	spec := *c.Config
	spec.Process = p
	env := []string{SyncFDEnv + "=" + strconv.Itoa(syncFD), enc}
	native := planned(&spec)
	if native {
		env = append(env, nsenter.PlanEnv+"=1")
	}
	exe, exeFile, err := selfExe()
	if err != nil {
		return 0, err
	}
	defer exeFile.Close() // ours; the child has its copy
	cmd := &exec.Cmd{
		Path:        exe,
		Args:        []string{"berth:[exec]"},
		Env:         traceEnv(env),
		ExtraFiles:  extra,
		Stdin:       orStd(o.Stdin, os.Stdin),
		Stdout:      orStd(o.Stdout, os.Stdout),
		Stderr:      orStd(o.Stderr, os.Stderr),
		SysProcAttr: &syscall.SysProcAttr{Setsid: p.Terminal, UseCgroupFD: born, CgroupFD: cgroupFD},
	}
	// The process is the constructor's child: become its reaper, to wait
	// for it or to reap it if set-up fails.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("become child subreaper: %w", err)
	}
	var sigc chan os.Signal
	if !o.Detach {
		sigc = make(chan os.Signal, 32)
		signal.Notify(sigc, forwardedSignals...)
		defer signal.Stop(sigc)
	}
	r.debugf("nsexec container setup")
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start exec process: %w", err)
	}
	trace("exec: child started")
	_ = childSock.Close() // ours; the child has its copy
	pid := cmd.Process.Pid
	fail := func(err error) (int, error) {
		// Reaped here: a zombie would keep the container's cgroup busy.
		_ = unix.Kill(pid, unix.SIGKILL) // a process that failed to set up; it may be gone
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, 0, nil) // reaped; its status is the failure above
		return 0, err
	}
	if fork {
		m, err := syncproto.Expect(parentSock, syncproto.MsgPid)
		_ = cmd.Wait() // the constructor's parent: it exits once it has forked
		if err != nil {
			return 0, fmt.Errorf("exec in container %s: %w", id, err)
		}
		pid = m.Pid
	}
	join := cg.Join
	if len(o.SubCgroups) > 0 {
		join = func(pid int) error { return cg.JoinSub(pid, o.SubCgroups) }
	}
	if !selfJoin {
		if err := join(pid); err != nil {
			return fail(err)
		}
	}
	trace("exec: in cgroups")
	r.debugf("child process in init()")
	// Compiled (or read from the cache) while the child joins.
	filter, err := r.seccompProgram(&spec)
	if err != nil {
		return fail(err)
	}
	trace("exec: seccomp program")
	if native {
		pl, perr := processPlan(p, filter, o.PreserveFDs, consoleFD)
		var plan []byte
		if perr == nil {
			plan, perr = pl.Encode()
		}
		if perr != nil {
			return fail(perr)
		}
		err = syncproto.WriteFrame(parentSock, plan)
	} else {
		// The process is all an exec's init stage reads of the spec: the
		// container's mounts, devices and resources (most of its JSON,
		// and most of the child's decode) stay here.
		boot := &syncproto.Bootstrap{ID: id, Spec: &specs.Spec{Version: spec.Version, Process: p}, Seccomp: filter, Exec: true, PreserveFDs: o.PreserveFDs, ConsoleFD: consoleFD}
		err = syncproto.Write(parentSock, syncproto.Message{Type: syncproto.MsgBootstrap, Bootstrap: boot})
	}
	if err != nil {
		return fail(r.initFailure(parentSock, err))
	}
	m, err := syncproto.Read(parentSock)
	if err == nil && m.Type == syncproto.MsgSeccompFd {
		if err := relaySeccompFd(parentSock, spec.Linux.Seccomp, pid, specState(c, Running)); err != nil {
			return fail(err)
		}
		m, err = syncproto.Read(parentSock)
	}
	switch {
	case err != nil:
		return fail(r.initFailure(parentSock, err))
	case m.Type == syncproto.MsgError:
		return fail(&InitError{Msg: m.Error, Code: m.Code})
	case m.Type != syncproto.MsgReady:
		return fail(fmt.Errorf("sync: unexpected %q message from exec", m.Type))
	}
	trace("exec: ready")
	r.debugf("setns_init: about to exec")
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return fail(err)
		}
	}
	if o.Started != nil {
		o.Started(pid)
	}
	if relay != nil {
		done, err := relayTerminal(relay)
		if err != nil {
			return fail(err)
		}
		defer done()
	}
	if o.Detach {
		if !fork {
			_ = cmd.Process.Release() // frees the handle; cannot fail on Linux
		}
		return 0, nil
	}
	code, err := waitFor(pid, sigc)
	if err != nil {
		return 0, fmt.Errorf("wait for exec in %s: %w", id, err)
	}
	return code, nil
}

// inUserNamespace reports whether the container has a user namespace.
func inUserNamespace(spec *specs.Spec) bool {
	return spec.Linux != nil && slices.ContainsFunc(spec.Linux.Namespaces, func(ns specs.LinuxNamespace) bool { return ns.Type == specs.UserNamespace })
}

// waitFor waits for pid, a child of ours (the nsenter constructor's
// grandchild is ours once its parent, reaped above, has exited),
// forwarding the signals meant for it. Unlike waitAndForward it reaps
// nothing else: execs running in parallel in one process each get
// their own process's status, and no other child of the caller is
// taken from it.
func waitFor(pid int, sigc chan os.Signal) (int, error) {
	type result struct {
		ws  unix.WaitStatus
		err error
	}
	done := make(chan result, 1)
	go func() {
		for {
			var ws unix.WaitStatus
			_, err := unix.Wait4(pid, &ws, 0, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			done <- result{ws, err}
			return
		}
	}()
	for {
		select {
		case r := <-done:
			if r.err != nil {
				return 0, r.err
			}
			if r.ws.Signaled() {
				return 128 + int(r.ws.Signal()), nil
			}
			return r.ws.ExitStatus(), nil
		case s := <-sigc:
			if sig, ok := s.(unix.Signal); ok && sig != unix.SIGCHLD && sig != unix.SIGURG && sig != unix.SIGWINCH {
				// Gone already: the wait above returns.
				_ = unix.Kill(pid, sig)
			}
		}
	}
}

// ContainerProcess returns a copy of a container's process spec, the
// defaults an exec starts from (env, user, capabilities, rlimits, ...).
func (r *Runtime) ContainerProcess(id string) (*specs.Process, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	p := *c.Config.Process
	p.Env = append([]string(nil), p.Env...)
	p.Terminal, p.ConsoleSize = false, nil
	return &p, nil
}
