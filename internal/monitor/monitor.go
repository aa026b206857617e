// Package monitor is the per-container monitor ("shim"): one small
// process per container, started by the engine and owned by nobody
// (internal/monitor/launch). It carries out the plan the engine made
// before its go-ahead (Plan: the bundle, the mounted rootfs, the network
// step as data): it creates and starts the container with the runtime
// in-process (so the container's init is its child), puts it on its
// networks and serves its names, copies its output to the log, reaps
// init, records the exit code and the events, restarts it as its policy
// says, and cleans up: networks, runtime state, the rootfs mount, and
// the whole container with --rm (internal/removal). It calls nothing of
// the engine's. No daemon stays up: every berth command finds the state
// on disk.
package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/disk"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/monitor/health"
	"github.com/berth-project/berth/internal/monitor/idle"
	"github.com/berth-project/berth/internal/monitor/launch"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/removal"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/trace"
)

// Reporter takes the monitor's word on a start to its starter
// (launch.Child).
type Reporter interface {
	Ready()
	Failed(err error, status int)
}

// Paths are the engine's roots.
type Paths struct {
	Root    string // storage: images, containers
	RunRoot string // runtime state
}

// RuntimeRoot is where the engine's containers keep runtime state.
func (p Paths) RuntimeRoot() string { return filepath.Join(p.RunRoot, "runtime") }

// Plan is what the engine computed for a start, before the monitor's
// go-ahead, and the monitor carries out: create the container from
// Bundle, whose root filesystem the engine mounted at Rootfs (the
// monitor unmounts it once the container is done, and then the file
// system of a size-limited writable layer at Layer), and hand it to the
// idle stage if Idle allows (not for a rootless container's network).
type Plan struct {
	Bundle string `json:"bundle"`
	Rootfs string `json:"rootfs"`
	Layer  string `json:"layer,omitempty"`
	Idle   bool   `json:"idle"`
	// Network puts the container on its networks once it is created;
	// nil when it has no network namespace of its own to wire.
	Network *NetworkPlan `json:"network,omitempty"`
	// Root is the storage root: its journal gets the container's start,
	// die and oom, and a --rm container is forgotten there.
	Root string `json:"root"`
}

// connect is the plan's network step for a container whose init is pid;
// the function it returns undoes it.
func (p Plan) connect(pid int) (func(), *nameServer, error) {
	if p.Network == nil {
		return func() {}, nil, nil
	}
	return p.Network.connect(pid)
}

// disconnect is a resumed monitor's network teardown.
func (p Plan) disconnect() {
	if p.Network != nil {
		p.Network.disconnect()
	}
}

// event records what happened to the container in the journal, with
// Docker's attributes and extra key/value pairs. Best effort: what
// happened is not undone because its record could not be written.
func (p Plan) event(c *container.Container, action string, extra ...string) {
	attrs := c.EventAttributes()
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	_ = events.Journal{Dir: p.Root}.Append(mobyevents.Message{Type: mobyevents.ContainerEventType,
		Action: mobyevents.Action(action), Actor: mobyevents.Actor{ID: c.ID, Attributes: attrs}})
}

func planPath(containerDir string) string { return filepath.Join(containerDir, "plan.json") }

// WritePlan records a start's plan in the container's directory; it
// lasts until the next start (a resumed monitor reads it again).
func WritePlan(containerDir string, p Plan) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("write the start plan: %w", err)
	}
	return state.WriteFileVolatile(planPath(containerDir), b, 0o600)
}

// ReadPlan reads the plan of the container's current start.
func ReadPlan(containerDir string) (Plan, error) {
	var p Plan
	b, err := os.ReadFile(planPath(containerDir))
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		return p, fmt.Errorf("read the start plan: %w", err)
	}
	return p, nil
}

// Unmount undoes the plan's rootfs mount, detached: it goes once
// nothing uses it; EINVAL means it is gone already. A layer that stays
// mounted is unmounted by the next start or rm.
func (p Plan) Unmount() {
	_ = unix.Unmount(p.Rootfs, unix.MNT_DETACH)
	if p.Layer != "" {
		_ = disk.Unmount(p.Layer)
	}
}

// AttachSocket is where a container's monitor serves attach clients.
func AttachSocket(containerDir string) string { return filepath.Join(containerDir, "attach.sock") }

