package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/trace"
)

// Streams are an attached client's: its input, where the container's
// output goes, its terminal's size and the signals it forwards.
type Streams struct {
	// Stdin is sent to a container opened with OpenStdin; nil sends
	// nothing.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// DetachKeys end the attachment but not the container, when typed
	// on Stdin of a container with a terminal ("" is ctrl-p,ctrl-q).
	DetachKeys string
	// Resizes carry the client's terminal size (rows, cols), the first
	// at once.
	Resizes <-chan [2]uint16
	// Signals are forwarded to the container's init when it has no
	// terminal (Docker's --sig-proxy).
	Signals <-chan os.Signal
}

// RunResult is how an attached run, start or attach ended.
type RunResult struct {
	ID string
	// Detached: the client detached and the container runs on.
	Detached bool
	// ExitCode is the container's, when it ended.
	ExitCode int
}

// ContainerStart starts a created or exited container and returns once
// it runs (or with the reason it could not). Starting a running
// container is not an error.
func (e *Engine) ContainerStart(ctx context.Context, ref string) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	l, err := e.launch(c.ID, nil)
	if err != nil {
		return err
	}
	mon, err := e.goAhead(l)
	if mon != nil {
		release(mon)
	}
	return err
}

// release lets a detached container's monitor go: it runs on without
// us. (os.Process.Release only frees the handle; it cannot fail on
// Linux.)
func release(p *os.Process) { _ = p.Release() }

// ContainerRun creates and starts a container. With streams nil it
// returns once the container runs; else the client is attached from the
// first byte and the call returns when the container ends or the client
// detaches. A failed start gives a StatusError (125, or 126/127 for a
// command that cannot run), and with AutoRemove leaves nothing.
func (e *Engine) ContainerRun(ctx context.Context, o CreateOptions, s *Streams) (RunResult, error) {
	// The monitor starts first, and boots while create works.
	if o.ID == "" {
		o.ID = container.NewID()
	}
	var l *Launch
	var ours *os.File
	var err error
	if s == nil {
		l, err = e.launch(o.ID, nil)
	} else {
		l, ours, err = e.launchAttached(o.ID)
	}
	if err != nil {
		return RunResult{}, &StatusError{StatusFailed, err}
	}
	trace.Phase("cli", "create")
	c, err := e.create(ctx, o)
	trace.Phase("cli", "created")
	if err != nil {
		l.abort()
		if ours != nil {
			_ = ours.Close() // never used
		}
		return RunResult{}, &StatusError{StatusFailed, err}
	}
	if s != nil {
		res, err := e.runAttached(c, l, ours, *s)
		if err != nil {
			return res, e.startFailed(c, err)
		}
		return res, nil
	}
	mon, err := e.goAhead(l)
	if err != nil {
		return RunResult{ID: c.ID}, e.startFailed(c, err)
	}
	release(mon)
	return RunResult{ID: c.ID}, nil
}

// startFailed is a run's error after a failed start: the container's
// code (126, 127) when it has one, else 125; with --rm nothing stays.
func (e *Engine) startFailed(c *container.Container, err error) error {
	code := StatusFailed
	if cur, lerr := e.containers.Load(c.ID); lerr == nil && cur.State.ExitCode != 0 {
		code = cur.State.ExitCode
	}
	if c.Host.AutoRemove {
		if rerr := e.remove(context.Background(), c, RemoveOptions{Force: true, Volumes: true}); rerr != nil && !errors.Is(rerr, ErrNotFound) {
			err = fmt.Errorf("%w (and removing the container failed: %v)", err, rerr)
		}
	}
	return &StatusError{code, err}
}

// ContainerStartAttached starts a container with a client attached from
// the first byte, and returns when it ends or the client detaches.
func (e *Engine) ContainerStartAttached(ctx context.Context, ref string, s Streams) (RunResult, error) {
	c, err := e.get(ref)
	if err != nil {
		return RunResult{}, err
	}
	l, ours, err := e.launchAttached(c.ID)
	if err != nil {
		return RunResult{}, &StatusError{StatusFailed, err}
	}
	return e.runAttached(c, l, ours, s)
}

