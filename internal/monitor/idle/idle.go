// Package idle is the idle stage of a container's monitor. The monitor
// starts as the berth binary, which holds the whole engine (image store,
// runtime, networks) to set the container up; a container that is still
// running after a grace period is then handed to this stage, a program
// of its own (cmd/berth-monitor) that the monitor execs in place, so
// its pid, children and open files stay. It only keeps the log, serves
// attach clients, answers the container's name server (on a
// user-defined network) and waits for init; when init exits it execs
// the engine again, which records the exit, restarts or cleans up. The
// engine's ~14 MB stay on disk meanwhile.
package idle

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/monitor/health"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/network/dns"
	"github.com/berth-project/berth/internal/network/names"
)

// The environment between the stages: StateEnv carries State to the idle
// stage; ResumeEnv (init's exit code) and ListenerEnv (the attach
// socket's fd) tell the engine it resumes a monitor.
const (
	StateEnv    = "_BERTH_IDLE"
	ResumeEnv   = "_BERTH_MONITOR_RESUME"
	ListenerEnv = "_BERTH_MONITOR_LISTENER"
)

// State is what the idle stage gets. The fds are open across exec; -1
// is none.
type State struct {
	Arg0      string // the monitor's name in ps, kept
	Pid       int    // the container's init
	LogPath   string
	Log       stdio.LogOptions
	StdinOnce bool
	// Out and Err are the output pipes, or Master the pty; Stdin is the
	// input pipe (the master again with a pty and -i).
	Out, Err, Master, Stdin int
	Listener                int // the attach socket
	Engine                  int // the berth binary, to exec back into
	Env                     []string
	// Health is the healthcheck's schedule as the monitor left it, nil
	// without one; Probe starts its probes (the engine's binary and
	// environment are Engine's and Env).
	Health *health.Schedule `json:",omitempty"`
	Probe  health.Prober
	// DNS is the name server's socket (127.0.0.11 in the container's
	// namespace), -1 without one; it answers from the network records
	// under NetworksDir for Container, and asks Upstreams the rest.
	DNS         int
	NetworksDir string   `json:",omitempty"`
	Container   string   `json:",omitempty"`
	Upstreams   []string `json:",omitempty"`
}

// Main is the idle stage's main; it never returns.
func Main() {
	var st State
	if err := json.Unmarshal([]byte(os.Getenv(StateEnv)), &st); err != nil {
		fmt.Fprintln(os.Stderr, "berth-monitor: not started by a berth monitor:", err)
		os.Exit(2)
	}
	// Not to the probes, nor through them into the container: exec
	// reaches it by its path all the same.
	unix.CloseOnExec(st.Engine)
	// A name for ps: it cannot fail for a name this short.
	_ = unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("berth-monitor\x00")[0])), 0, 0, 0)
	logs, err := stdio.OpenDriver(st.LogPath, st.Log)
	if err != nil {
		// The container runs on, unmonitored: the next berth command finds
		// its monitor gone, stops it and records that.
		fmt.Fprintln(os.Stderr, "berth-monitor:", err)
		os.Exit(1)
	}
	stdio.ReopenOnSignal(logs)
	hub := stdio.NewHub(st.StdinOnce)
	master, in := file(st.Master), (*os.File)(nil)
	if st.Stdin == st.Master {
		in = master // one *os.File per fd: a second would close it when collected
	} else {
		in = file(st.Stdin)
	}
	hub.SetInput(in, master)
	done := make(chan struct{}, 2)
	streams := 0
	for _, o := range []struct {
		kind   byte
		stream string
		f      *os.File
	}{{attach.Stdout, "stdout", master}, {attach.Stdout, "stdout", file(st.Out)}, {attach.Stderr, "stderr", file(st.Err)}} {
		if o.f != nil {
			streams++
			go func() { hub.Pump(o.kind, o.stream, o.f, logs); done <- struct{}{} }()
		}
	}
	l, err := net.FileListener(file(st.Listener))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth-monitor: attach socket:", err)
		os.Exit(1)
	}
	go hub.ServeSocket(l.(*net.UnixListener))
	if f := file(st.DNS); f != nil {
		pc, err := net.FilePacketConn(f)
		if err != nil {
			// The container runs on; its names go unanswered, which its
			// resolver reports, until the next start.
			fmt.Fprintln(os.Stderr, "berth-monitor: name server:", err)
		} else {
			go (&dns.Server{Lookup: names.Lookup(st.NetworksDir, st.Container), Upstreams: st.Upstreams}).Serve(pc)
		}
		_ = f.Close() // FilePacketConn has a dup of its own
	}
	var probes *health.Runner
	if st.Health != nil {
		p := st.Probe
		p.Exe, p.Env = "/proc/self/fd/"+strconv.Itoa(st.Engine), st.Env
		probes = health.Start(*st.Health, p)
	}
	debug.FreeOSMemory()
	TrimResident()

	code := Reap(st.Pid)
	if probes != nil {
		probes.Stop()
	}
	WaitOutput(done, streams)
	hub.Exited(code)
	// Back to the engine, with the attach socket still open.
	lf, err := l.(*net.UnixListener).File()
	if err == nil {
		_, err = unix.FcntlInt(lf.Fd(), unix.F_SETFD, 0)
	}
	if err == nil {
		env := append(st.Env, ResumeEnv+"="+strconv.Itoa(code), ListenerEnv+"="+strconv.Itoa(int(lf.Fd())))
		signal.Ignore(stdio.ReopenSignal) // across the exec a reopen is ignored, not fatal
		err = syscall.Exec("/proc/self/fd/"+strconv.Itoa(st.Engine), []string{st.Arg0}, env)
	}
	fmt.Fprintln(os.Stderr, "berth-monitor: back to the engine:", err)
	os.Exit(code)
}

func file(fd int) *os.File {
	if fd < 0 {
		return nil
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "fd"+strconv.Itoa(fd))
}

// Reap waits for init and returns its exit code as a shell gives it;
// other children re-parented to us are reaped on the way.
func Reap(pid int) int {
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

// WaitOutput waits for n output streams to end after init exited. With
// its own PID namespace every process died with init; a process outside
// it (--pid host) may hold a stream open, so the wait is bounded.
func WaitOutput(done chan struct{}, n int) {
	t := time.NewTimer(2 * time.Second)
	defer t.Stop()
	for range n {
		select {
		case <-done:
		case <-t.C:
			return
		}
	}
}