// Run is the monitor's body for container id. report tells the starter
// that the container runs, or why not. client, if not nil, is attached
// before the container starts (a foreground run), so it misses no
// output. It returns the container's exit code.
func Run(p Paths, id string, report Reporter, client *os.File) int {
	s := &session{id: id, paths: p, store: container.Store{Root: p.Root}, rt: runtime.New(p.RuntimeRoot())}
	fail := func(err error) int {
		// State first: the starter reads it once it has the report. If
		// it cannot be written, the record says "running" with this
		// monitor gone, which the next reader turns into exited.
		code := exitCodeFor(err)
		_, _ = s.store.Update(id, func(c *container.Container) error {
			c.State.Status, c.State.Error, c.State.ExitCode = container.NotStarted(c.State), err.Error(), code
			c.State.FinishedAt, c.State.MonitorPid = time.Now().UTC(), 0
			return nil
		})
		report.Failed(err, code)
		return 1
	}
	nameAndReap()
	trace.Phase("monitor", "main")
	c, err := s.store.Load(id)
	if err != nil {
		return fail(err)
	}
	s.c = c
	if s.plan, err = ReadPlan(s.store.Dir(id)); err != nil {
		return fail(err)
	}
	s.bundle, s.cleanup = s.plan.Bundle, s.plan.Unmount
	defer s.cleanup()
	if err := s.openStdio(nil); err != nil {
		return fail(err)
	}
	defer os.Remove(s.sock) // gone already if the listener removed it
	defer s.l.Close()       // the container is done: nobody is served any more
	// A container that ends with its client (a build step) is killed
	// once the client that started it is gone: a builder killed with -9
	// leaves no step running. ownerGone is read after the start too, for
	// a client gone before it.
	var ownerGone atomic.Bool
	if client != nil {
		conn, err := net.FileConn(client)
		_ = client.Close() // FileConn made its own descriptor
		if err != nil {
			return fail(fmt.Errorf("attach: %w", err))
		}
		var gone func()
		if c.Host.EndWithClient {
			gone = func() {
				ownerGone.Store(true)
				_ = s.rt.Kill(id, unix.SIGKILL, true) // not started yet, or ended: nothing to kill
			}
		}
		s.hub.AddWatched(conn, gone)
	}
	_ = s.rt.Delete(id, true) // leftovers of an earlier run; none is the common case
	trace.Phase("monitor", "start")
	r, err := startOnce(s.rt, c, s.plan, s.hub, s.logs)
	if err != nil {
		s.hub.CloseAll()
		return fail(err)
	}
	if ownerGone.Load() {
		_ = s.rt.Kill(id, unix.SIGKILL, true) // the client went during the start; supervise sees the end
	}
	if s.c, err = s.store.Update(id, func(c *container.Container) error {
		c.State = container.State{Status: container.Running, Pid: r.pid, MonitorPid: os.Getpid(), MonitorStart: StartTime(os.Getpid()),
			StartedAt: time.Now().UTC(), RestartCount: c.State.RestartCount, Health: container.StartHealth(c.Config.Healthcheck, c.State.Health)}
		return nil
	}); err != nil {
		_ = s.rt.Delete(id, true) // undoes the start; the error is reported
		s.hub.CloseAll()
		return fail(err)
	}
	trace.Phase("monitor", "running")
	s.plan.event(c, "start")
	report.Ready()
	s.startHealth(health.Schedule{})
	return s.supervise(r, -1, 0)
}

// Resume takes a container over from the idle stage (cmd/berth-monitor)
// once its init has exited with code: it records the exit, restarts the
// container as its policy says, and cleans up, as Run would have.
// listener is the attach socket, still open.
func Resume(p Paths, id string, code int, listener *os.File) int {
	s := &session{id: id, paths: p, store: container.Store{Root: p.Root}, rt: runtime.New(p.RuntimeRoot())}
	nameAndReap()
	c, err := s.store.Load(id)
	if err != nil {
		return 255
	}
	s.c = c
	if s.plan, err = ReadPlan(s.store.Dir(id)); err != nil {
		return 255
	}
	s.bundle, s.cleanup = s.plan.Bundle, s.plan.Unmount
	defer s.cleanup()
	if err := s.openStdio(listener); err != nil {
		return 255
	}
	defer os.Remove(s.sock) // gone already if the listener removed it
	defer s.l.Close()       // the container is done: nobody is served any more
	return s.supervise(&run{disconnect: s.plan.disconnect}, code, c.State.RestartCount)
}