// launchAttached launches a monitor for container id with one end of a
// socket pair as its first client, and returns the other end.
func (e *Engine) launchAttached(id string) (*Launch, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("attach: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach-monitor")
	defer theirs.Close() // the monitor holds its copy
	l, err := e.launch(id, theirs)
	if err != nil {
		_ = ours.Close() // never used
		return nil, nil, err
	}
	return l, ours, nil
}

// runAttached starts c through its launched monitor and runs the client
// on ours, our end of the monitor's first client connection.
func (e *Engine) runAttached(c *container.Container, l *Launch, ours *os.File, s Streams) (RunResult, error) {
	defer ours.Close() // net.FileConn made its own copy
	res := RunResult{ID: c.ID}
	mon, err := e.goAhead(l)
	trace.Phase("cli", "started")
	if err != nil {
		return res, err
	}
	if mon == nil {
		return res, conflict(fmt.Errorf("container %s is already running", c.Name))
	}
	conn, err := net.FileConn(ours)
	if err != nil {
		release(mon)
		return res, &StatusError{StatusFailed, fmt.Errorf("attach: %w", err)}
	}
	defer conn.Close()
	detached, err := e.runClient(c, conn, s)
	if detached || err != nil {
		release(mon)
		res.Detached = detached
		return res, err
	}
	st, err := mon.Wait()
	trace.Phase("cli", "monitor exited")
	if err != nil {
		return res, &StatusError{StatusFailed, err}
	}
	res.ExitCode = st.ExitCode()
	return res, nil
}

// ContainerAttach attaches a client to a running container, and
// returns when the container ends (with its code) or the client
// detaches.
func (e *Engine) ContainerAttach(ctx context.Context, ref string, s Streams) (RunResult, error) {
	c, err := e.get(ref)
	if err != nil {
		return RunResult{}, err
	}
	res := RunResult{ID: c.ID}
	if c.State.Status != container.Running {
		return res, conflict(errors.New("you cannot attach to a stopped container, start it first"))
	}
	conn, err := attach.Dial(monitor.AttachSocket(e.containers.Dir(c.ID)))
	if err != nil {
		return res, fmt.Errorf("attach to %s: %w", c.Name, err)
	}
	defer conn.Close()
	detached, err := e.runClient(c, conn, s)
	if detached || err != nil {
		res.Detached = detached
		return res, err
	}
	res.ExitCode, err = e.waitNotRunning(ctx, c)
	return res, err
}

// runClient copies between the client's streams and the container
// until it ends or the client detaches.
func (e *Engine) runClient(c *container.Container, conn net.Conn, s Streams) (detached bool, err error) {
	cl := &attach.Client{Conn: conn, Stdout: s.Stdout, Stderr: s.Stderr}
	if cl.Stdout == nil {
		cl.Stdout = io.Discard
	}
	if cl.Stderr == nil {
		cl.Stderr = io.Discard
	}
	tty := c.Config.Tty
	if s.Stdin != nil && c.Config.OpenStdin {
		cl.Stdin = s.Stdin
		if tty {
			keys := s.DetachKeys
			if keys == "" {
				keys = attach.DefaultDetachKeys
			}
			k, err := attach.ParseDetachKeys(keys)
			if err != nil {
				return false, invalid(err)
			}
			cl.DetachKeys = k
		}
	}
	if tty {
		cl.Resizes = s.Resizes
	}
	if s.Signals != nil && !tty {
		done := make(chan struct{})
		defer close(done)
		go func() {
			for {
				select {
				case sig := <-s.Signals:
					if n, ok := sig.(syscall.Signal); ok {
						// The container may have ended meanwhile.
						_ = e.rt.Kill(c.ID, n, false)
					}
				case <-done:
					return
				}
			}
		}()
	}
	err = cl.Run()
	if errors.Is(err, attach.ErrDetached) {
		return true, nil
	}
	return false, err
}

