package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/launch"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/state"
)

// ExecConfig is the process of an exec session.
type ExecConfig struct {
	Cmd []string
	// Env adds to the container's environment.
	Env        []string
	User       string // user[:group], resolved in the container's /etc
	WorkingDir string // "" is the container's
	Tty        bool
	// Privileged gives the process every capability the host grants
	// (the container's seccomp filter still applies, as with Docker).
	Privileged bool
}

// ExecStartOptions are how an exec session runs.
type ExecStartOptions struct {
	// Detach returns once the process runs; its monitor records how it
	// ends (ExecInspect).
	Detach bool
	// Stdio of the process; nil is /dev/null. With a terminal, Stdin is
	// copied to it and it to Stdout.
	Stdin, Stdout, Stderr *os.File
	// ConsoleSize is the new terminal's (rows, cols); zero leaves the
	// default.
	ConsoleSize [2]uint16
	// Resizes carry the client's later sizes (rows, cols) to the
	// terminal, while the session runs.
	Resizes <-chan [2]uint16
	// DetachKeys, typed on Stdin of a session with a terminal, end the
	// start but not the session ("" is ctrl-p,ctrl-q).
	DetachKeys string
}

// ExecOptions are ContainerExec's: a session's process and how it runs.
type ExecOptions struct {
	ExecConfig
	ExecStartOptions
}

// execRecord is an exec session on disk, under its container's
// directory: what ExecCreate decided and what its monitor recorded.
type execRecord struct {
	ID          string     `json:"id"`
	ContainerID string     `json:"containerId"`
	Config      ExecConfig `json:"config"`
	Created     time.Time  `json:"created"`
	// ConsoleSize is the starter's terminal, (rows, cols).
	ConsoleSize [2]uint16 `json:"consoleSize,omitzero"`
	Running     bool      `json:"running,omitempty"`
	Pid         int       `json:"pid,omitempty"`
	// MonitorPid and MonitorStart name the session's monitor.
	MonitorPid   int       `json:"monitorPid,omitempty"`
	MonitorStart uint64    `json:"monitorStart,omitempty"`
	ExitCode     *int      `json:"exitCode,omitempty"`
	Error        string    `json:"error,omitempty"`
	Finished     time.Time `json:"finished,omitzero"`
}

func (e *Engine) execDir(containerID string) string {
	return filepath.Join(e.containers.Dir(containerID), "exec")
}

func (e *Engine) execPath(containerID, id string) string {
	return filepath.Join(e.execDir(containerID), id+".json")
}

func (e *Engine) saveExec(r *execRecord) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("save exec session %s: %w", r.ID[:12], err)
	}
	return state.WriteFileVolatile(e.execPath(r.ContainerID, r.ID), b, 0o600)
}

// findExec finds a session by its full ID or a unique prefix, in every
// container.
func (e *Engine) findExec(id string) (*execRecord, error) {
	all, err := e.containers.List()
	if err != nil {
		return nil, err
	}
	var hit *execRecord
	for _, c := range all {
		ents, err := os.ReadDir(e.execDir(c.ID))
		if err != nil {
			continue // none yet
		}
		for _, ent := range ents {
			name := ent.Name()
			if len(name) < len(id) || name[:len(id)] != id || filepath.Ext(name) != ".json" {
				continue
			}
			b, err := os.ReadFile(filepath.Join(e.execDir(c.ID), name))
			if err != nil {
				continue // removed with its container meanwhile
			}
			var r execRecord
			if err := json.Unmarshal(b, &r); err != nil {
				return nil, fmt.Errorf("exec session %s: %w", name, err)
			}
			if hit != nil {
				return nil, invalid(fmt.Errorf("exec ID prefix %q is ambiguous", id))
			}
			hit = &r
		}
	}
	if hit == nil || id == "" {
		return nil, withKind(ErrNotFound, fmt.Errorf("no such exec instance: %s", id))
	}
	// A session whose monitor is gone without a word ended unknown.
	if hit.Running && !monitor.Alive(hit.MonitorPid, hit.MonitorStart) {
		hit.Running = false
	}
	return hit, nil
}