// nameAndReap makes this process the monitor: "berth-monitor" in ps -o
// comm and top, not "exe"; and the processes the container leaves
// behind are re-parented to it.
func nameAndReap() {
	// Neither can fail for these arguments; without the subreaper the
	// container's orphans would go to the host's init, which reaps them.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("berth-monitor\x00")[0])), 0, 0, 0)
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// A session is one monitor's hold on its container.
type session struct {
	id      string
	paths   Paths
	c       *container.Container
	store   container.Store
	rt      *runtime.Runtime
	plan    Plan
	bundle  string
	cleanup func() // unmounts the rootfs
	hub     *stdio.Hub
	logs    stdio.LogDriver
	sock    string
	l       *net.UnixListener
	health  *health.Runner // the healthcheck's schedule, while init runs
}

func (s *session) logPath() string { return s.store.LogPath(s.c) }

func (s *session) logOptions() stdio.LogOptions {
	return stdio.LogOptions{Driver: s.c.Host.LogDriver, MaxSize: s.c.Host.LogMaxSize, MaxFiles: s.c.Host.LogMaxFiles}
}

// openStdio opens the log and serves the attach socket: a new one, or
// the one listener is.
func (s *session) openStdio(listener *os.File) error {
	var err error
	s.logs, err = stdio.OpenDriver(s.logPath(), s.logOptions())
	if err != nil {
		return err
	}
	stdio.ReopenOnSignal(s.logs)
	s.hub = stdio.NewHub(s.c.Config.StdinOnce)
	s.sock = AttachSocket(s.store.Dir(s.id))
	if listener != nil {
		fl, err := net.FileListener(listener)
		_ = listener.Close() // FileListener made its own descriptor
		if err != nil {
			return fmt.Errorf("attach socket: %w", err)
		}
		s.l = fl.(*net.UnixListener)
	} else if s.l, err = attach.Listen(s.sock); err != nil {
		return err
	}
	go s.hub.ServeSocket(s.l)
	return nil
}

// supervise waits for the container's init r, records how it ended,
// restarts it as the policy says, and cleans up; a code of 0 or more
// means init has exited with it already (a resumed monitor). A
// container that keeps running is handed to the idle stage, when it
// can be (see handOff).
func (s *session) supervise(r *run, code, restarts int) int {
	again := false // the last recorded exit asked for a restart
	startErr := "" // why a restart failed
	var err error
	c := s.c
	for ; ; restarts++ {
		if code < 0 {
			if s.runsOn(r) {
				s.handOff(r) // returns only if it could not
				// This process idles for the container's life: give back
				// what set-up allocated and mapped.
				debug.FreeOSMemory()
				idle.TrimResident()
			}
			code = idle.Reap(r.pid)
			s.stopHealth()
			trace.Phase("monitor", "reaped")
			waitOutput(r)
			r.closeOutput()
			trace.Phase("monitor", "output done")
		}
		n, _ := s.rt.OOMKills(s.id)
		oom := n > 0
		// Init has exited: what is left is its state; a delete that fails
		// is redone by the next start or rm.
		_ = s.rt.Delete(s.id, true)
		r.disconnect()
		trace.Phase("monitor", "deleted")
		c, err = s.store.Update(s.id, func(c *container.Container) error {
			c.State.Status, c.State.ExitCode, c.State.OOMKilled, c.State.Paused, c.State.PausedBy = container.Exited, code, oom, false, 0
			c.State.Pid, c.State.FinishedAt = 0, time.Now().UTC()
			if again = c.Host.Restart.ShouldRestart(code, restarts, c.State.StopRequested); !again {
				c.State.MonitorPid, c.State.MonitorStart = 0, 0
			}
			return nil
		})
		if err == nil {
			if oom {
				s.plan.event(c, "oom")
			}
			s.plan.event(c, "die", "exitCode", strconv.Itoa(code))
		}
		if err != nil || !again {
			break
		}
		// Docker's back-off: 100 ms, doubling, at most a minute; a stop
		// cuts it short (WakeSignal).
		backOff(min(100*time.Millisecond<<min(restarts, 10), time.Minute))
		if cur, err := s.store.Load(s.id); err != nil || cur.State.StopRequested {
			break
		}
		if r, err = startOnce(s.rt, c, s.plan, s.hub, s.logs); err != nil {
			// Recorded with the monitor's departure below.
			startErr = err.Error()
			break
		}
		if cur, err := s.store.Update(s.id, func(c *container.Container) error {
			c.State.Status, c.State.Pid, c.State.StartedAt = container.Running, r.pid, time.Now().UTC()
			c.State.Health = container.StartHealth(c.Config.Healthcheck, c.State.Health)
			c.State.RestartCount++
			return nil
		}); err == nil {
			s.plan.event(cur, "start")
			c = cur
		}
		s.c, code = c, -1
		s.startHealth(health.Schedule{})
	}
	if again { // no restart after all: the monitor's record goes now
		c, err = s.store.Update(s.id, func(c *container.Container) error {
			c.State.MonitorPid, c.State.MonitorStart = 0, 0
			if startErr != "" {
				c.State.Error = startErr
			}
			return nil
		})
	}
	trace.Phase("monitor", "recorded")
	s.hub.Exited(code)
	if err == nil && c.Host.AutoRemove {
		s.cleanup()
		trace.Phase("monitor", "unmounted")
		if err := (removal.Storage{Root: s.plan.Root}).Forget(c, true); err != nil {
			// Nobody waits for this error: the record stays for rm.
			fmt.Fprintln(os.Stderr, "berth monitor: remove", c.ID[:12]+":", err)
		}
		trace.Phase("monitor", "removed")
	}
	// The container's code is the monitor's: a foreground run waits on
	// the monitor and exits with it, even when --rm removed the record.
	return code
}

func waitOutput(r *run) { idle.WaitOutput(r.done, r.streams) }

// A run is one start of the container: its init, and the monitor's
// ends of its stdio.
type run struct {
	pid        int
	disconnect func()      // from its networks
	names      *nameServer // its name server, on a user-defined network
	// done receives once per output stream that has ended.
	done    chan struct{}
	streams int
	// The monitor's ends: output (out, err, or the pty's master) and
	// input (the stdin pipe's write end, or the master).
	out, err, master, stdin *os.File
}

// closeOutput closes the output ends once output has ended.
func (r *run) closeOutput() {
	for _, f := range []*os.File{r.out, r.err, r.master} {
		if f != nil {
			_ = f.Close() // read to its end
		}
	}
}

// startOnce creates and starts the container with its stdio on the hub
// (a pty with a terminal, else pipes) and on its networks.
func startOnce(rt *runtime.Runtime, c *container.Container, plan Plan, hub *stdio.Hub, logs stdio.LogDriver) (*run, error) {
	id, cfg := c.ID, c.Config
	var closers []*os.File
	closeAll := func() {
		for _, f := range closers {
			_ = f.Close() // our ends of a start that failed, or handed over
		}
	}
	pipe := func() (*os.File, *os.File, error) {
		r, w, err := os.Pipe()
		if err == nil {
			closers = append(closers, r, w)
		}
		return r, w, err
	}
	o := runtime.CreateOptions{Bundle: plan.Bundle}
	r := &run{done: make(chan struct{}, 2)}
	var relay *os.File
	var err error
	if cfg.Tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("console socket: %w", err)
		}
		o.Console, relay = os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-relay")
		closers = append(closers, o.Console, relay)
	} else {
		if r.out, o.Stdout, err = pipe(); err != nil {
			closeAll()
			return nil, err
		}
		if r.err, o.Stderr, err = pipe(); err != nil {
			closeAll()
			return nil, err
		}
	}
	if cfg.OpenStdin && !cfg.Tty {
		if o.Stdin, r.stdin, err = pipe(); err != nil {
			closeAll()
			return nil, err
		}
	} else if o.Stdin, err = os.Open(os.DevNull); err != nil {
		closeAll()
		return nil, err
	} else {
		closers = append(closers, o.Stdin)
	}
	st, err := rt.Create(id, o)
	if err != nil {
		closeAll()
		return nil, err
	}
	r.pid = st.Pid
	trace.Phase("monitor", "created")
	if r.disconnect, r.names, err = plan.connect(st.Pid); err != nil {
		closeAll()
		_ = rt.Delete(id, true) // undoes the create; the error above is reported
		return nil, err
	}
	trace.Phase("monitor", "networked")
	if cfg.Tty {
		master, err := console.RecvFd(relay)
		closeAll()
		if err != nil {
			_ = rt.Delete(id, true) // undoes the create; the start's error is reported
			r.disconnect()
			return nil, err
		}
		// Non-blocking, so that the poller can time its reads (handOff).
		fd, err := unix.FcntlInt(master.Fd(), unix.F_DUPFD_CLOEXEC, 0)
		_ = master.Close() // the dup below is the one kept
		if err != nil {
			_ = rt.Delete(id, true) // undoes the create; the start's error is reported
			r.disconnect()
			return nil, fmt.Errorf("pty master: %w", err)
		}
		if err := unix.SetNonblock(fd, true); err != nil {
			_ = unix.Close(fd)
			_ = rt.Delete(id, true) // undoes the create; the start's error is reported
			r.disconnect()
			return nil, fmt.Errorf("pty master: %w", err)
		}
		r.master = os.NewFile(uintptr(fd), "pty-master")
		if cfg.OpenStdin {
			r.stdin = r.master
		}
	} else {
		// The container holds its ends now; ours go, so that EOF comes.
		_ = o.Stdout.Close() // nothing buffered: pipes
		_ = o.Stderr.Close()
		_ = o.Stdin.Close()
	}
	r.pump(hub, logs)
	if err := rt.Start(id); err != nil {
		_ = rt.Delete(id, true) // undoes the create; the error above is reported
		r.disconnect()
		return nil, err
	}
	trace.Phase("monitor", "started")
	return r, nil
}

