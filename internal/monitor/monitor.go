// Package monitor is the per-container monitor ("shim"): one small
// process per container, started detached (its own session) by the
// engine. It mounts the container's root filesystem, creates and starts
// the container with the runtime in-process (so the container's init is
// its child), copies the container's output into the log file, reaps
// init, records the exit code, and cleans up: runtime state, mounts,
// and the whole container with --rm. No daemon stays up: every berth
// command finds the state on disk.
package monitor

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/trace"
)

// Arg0Prefix names monitor processes in ps: "berth:[monitor] ID".
const Arg0Prefix = "berth:[monitor] "

// Paths are the engine's roots.
type Paths struct {
	Root    string // storage: images, containers
	RunRoot string // runtime state
}

// RuntimeRoot is where the engine's containers keep runtime state.
func (p Paths) RuntimeRoot() string { return filepath.Join(p.RunRoot, "runtime") }

// Hooks are what the engine lends the monitor.
type Hooks struct {
	// Prepare makes the rootfs and the bundle; it runs before create.
	Prepare func(c *container.Container) (bundle string, cleanup func(), err error)
	// Network connects the created container (init pid) to its
	// networks before it starts; the function it returns disconnects it.
	Network func(c *container.Container, pid int) (func(), error)
	// Remove removes the container for --rm (record, volumes, …).
	Remove func(c *container.Container)
}

// AttachSocket is where a container's monitor serves attach clients.
func AttachSocket(containerDir string) string { return filepath.Join(containerDir, "attach.sock") }

// Run is the monitor's body for container id. report is a pipe to the
// starting CLI: it gets "ok" once the container runs, or the error.
// client, if not nil, is attached before the container starts (a
// foreground run), so it misses no output. It returns the container's
// exit code.
func Run(p Paths, id string, hooks Hooks, report, client *os.File) int {
	store := container.Store{Root: p.Root}
	fail := func(err error) int {
		// State first: the starting CLI reads it once it has the report.
		store.Update(id, func(c *container.Container) error {
			c.State.Status, c.State.Error, c.State.ExitCode = container.Exited, err.Error(), exitCodeFor(err)
			c.State.FinishedAt, c.State.MonitorPid = time.Now().UTC(), 0
			return nil
		})
		fmt.Fprintln(report, oneLine(err))
		report.Close()
		return 1
	}
	// "berth-monitor" in ps -o comm and top, not "exe".
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("berth-monitor\x00")[0])), 0, 0, 0)
	// Processes the container leaves behind are re-parented to us.
	unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	trace.Phase("monitor", "main")
	c, err := store.Load(id)
	if err != nil {
		return fail(err)
	}
	bundle, cleanup, err := hooks.Prepare(c)
	if err != nil {
		return fail(err)
	}
	trace.Phase("monitor", "prepared")
	defer cleanup()
	logs, err := openLog(filepath.Join(store.Dir(id), "container.log"), LogOptions{MaxSize: c.Host.LogMaxSize, MaxFiles: c.Host.LogMaxFiles})
	if err != nil {
		return fail(err)
	}
	stdio := newHub(c.Config.StdinOnce)
	if client != nil {
		conn, err := net.FileConn(client)
		client.Close()
		if err != nil {
			return fail(fmt.Errorf("attach: %w", err))
		}
		stdio.add(conn)
	}
	sock := AttachSocket(store.Dir(id))
	l, err := attach.Listen(sock)
	if err != nil {
		return fail(err)
	}
	defer os.Remove(sock)
	defer l.Close()
	go stdio.serveSocket(l)
	rt := runtime.New(p.RuntimeRoot())
	rt.Delete(id, true) // leftovers of an earlier run of this container
	trace.Phase("monitor", "start")
	pid, disconnect, done, err := startOnce(rt, c, bundle, hooks, stdio, logs)
	if err != nil {
		stdio.closeAll()
		return fail(err)
	}
	if _, err := store.Update(id, func(c *container.Container) error {
		c.State = container.State{Status: container.Running, Pid: pid, MonitorPid: os.Getpid(), MonitorStart: StartTime(os.Getpid()),
			StartedAt: time.Now().UTC(), RestartCount: c.State.RestartCount}
		return nil
	}); err != nil {
		rt.Delete(id, true)
		stdio.closeAll()
		return fail(err)
	}
	trace.Phase("monitor", "running")
	fmt.Fprintln(report, "ok")
	report.Close()
	// From here on the monitor idles for the container's life: give back
	// what set-up allocated.
	debug.FreeOSMemory()
	trimResident()

	var code int
	again := false // the last recorded exit asked for a restart
	for restarts := 0; ; restarts++ {
		code = reap(pid)
		trace.Phase("monitor", "reaped")
		waitOutput(done)
		trace.Phase("monitor", "output done")
		n, _ := rt.OOMKills(id)
		oom := n > 0
		rt.Delete(id, true)
		disconnect()
		trace.Phase("monitor", "deleted")
		c, err = store.Update(id, func(c *container.Container) error {
			c.State.Status, c.State.ExitCode, c.State.OOMKilled = container.Exited, code, oom
			c.State.Pid, c.State.FinishedAt = 0, time.Now().UTC()
			if again = c.Host.Restart.ShouldRestart(code, restarts, c.State.StopRequested); !again {
				c.State.MonitorPid, c.State.MonitorStart = 0, 0
			}
			return nil
		})
		if err != nil || !again {
			break
		}
		// Docker's back-off: 100 ms, doubling, at most a minute.
		time.Sleep(min(100*time.Millisecond<<min(restarts, 10), time.Minute))
		if cur, err := store.Load(id); err != nil || cur.State.StopRequested {
			break
		}
		if pid, disconnect, done, err = startOnce(rt, c, bundle, hooks, stdio, logs); err != nil {
			c.State.Error = err.Error()
			store.Save(c)
			break
		}
		store.Update(id, func(c *container.Container) error {
			c.State.Status, c.State.Pid, c.State.StartedAt = container.Running, pid, time.Now().UTC()
			c.State.RestartCount++
			return nil
		})
	}
	if again { // no restart after all: the monitor's record goes now
		c, err = store.Update(id, func(c *container.Container) error {
			c.State.MonitorPid, c.State.MonitorStart = 0, 0
			return nil
		})
	}
	trace.Phase("monitor", "recorded")
	stdio.closeAll()
	if err == nil && c.Host.AutoRemove {
		cleanup()
		trace.Phase("monitor", "unmounted")
		hooks.Remove(c)
		trace.Phase("monitor", "removed")
	}
	// The container's code is the monitor's: a foreground run waits on
	// the monitor and exits with it, even when --rm removed the record.
	return code
}