// The monitor's environment: monitorEnv passes the roots; a monitor
// reads fd 4 to its end and goes ahead only if it says "go"; with
// monitorClientEnv, fd 5 is an attached client. Fd 3 is the report.
const (
	monitorEnv       = "_BERTH_MONITOR_ROOTS"
	monitorClientEnv = "_BERTH_MONITOR_CLIENT"
	goAheadWord      = "go"
)

// A Launch is a container's monitor process, started and waiting for the
// word to go. run launches it before it creates the container, so that
// the monitor's process start (a Go runtime, ~1.5 ms) overlaps create.
type Launch struct {
	id      string
	cmd     *exec.Cmd
	report  *os.File // the monitor's start report
	goAhead *os.File
}

// launch starts a monitor for container id, which need not exist yet.
// Go or Abort it. A client, if given, is the monitor's first.
func (e *Engine) launch(id string, client *os.File) (*Launch, error) {
	report, reportW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	defer reportW.Close() // the monitor holds its copy
	goR, goW, err := os.Pipe()
	if err != nil {
		report.Close()
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	defer goR.Close() // the monitor holds its copy
	roots, err := json.Marshal([]string{e.paths.Root, e.paths.RunRoot})
	if err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{monitor.Arg0Prefix + id},
		Env:         []string{monitorEnv + "=" + string(roots), "PATH=" + os.Getenv("PATH")},
		ExtraFiles:  []*os.File{reportW, goR},
		SysProcAttr: &unix.SysProcAttr{Setsid: true},
	}
	if client != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, client)
		cmd.Env = append(cmd.Env, monitorClientEnv+"=1")
	}
	cmd.Env = trace.Env(cmd.Env)
	if err := cmd.Start(); err != nil {
		report.Close()
		goW.Close()
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	return &Launch{id: id, cmd: cmd, report: report, goAhead: goW}, nil
}

// abort ends a monitor that will not go ahead.
func (l *Launch) abort() {
	// The monitor reads EOF on its go-ahead pipe and exits by itself;
	// the kill only hurries it, and the wait reaps it. Errors mean it is
	// gone already.
	_ = l.goAhead.Close()
	_ = l.report.Close()
	_ = l.cmd.Process.Kill()
	_ = l.cmd.Wait()
}

// goAhead hands the container to its launched monitor: under the container's
// lock it is marked as running by it, so that a second start finds it
// running, and the monitor is told to go; the lock is released before
// the monitor needs it. Go returns once the container runs, with the
// monitor's process, or nil if the container ran already.
func (e *Engine) goAhead(l *Launch) (*os.Process, error) {
	running, err := e.handOver(l)
	if err != nil || running {
		l.abort()
		return nil, err
	}
	defer l.report.Close()
	l.goAhead.Close()
	if err := monitor.ReadReport(l.report); err != nil {
		_ = l.cmd.Wait() // the monitor reported its failure and exits
		return nil, err
	}
	return l.cmd.Process, nil
}

// handOver marks the container as running by l's monitor and tells it to
// go, under the container's lock, unless the container runs already.
func (e *Engine) handOver(l *Launch) (running bool, err error) {
	trace.Phase("cli", "hand over")
	unlock, err := e.containers.Lock(l.id)
	if err != nil {
		return false, err
	}
	defer unlock()
	c, err := e.containers.Load(l.id)
	if err != nil {
		return false, classify(err)
	}
	e.refreshLocked(c)
	if c.State.Status == container.Running {
		return true, nil
	}
	pid := l.cmd.Process.Pid
	c.State = container.State{Status: container.Running, MonitorPid: pid, MonitorStart: monitor.StartTime(pid)}
	if err := e.containers.Save(c); err != nil {
		return false, err
	}
	if _, err := io.WriteString(l.goAhead, goAheadWord); err != nil {
		return false, fmt.Errorf("start the monitor: %w", err)
	}
	return false, nil
}