// pump copies the run's output to the hub and the log, and points the
// hub's input at it.
func (r *run) pump(hub *stdio.Hub, logs stdio.LogDriver) {
	if r.master != nil {
		hub.SetInput(r.stdin, r.master)
		r.streams = 1
		go func() { hub.Pump(attach.Stdout, "stdout", r.master, logs); r.done <- struct{}{} }()
		return
	}
	hub.SetInput(r.stdin, nil)
	r.streams = 2
	go func() { hub.Pump(attach.Stdout, "stdout", r.out, logs); r.done <- struct{}{} }()
	go func() { hub.Pump(attach.Stderr, "stderr", r.err, logs); r.done <- struct{}{} }()
}

// exitCodeFor maps a start failure to Docker's codes: 127 for a command
// that is not found, 126 for one that cannot run (as the init stage
// classified it), 125 otherwise.
func exitCodeFor(err error) int {
	var ie *runtime.InitError
	if errors.As(err, &ie) && (ie.Code == 126 || ie.Code == 127) {
		return ie.Code
	}
	return 125
}

// WakeSignal ends a monitor's restart back-off early: a stop or rm has
// recorded its request, which the monitor then reads. SIGCONT, whose
// default does nothing, so that a monitor not in its back-off (or one of
// an older berth) takes no harm from it.
const WakeSignal = unix.SIGCONT

