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
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/state"
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

// Prepare is what the engine hands the monitor: how to make the rootfs
// and the spec. It runs in the monitor, before create.
type Prepare func(c *container.Container) (bundle string, cleanup func(), err error)

// Run is the monitor's body for container id. report is a pipe to the
// starting CLI: it gets "ok" once the container runs, or the error. It
// returns the container's exit code.
func Run(p Paths, id string, prepare Prepare, report *os.File) int {
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
	c, err := store.Load(id)
	if err != nil {
		return fail(err)
	}
	bundle, cleanup, err := prepare(c)
	if err != nil {
		return fail(err)
	}
	defer cleanup()
	logs, err := openLog(filepath.Join(store.Dir(id), "container.log"), LogOptions{})
	if err != nil {
		return fail(err)
	}
	rt := runtime.New(p.RuntimeRoot())
	rt.Delete(id, true) // leftovers of an earlier run of this container
	pid, done, err := startOnce(rt, id, bundle, logs)
	if err != nil {
		return fail(err)
	}
	if _, err := store.Update(id, func(c *container.Container) error {
		c.State = container.State{Status: container.Running, Pid: pid, MonitorPid: os.Getpid(), MonitorStart: StartTime(os.Getpid()),
			StartedAt: time.Now().UTC(), RestartCount: c.State.RestartCount}
		return nil
	}); err != nil {
		rt.Delete(id, true)
		return fail(err)
	}
	fmt.Fprintln(report, "ok")
	report.Close()
	// From here on the monitor idles for the container's life: give back
	// what set-up allocated.
	debug.FreeOSMemory()

	var code int
	for restarts := 0; ; restarts++ {
		code = reap(pid)
		<-done
		<-done
		n, _ := rt.OOMKills(id)
		oom := n > 0
		rt.Delete(id, true)
		c, err = store.Update(id, func(c *container.Container) error {
			c.State.Status, c.State.ExitCode, c.State.OOMKilled = container.Exited, code, oom
			c.State.Pid, c.State.FinishedAt = 0, time.Now().UTC()
			return nil
		})
		if err != nil || !c.Host.Restart.ShouldRestart(code, restarts, c.State.StopRequested) {
			break
		}
		// Docker's back-off: 100 ms, doubling, at most a minute.
		time.Sleep(min(100*time.Millisecond<<min(restarts, 10), time.Minute))
		if cur, err := store.Load(id); err != nil || cur.State.StopRequested {
			break
		}
		if pid, done, err = startOnce(rt, id, bundle, logs); err != nil {
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
	c, err = store.Update(id, func(c *container.Container) error {
		c.State.MonitorPid, c.State.MonitorStart = 0, 0
		return nil
	})
	if err == nil && c.Host.AutoRemove {
		cleanup()
		store.Remove(c)
	}
	// The container's code is the monitor's: a foreground run waits on
	// the monitor and exits with it, even when --rm removed the record.
	return code
}

// startOnce creates and starts the container with its output going to
// the log; done receives twice when both streams have closed.
func startOnce(rt *runtime.Runtime, id, bundle string, logs *logWriter) (int, chan struct{}, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return 0, nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return 0, nil, err
	}
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		return 0, nil, err
	}
	st, err := rt.Create(id, runtime.CreateOptions{Bundle: bundle, Stdin: devNull, Stdout: outW, Stderr: errW})
	outW.Close()
	errW.Close()
	devNull.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return 0, nil, err
	}
	done := make(chan struct{}, 2)
	go func() { logs.copyLines("stdout", outR); outR.Close(); done <- struct{}{} }()
	go func() { logs.copyLines("stderr", errR); errR.Close(); done <- struct{}{} }()
	if err := rt.Start(id); err != nil {
		rt.Delete(id, true)
		return 0, nil, err
	}
	return st.Pid, done, nil
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