// ExecCreate sets up an exec session in a running container and returns
// its ID; ExecStart runs it.
func (e *Engine) ExecCreate(ref string, cfg ExecConfig) (string, error) {
	r, err := e.execCreate(ref, cfg)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

func (e *Engine) execCreate(ref string, cfg ExecConfig) (*execRecord, error) {
	c, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	if c.State.Status != container.Running {
		return nil, conflict(fmt.Errorf("container %s is not running", c.Name))
	}
	if c.State.Paused {
		return nil, conflict(fmt.Errorf("container %s is paused, unpause the container before exec", c.Name))
	}
	if len(cfg.Cmd) == 0 {
		return nil, invalid(errors.New("exec: no command given"))
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	r := &execRecord{ID: hex.EncodeToString(b), ContainerID: c.ID, Config: cfg, Created: time.Now().UTC()}
	if err := os.MkdirAll(e.execDir(c.ID), 0o700); err != nil {
		return nil, fmt.Errorf("exec in %s: %w", c.Name, err)
	}
	if err := e.saveExec(r); err != nil {
		return nil, err
	}
	e.containerEvent(c, mobyevents.Action("exec_create: "+strings.Join(cfg.Cmd, " ")), "execID", r.ID)
	return r, nil
}

// ExecStart runs a created exec session through a monitor of its own,
// owned by nobody, which records how it ends; unless detached it waits
// and returns the exit code. A failure to start the process is a
// StatusError: 126 or 127 as Docker gives them, else 125.
func (e *Engine) ExecStart(ctx context.Context, id string, o ExecStartOptions) (int, error) {
	r, err := e.findExec(id)
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	return e.execStart(r, o)
}

func (e *Engine) execStart(r *execRecord, o ExecStartOptions) (int, error) {
	if r.MonitorPid != 0 {
		return 0, &StatusError{StatusFailed, conflict(fmt.Errorf("exec session %s has been started already", r.ID[:12]))}
	}
	if r.Config.Tty {
		return e.execStartTerminal(r, o)
	}
	stdio := [3]*os.File{o.Stdin, o.Stdout, o.Stderr}
	if o.Detach {
		stdio = [3]*os.File{}
	}
	if e.oneShot && !o.Detach {
		// This process ends with the session: it is the session's
		// monitor itself, and saves a process start.
		return e.runExec(r, stdio, nil, nopReporter{})
	}
	l, err := launch.StartExec(e.self, r.ContainerID, r.ID, [2]string{e.paths.Root, e.paths.RunRoot}, stdio, nil)
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	defer l.Close() // the report pipe, read to its end or given up
	return followExec(l, r, o.Detach, nil)
}

// execStartTerminal runs a session with a terminal. Its monitor keeps
// the pty, so that the session outlives a detached start or a client
// that types the detach keys, and streams it to us in attach frames.
func (e *Engine) execStartTerminal(r *execRecord, o ExecStartOptions) (int, error) {
	var keys []byte
	if !o.Detach {
		r.ConsoleSize = o.ConsoleSize
		spec := o.DetachKeys
		if spec == "" {
			spec = attach.DefaultDetachKeys
		}
		var err error
		if keys, err = attach.ParseDetachKeys(spec); err != nil {
			return 0, &StatusError{StatusFailed, invalid(err)}
		}
	}
	if err := e.saveExec(r); err != nil { // the console size, for the monitor
		return 0, &StatusError{StatusFailed, err}
	}
	var ours, theirs *os.File
	if !o.Detach {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, &StatusError{StatusFailed, fmt.Errorf("exec session %s: %w", r.ID[:12], err)}
		}
		ours, theirs = os.NewFile(uintptr(fds[0]), "exec-attach"), os.NewFile(uintptr(fds[1]), "exec-client")
		defer ours.Close() // the stream has ended, or we detached
	}
	l, err := launch.StartExec(e.self, r.ContainerID, r.ID, [2]string{e.paths.Root, e.paths.RunRoot}, [3]*os.File{}, theirs)
	_ = closeIf(theirs) // the monitor holds its copy
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	defer l.Close() // the report pipe, read to its end or given up
	return followExec(l, r, o.Detach, func() (bool, error) {
		conn, err := net.FileConn(ours)
		if err != nil {
			return false, err
		}
		defer conn.Close() // a dup of ours
		cl := &attach.Client{Conn: conn, Stdout: io.Discard, DetachKeys: keys, Resizes: o.Resizes}
		if o.Stdout != nil {
			cl.Stdout = o.Stdout
		}
		if o.Stdin != nil {
			cl.Stdin = o.Stdin
		}
		err = cl.Run()
		if errors.Is(err, attach.ErrDetached) {
			return true, nil
		}
		return false, err
	})
}

// ErrDetached is what ContainerExec and ExecStart return when the
// client typed the detach keys: the session runs on.
var ErrDetached = attach.ErrDetached

// followExec reads a launched session's reports: that it runs, then,
// unless detached, its exit code. stream, when set, relays the session
// until it ends or the client detaches, which returns at once
// (ErrDetached) and leaves the session running.
func followExec(l *launch.Launch, r *execRecord, detach bool, stream func() (detached bool, err error)) (int, error) {
	first, err := l.Next()
	if err == nil {
		err = first.Err()
	}
	if err != nil {
		l.Release()
		return 0, statusOf125(err)
	}
	if detach {
		l.Release()
		return 0, nil
	}
	if stream != nil {
		detached, err := stream()
		if detached {
			l.Release()
			return 0, ErrDetached
		}
		if err != nil {
			l.Release()
			return 0, fmt.Errorf("exec session %s: %w", r.ID[:12], err)
		}
	}
	last, err := l.Next()
	l.WaitExit()
	if err != nil {
		return 0, fmt.Errorf("exec session %s: %w", r.ID[:12], err)
	}
	return last.ExitCode, nil
}

func closeIf(f *os.File) error {
	if f == nil {
		return nil
	}
	return f.Close()
}

// statusOf125 is a monitor's failure as a StatusError: its own status,
// else 125.
func statusOf125(err error) error {
	var f *launch.Failure
	if errors.As(err, &f) {
		return &StatusError{f.Status, errors.New(f.Msg)}
	}
	return &StatusError{StatusFailed, err}
}

// ExecIO are a session's streams as a front end holds them (a
// connection, a buffer); nil is not attached.
type ExecIO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

// ExecStartIO is ExecStart with the streams of io, which the engine
// pipes to the session's process: it returns once the session has ended
// (or was detached from) and its output is copied. The input is copied
// until io.Stdin ends, then closed.
func (e *Engine) ExecStartIO(ctx context.Context, id string, sio ExecIO, o ExecStartOptions) (int, error) {
	var copies sync.WaitGroup
	var ours []*os.File // our ends of the output pipes, closed once the session ends
	defer func() {
		for _, f := range ours {
			_ = f.Close() // the session's own copies kept the pipes open until it ended
		}
		copies.Wait()
	}()
	pipeOut := func(dst io.Writer) (*os.File, error) {
		pr, pw, err := os.Pipe()
		if err != nil {
			return nil, &StatusError{StatusFailed, fmt.Errorf("exec session %s: %w", id, err)}
		}
		copies.Add(1)
		go func() {
			defer copies.Done()
			defer pr.Close()        // read to its end
			_, _ = io.Copy(dst, pr) // a reader gone: the rest is dropped
		}()
		ours = append(ours, pw)
		return pw, nil
	}
	var err error
	if sio.Stdout != nil {
		if o.Stdout, err = pipeOut(sio.Stdout); err != nil {
			return 0, err
		}
	}
	if sio.Stderr != nil {
		if o.Stderr, err = pipeOut(sio.Stderr); err != nil {
			return 0, err
		}
	}
	if sio.Stdin != nil {
		pr, pw, err := os.Pipe()
		if err != nil {
			return 0, &StatusError{StatusFailed, fmt.Errorf("exec session %s: %w", id, err)}
		}
		defer pr.Close() // the session's monitor holds its copy
		go func() {
			_, _ = io.Copy(pw, sio.Stdin) // a client gone ends the input as EOF does
			_ = pw.Close()                // EOF for the session's input
		}()
		o.Stdin = pr
	}
	return e.ExecStart(ctx, id, o)
}

// ExecInspect describes an exec session as Docker does: running, or its
// exit code once it has ended (nil if its monitor died without one).
func (e *Engine) ExecInspect(id string) (mobycontainer.ExecInspectResponse, error) {
	r, err := e.findExec(id)
	if err != nil {
		return mobycontainer.ExecInspectResponse{}, err
	}
	out := mobycontainer.ExecInspectResponse{ID: r.ID, Running: r.Running, ExitCode: r.ExitCode, ContainerID: r.ContainerID,
		Pid: r.Pid, OpenStdout: true, OpenStderr: true,
		ProcessConfig: &mobycontainer.ExecProcessConfig{Tty: r.Config.Tty, User: r.Config.User}}
	if len(r.Config.Cmd) > 0 {
		out.ProcessConfig.Entrypoint, out.ProcessConfig.Arguments = r.Config.Cmd[0], r.Config.Cmd[1:]
	}
	return out, nil
}

// ContainerExec runs a process in a running container (ExecCreate, then
// ExecStart) and, unless detached, returns its exit code.
func (e *Engine) ContainerExec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	// A container that is not there or not running is the daemon's
	// refusal (1 at Docker's CLI), not a failure to run the process.
	if o.DetachKeys != "" {
		if _, err := attach.ParseDetachKeys(o.DetachKeys); err != nil {
			return 0, invalid(err)
		}
	}
	r, err := e.execCreate(ref, o.ExecConfig)
	if err != nil {
		return 0, err
	}
	return e.execStart(r, o.ExecStartOptions)
}