// backOff waits d, or until WakeSignal comes.
func backOff(d time.Duration) {
	wake := make(chan os.Signal, 1)
	signal.Notify(wake, WakeSignal)
	defer signal.Stop(wake)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	}
}

// StartTime identifies a process with its pid: a monitor is alive if a
// process with its pid and start time runs (and is not a zombie).
func StartTime(pid int) uint64 {
	st, err := state.ReadProcStat(pid)
	if err != nil {
		return 0
	}
	return st.StartTime
}

// Alive reports whether the monitor (pid, start) still runs.
func Alive(pid int, start uint64) bool { return state.Alive(pid, start) }

// Main is a launched monitor process's main (launch.IsMonitor); it
// never returns.
func Main() {
	trace.Phase("monitor", "process")
	child, err := launch.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The plan is all the monitor needs: it opens no engine.
	paths := Paths{Root: child.Roots[0], RunRoot: child.Roots[1]}
	if code, err := strconv.Atoi(os.Getenv(idle.ResumeEnv)); err == nil {
		fd, err := strconv.Atoi(os.Getenv(idle.ListenerEnv))
		if err != nil {
			fmt.Fprintln(os.Stderr, "berth monitor: resumed without its attach socket")
			os.Exit(2)
		}
		os.Exit(Resume(paths, child.ID, code, os.NewFile(uintptr(fd), "attach-socket")))
	}
	// Launched ahead: wait for the container to be handed over, or exit
	// quietly when the launch is aborted (or the starter died).
	if !child.WaitGo() {
		os.Exit(0)
	}
	trace.Phase("monitor", "go")
	os.Exit(Run(paths, child.ID, child, child.Client()))
}
