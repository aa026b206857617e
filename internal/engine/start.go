package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/launch"
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
	// Started, when set, is told how a start went, once the container
	// runs (nil) or failed to: a server answers the start request then,
	// while the output still streams.
	Started func(error)
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
// it runs (or with the reason it could not: a StatusError, and with
// AutoRemove nothing left, as ContainerRun's). Starting a running
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
	running, err := e.goAhead(l)
	if err != nil {
		return e.startFailed(c, err)
	}
	if !running {
		l.Release()
	}
	return nil
}

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
	var l *launch.Launch
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
		l.Abort()
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
	if _, err := e.goAhead(l); err != nil {
		return RunResult{ID: c.ID}, e.startFailed(c, err)
	}
	l.Release()
	return RunResult{ID: c.ID}, nil
}

// startFailed is a run's error after a failed start: the container's
// code (126, 127) when it has one, else 125; with --rm nothing stays.
func (e *Engine) startFailed(c *container.Container, err error) error {
	code := StatusFailed
	var se *StatusError
	if errors.As(err, &se) {
		code, err = se.Status, se.Err
	} else if cur, lerr := e.containers.Load(c.ID); lerr == nil && cur.State.ExitCode != 0 {
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
	trace.Phase("cli", "launch")
	l, ours, err := e.launchAttached(c.ID)
	if err != nil {
		return RunResult{}, &StatusError{StatusFailed, err}
	}
	trace.Phase("cli", "launched")
	res, err := e.runAttached(c, l, ours, s)
	if err != nil && !errors.Is(err, ErrConflict) { // a running container is left as it runs
		return res, e.startFailed(c, err)
	}
	return res, err
}

// launchAttached launches a monitor for container id with one end of a
// socket pair as its first client, and returns the other end.
func (e *Engine) launchAttached(id string) (*launch.Launch, *os.File, error) {
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
func (e *Engine) runAttached(c *container.Container, l *launch.Launch, ours *os.File, s Streams) (RunResult, error) {
	defer ours.Close() // net.FileConn made its own copy
	res := RunResult{ID: c.ID}
	running, err := e.goAhead(l)
	trace.Phase("cli", "started")
	if err == nil && running {
		err = conflict(fmt.Errorf("container %s is already running", c.Name))
	}
	if s.Started != nil {
		s.Started(err)
	}
	if err != nil {
		return res, err
	}
	conn, err := net.FileConn(ours)
	if err != nil {
		l.Release()
		return res, &StatusError{StatusFailed, fmt.Errorf("attach: %w", err)}
	}
	defer conn.Close() // the stream has ended or we detached
	cl, detached, err := e.runClient(c, conn, s)
	if detached || err != nil {
		l.Release()
		res.Detached = detached
		return res, err
	}
	// The monitor sent the exit code and closed the stream; it is done
	// once it has exited (a --rm container removed).
	l.WaitExit()
	trace.Phase("cli", "monitor exited")
	res.ExitCode = e.exitCodeAfter(c, cl)
	return res, nil
}

// exitCodeAfter is the code of a run whose client saw its end: the one
// the monitor sent, else the record's (255 once refreshed, for a
// monitor that was killed).
func (e *Engine) exitCodeAfter(c *container.Container, cl *attach.Client) int {
	if cl.Exited {
		return cl.ExitCode
	}
	cur, err := e.containers.Load(c.ID)
	if err != nil {
		return 255
	}
	e.refresh(cur)
	return cur.State.ExitCode
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
	defer conn.Close() // the stream has ended or we detached
	_, detached, err := e.runClient(c, conn, s)
	if detached || err != nil {
		res.Detached = detached
		return res, err
	}
	res.ExitCode, err = e.waitNotRunning(ctx, c)
	return res, err
}

// runClient copies between the client's streams and the container
// until it ends or the client detaches.
func (e *Engine) runClient(c *container.Container, conn net.Conn, s Streams) (cl *attach.Client, detached bool, err error) {
	cl = &attach.Client{Conn: conn, Stdout: s.Stdout, Stderr: s.Stderr}
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
				return cl, false, invalid(err)
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
		return cl, true, nil
	}
	return cl, false, err
}

// launch starts a monitor for container id, which need not exist yet,
// so that its process start (a Go runtime, ~1.5 ms) overlaps create.
// goAhead or abort it. A client, if given, is the monitor's first.
func (e *Engine) launch(id string, client *os.File) (*launch.Launch, error) {
	return launch.Start(e.self, id, [2]string{e.paths.Root, e.paths.RunRoot}, client)
}

// goAhead hands the container to its launched monitor: under the
// container's lock it is marked as running by it, so that a second
// start finds it running, and the monitor is told to go; the lock is
// released before the monitor needs it. It returns once the container
// runs; running reports a container that ran already (the launch is
// aborted then). A failed start is a StatusError with Docker's status.
func (e *Engine) goAhead(l *launch.Launch) (running bool, err error) {
	running, err = e.handOver(l)
	if err != nil || running {
		l.Abort()
		return running, err
	}
	e.started.wake(l.ID()) // its record names the monitor now
	if err := l.Go(); err != nil {
		l.Release()
		var f *launch.Failure
		if errors.As(err, &f) {
			return false, &StatusError{f.Status, errors.New(f.Msg)}
		}
		return false, err
	}
	return false, nil
}

// handOver marks the container as running by l's monitor and tells it to
// go, under the container's lock, unless the container runs already.
func (e *Engine) handOver(l *launch.Launch) (running bool, err error) {
	trace.Phase("cli", "hand over")
	unlock, err := e.containers.Lock(l.ID())
	if err != nil {
		return false, err
	}
	defer unlock()
	c, err := e.containers.Load(l.ID())
	if err != nil {
		return false, classify(err)
	}
	if e.refreshLocked(c) {
		return false, classify(fmt.Errorf("%w: %s", container.ErrNotFound, c.Name)) // a --rm container whose monitor died: removed
	}
	if c.State.Status == container.Running || monitorAlive(c) {
		// Running, or between a restart policy's attempts: its monitor
		// holds the rootfs and starts it again.
		return true, nil
	}
	// The plan is made here, while the monitor boots: it needs only the
	// go-ahead to create the container.
	plan, err := e.plan(c)
	trace.Phase("cli", "prepared")
	if err != nil {
		c.State.Status, c.State.Error, c.State.ExitCode = container.NotStarted(c.State), err.Error(), StatusFailed
		c.State.FinishedAt, c.State.MonitorPid, c.State.MonitorStart = time.Now().UTC(), 0, 0
		if serr := e.containers.Save(c); serr != nil {
			err = errors.Join(err, serr)
		}
		return false, &StatusError{StatusFailed, err}
	}
	pid := l.Pid()
	// StartedAt stays until the monitor's start sets it: a start that
	// fails tells a container that ran before (exited) from one that
	// never did (created).
	c.State = container.State{Status: container.Running, MonitorPid: pid, MonitorStart: monitor.StartTime(pid), StartedAt: c.State.StartedAt}
	if err := e.containers.Save(c); err != nil {
		plan.Unmount()
		return false, err
	}
	return false, nil
}

// plan prepares a start for the monitor to carry out: the rootfs
// mounted, the /etc files and the bundle written (prepare), and the plan
// recorded beside them.
func (e *Engine) plan(c *container.Container) (monitor.Plan, error) {
	// Links are read once: their variables go into the spec, their
	// names into /etc/hosts once the container has its address.
	linkHosts, linkEnv := e.links(c)
	bundle, unmount, err := e.prepare(c, linkEnv)
	if err != nil {
		return monitor.Plan{}, err
	}
	dir := e.containers.Dir(c.ID)
	p := monitor.Plan{Bundle: bundle, Rootfs: filepath.Join(dir, "merged"), Layer: e.layerDir(c), Idle: canIdle(c), Root: e.paths.Root}
	if p.Network, err = e.networkPlan(c, linkHosts); err != nil {
		unmount()
		return monitor.Plan{}, err
	}
	if err := monitor.WritePlan(dir, p); err != nil {
		unmount()
		return monitor.Plan{}, err
	}
	return p, nil
}