// execMonitorMain is an exec session's monitor: it runs the session's
// process with its own stdio, records its pid and then its exit code,
// and reports both to the starter.
func execMonitorMain() {
	child, err := launch.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	e, err := Open(child.Roots[0], child.Roots[1])
	if err != nil {
		child.Failed(err, StatusFailed)
		os.Exit(1)
	}
	r, err := e.loadExec(child.ContainerID, child.ID)
	if err != nil {
		child.Failed(err, StatusFailed)
		os.Exit(1)
	}
	// The process's code and any failure went to the starter in the
	// report; the monitor's own status says only whether it ran it.
	if _, err := e.runExec(r, [3]*os.File{os.Stdin, os.Stdout, os.Stderr}, child.ExecClient(), child); err != nil {
		os.Exit(1)
	}
	os.Exit(0)
}

// loadExec reads one session of one container.
func (e *Engine) loadExec(containerID, id string) (*execRecord, error) {
	b, err := os.ReadFile(e.execPath(containerID, id))
	if err != nil {
		return nil, withKind(ErrNotFound, fmt.Errorf("exec session %s: %w", id, err))
	}
	var r execRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("exec session %s: %w", id, err)
	}
	return &r, nil
}

// execReporter hears how a session goes: an exec monitor tells its
// starter; a one-shot caller running the session itself needs no one.
type execReporter interface {
	Started(pid int)
	ExitedWith(code int)
	Failed(err error, status int)
}