// waitOutput waits for the container's output to end after its init
// exited. With its own PID namespace every process died with init; a
// process outside it (--pid host) may hold the stream open, so the wait
// is bounded.
func waitOutput(done chan struct{}) {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	for range 2 {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
}

// startOnce creates and starts the container with its stdio on the hub
// (a pty with a terminal, else pipes) and on its networks; done
// receives twice when output has ended, and the returned function
// disconnects the networks.
func startOnce(rt *runtime.Runtime, c *container.Container, bundle string, hooks Hooks, stdio *hub, logs *logWriter) (int, func(), chan struct{}, error) {
	id, cfg := c.ID, c.Config
	var closers []*os.File
	closeAll := func() {
		for _, f := range closers {
			f.Close()
		}
	}
	pipe := func() (*os.File, *os.File, error) {
		r, w, err := os.Pipe()
		if err == nil {
			closers = append(closers, r, w)
		}
		return r, w, err
	}
	o := runtime.CreateOptions{Bundle: bundle}
	var outR, errR, stdinW, relay *os.File
	var err error
	if cfg.Tty {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("console socket: %w", err)
		}
		o.Console, relay = os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-relay")
		closers = append(closers, o.Console, relay)
	} else {
		if outR, o.Stdout, err = pipe(); err != nil {
			closeAll()
			return 0, nil, nil, err
		}
		if errR, o.Stderr, err = pipe(); err != nil {
			closeAll()
			return 0, nil, nil, err
		}
	}
	if cfg.OpenStdin && !cfg.Tty {
		if o.Stdin, stdinW, err = pipe(); err != nil {
			closeAll()
			return 0, nil, nil, err
		}
	} else if o.Stdin, err = os.Open(os.DevNull); err != nil {
		closeAll()
		return 0, nil, nil, err
	} else {
		closers = append(closers, o.Stdin)
	}
	st, err := rt.Create(id, o)
	if err != nil {
		closeAll()
		return 0, nil, nil, err
	}
	trace.Phase("monitor", "created")
	disconnect, err := hooks.Network(c, st.Pid)
	trace.Phase("monitor", "networked")
	if err != nil {
		closeAll()
		rt.Delete(id, true)
		return 0, nil, nil, err
	}
	done := make(chan struct{}, 2)
	if cfg.Tty {
		master, err := console.RecvFd(relay)
		closeAll()
		if err != nil {
			rt.Delete(id, true)
			disconnect()
			return 0, nil, nil, err
		}
		if cfg.OpenStdin {
			stdio.setInput(master, master)
		} else {
			stdio.setInput(nil, master)
		}
		go func() { stdio.pump(attach.Stdout, "stdout", master, logs); done <- struct{}{} }()
		done <- struct{}{}
	} else {
		// The container holds its ends now; ours go, so that EOF comes.
		o.Stdout.Close()
		o.Stderr.Close()
		o.Stdin.Close()
		stdio.setInput(stdinW, nil)
		go func() { stdio.pump(attach.Stdout, "stdout", outR, logs); outR.Close(); done <- struct{}{} }()
		go func() { stdio.pump(attach.Stderr, "stderr", errR, logs); errR.Close(); done <- struct{}{} }()
	}
	trace.Phase("monitor", "pumping")
	if err := rt.Start(id); err != nil {
		rt.Delete(id, true)
		disconnect()
		return 0, nil, nil, err
	}
	trace.Phase("monitor", "started")
	return st.Pid, disconnect, done, nil
}

// reap waits for init and returns its exit code as a shell gives it;
// other children re-parented to us are reaped on the way.
func reap(pid int) int {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 255
		}
		if got != pid {
			continue
		}
		if ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ws.ExitStatus()
	}
}

// exitCodeFor maps a start failure to Docker's codes: 127 for a command
// that is not found, 126 for one that cannot run, 125 otherwise.
func exitCodeFor(err error) int {
	if code := runtime.ExitCodeOf(err); code == 126 || code == 127 {
		return code
	}
	return 125
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; ")
}

// ReadReport reads the monitor's start report: nil once the container
// runs, or the monitor's error.
func ReadReport(r io.Reader) error {
	b, _ := io.ReadAll(r)
	s := strings.TrimSpace(string(b))
	if s == "ok" {
		return nil
	}
	if s == "" {
		return errors.New("the container monitor exited before the container started")
	}
	return errors.New(s)
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