type nopReporter struct{}

func (nopReporter) Started(int)       {}
func (nopReporter) ExitedWith(int)    {}
func (nopReporter) Failed(error, int) {}

// runExec runs session r in this process, which becomes its monitor:
// it records the pid and the exit code, and returns the code, or a
// StatusError when the process could not start. A session with a
// terminal is streamed to client (nil: none) in attach frames.
func (e *Engine) runExec(r *execRecord, stdio [3]*os.File, client *os.File, rep execReporter) (int, error) {
	r.MonitorPid = os.Getpid()
	r.MonitorStart = monitor.StartTime(r.MonitorPid)
	c, err := e.containers.Load(r.ContainerID)
	if err != nil {
		return 0, e.execFailed(rep, r, err)
	}
	p, err := e.execProcess(r)
	if err != nil {
		return 0, e.execFailed(rep, r, err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, e.execFailed(rep, r, err)
	}
	defer devNull.Close() // read only; the process has its own copy
	ro := runtime.ExecOptions{Process: p, Stdin: orFile(stdio[0], devNull), Stdout: orFile(stdio[1], devNull), Stderr: orFile(stdio[2], devNull)}
	var term *execTerminal
	if r.Config.Tty {
		if term, err = newExecTerminal(client); err != nil {
			return 0, e.execFailed(rep, r, err)
		}
		defer term.close()
		ro.Console = term.socket
	}
	ro.Started = func(pid int) {
		e.containerEvent(c, mobyevents.Action("exec_start: "+strings.Join(r.Config.Cmd, " ")), "execID", r.ID)
		r.Running, r.Pid = true, pid
		// Unsaved, inspect shows the session not yet running: the
		// report below still reaches the starter.
		_ = e.saveExec(r)
		rep.Started(pid)
	}
	code, err := e.rt.Exec(r.ContainerID, ro)
	if err != nil {
		return 0, e.execFailed(rep, r, err)
	}
	if term != nil {
		term.exited(code)
	}
	r.Running, r.ExitCode, r.Finished = false, &code, time.Now().UTC()
	// Unsaved, inspect does not know the code; the starter still gets it.
	_ = e.saveExec(r)
	e.containerEvent(c, mobyevents.ActionExecDie, "execID", r.ID, "exitCode", strconv.Itoa(code))
	rep.ExitedWith(code)
	return code, nil
}

// execTerminal is a session's pty as its monitor holds it: the master,
// received over the runtime's console socket, is pumped to the attached
// client (or nowhere) and takes the client's input and sizes.
type execTerminal struct {
	socket  *os.File // the runtime's end of the console socket
	hub     *stdio.Hub
	drained chan struct{}
}

func newExecTerminal(client *os.File) (*execTerminal, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("exec: console socket: %w", err)
	}
	t := &execTerminal{socket: os.NewFile(uintptr(fds[0]), "console"), hub: stdio.NewHub(false), drained: make(chan struct{})}
	relay := os.NewFile(uintptr(fds[1]), "console-relay")
	if client != nil {
		conn, err := net.FileConn(client)
		_ = client.Close() // conn holds a dup
		if err != nil {
			// Ours, unused: the connection's error is the one to report.
			_ = t.socket.Close()
			_ = relay.Close()
			return nil, fmt.Errorf("exec: attach connection: %w", err)
		}
		t.hub.Add(conn)
	}
	go func() {
		defer close(t.drained)
		defer relay.Close() // used for the one message
		master, err := console.RecvFd(relay)
		if err != nil {
			return // the process failed before it made a terminal; runExec says why
		}
		defer master.Close() // after the last output: the process has the terminal
		t.hub.SetInput(master, master)
		t.hub.Pump(attach.Stdout, "stdout", master, stdio.Discard)
	}()
	return t, nil
}

// exited sends the session's last output and then its exit code to the
// client. Output is waited for only briefly: a background process that
// keeps the terminal open must not hold the session's end.
func (t *execTerminal) exited(code int) {
	select {
	case <-t.drained:
	case <-time.After(2 * time.Second):
	}
	t.hub.Exited(code)
}

func (t *execTerminal) close() {
	_ = t.socket.Close() // the runtime is done with it
	t.hub.CloseAll()
}

func orFile(f, def *os.File) *os.File {
	if f == nil {
		return def
	}
	return f
}

// execFailed records and reports a session whose process did not start,
// and returns the failure with Docker's status.
func (e *Engine) execFailed(rep execReporter, r *execRecord, err error) error {
	// A process that could not run, found or not, is 126 for an exec,
	// as Docker records it (a container's start tells 127 apart).
	status := StatusFailed
	var ie *runtime.InitError
	if errors.As(err, &ie) && (ie.Code == StatusCannotRun || ie.Code == StatusNotFoundCmd) {
		status = StatusCannotRun
	}
	r.Running, r.Error, r.Finished = false, err.Error(), time.Now().UTC()
	r.ExitCode = &status
	_ = e.saveExec(r) // the failure is returned and reported in any case
	rep.Failed(err, status)
	return &StatusError{status, err}
}

// execProcess is the session's process: the container's, with the
// session's command, environment, user and directory.
func (e *Engine) execProcess(r *execRecord) (*specs.Process, error) {
	base, err := e.rt.ContainerProcess(r.ContainerID)
	if err != nil {
		return nil, err
	}
	p := *base
	p.Args, p.Terminal = r.Config.Cmd, r.Config.Tty
	if r.ConsoleSize != [2]uint16{} {
		p.ConsoleSize = &specs.Box{Height: uint(r.ConsoleSize[0]), Width: uint(r.ConsoleSize[1])}
	}
	p.Env = append(append([]string(nil), base.Env...), r.Config.Env...)
	if r.Config.WorkingDir != "" {
		p.Cwd = r.Config.WorkingDir
	}
	if r.Config.User != "" {
		u, err := container.ResolveUser(e.containers.Dir(r.ContainerID)+"/merged", r.Config.User)
		if err != nil {
			return nil, err
		}
		p.User = u
	}
	if r.Config.Privileged {
		all := caps.Known()
		missing := caps.Unavailable(&specs.LinuxCapabilities{Bounding: all})
		all = slices.DeleteFunc(all, func(c string) bool { return slices.Contains(missing, c) })
		p.Capabilities = &specs.LinuxCapabilities{Bounding: all, Effective: all, Permitted: all}
	}
	return &p, nil
}
