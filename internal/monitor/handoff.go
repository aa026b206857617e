package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/monitor/health"
	"github.com/berth-project/berth/internal/monitor/idle"
	"github.com/berth-project/berth/internal/monitor/launch"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/trace"
)

// idleGrace is how long a container runs before its monitor hands it to
// the idle stage: a short-lived one (run --rm of a command) ends with
// the engine still there to clean up at once, and pays for no exec.
var idleGrace = 2 * time.Second

// idleBinary is the idle stage's program, installed next to berth; ""
// when it is missing (the monitor then stays as it is).
func idleBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	p := filepath.Join(filepath.Dir(exe), "berth-monitor")
	if unix.Access(p, unix.X_OK) != nil {
		return ""
	}
	return p
}

// runsOn waits up to idleGrace for init to exit, and reports whether it
// still runs: whether the monitor is in for a long wait.
func (s *session) runsOn(r *run) bool {
	pfd, err := unix.PidfdOpen(r.pid, 0)
	if err != nil {
		return false
	}
	defer unix.Close(pfd) // ours, open
	deadline := time.Now().Add(idleGrace)
	for {
		n, err := unix.Poll([]unix.PollFd{{Fd: int32(pfd), Events: unix.POLLIN}}, int(max(time.Until(deadline).Milliseconds(), 0)))
		if err == unix.EINTR {
			continue
		}
		return err == nil && n == 0
	}
}

// handOff execs the idle stage in place with the container's stdio and
// attach socket. Output read so far has been logged and sent; what the
// container writes meanwhile waits in its pipes. It returns only if the
// hand-off could not be made, with everything serving as before: while
// a client is attached (its connection's state is this process's), or
// when an output cannot be paused.
func (s *session) handOff(r *run) {
	bin := idleBinary()
	if bin == "" || !s.plan.Idle {
		return
	}
	outs := r.outputs()
	for _, f := range outs {
		if f.SetReadDeadline(time.Time{}) != nil {
			return // not pollable: its pump cannot be paused
		}
	}
	lf, err := s.l.File()
	if err != nil {
		return
	}
	defer lf.Close() // a dup of the socket: the listener or the idle stage has its own
	s.l.SetUnlinkOnClose(false)
	s.l.Close() // accepts no more; a client that connects waits in the backlog
	relisten := func() {
		if fl, err := net.FileListener(lf); err == nil {
			s.l = fl.(*net.UnixListener)
			go s.hub.ServeSocket(s.l)
		}
	}
	if s.hub.Attached() > 0 {
		relisten()
		return
	}
	for _, f := range outs {
		// Pipes and the pty master are non-blocking: this cannot fail.
		_ = f.SetReadDeadline(time.Now())
	}
	for range r.streams {
		<-r.done
	}
	for _, f := range outs {
		_ = f.SetReadDeadline(time.Time{}) // as above
	}
	sch := s.stopHealth()
	err = s.execIdle(bin, r, lf, sch)
	// Still here: serve as before.
	s.startHealth(sch)
	trace.Phase("monitor", "no idle stage: "+err.Error())
	r.pump(s.hub, s.logs)
	relisten()
}

// outputs are the run's output ends.
func (r *run) outputs() []*os.File {
	if r.master != nil {
		return []*os.File{r.master}
	}
	return []*os.File{r.out, r.err}
}

func (s *session) execIdle(bin string, r *run, listener *os.File, sch health.Schedule) error {
	exe, err := os.Open("/proc/self/exe")
	if err != nil {
		return err
	}
	defer exe.Close() // read only; the exec has its own descriptor
	var opened []int
	defer func() {
		for _, fd := range opened {
			_ = unix.Close(fd) // dups for the exec, which has them now or failed
		}
	}()
	// Open across exec: plain dups (Go opens everything close-on-exec).
	pass := func(f *os.File) int {
		if f == nil {
			return -1
		}
		fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD, 3)
		if err != nil {
			return -1
		}
		opened = append(opened, fd)
		return fd
	}
	st := idle.State{
		Arg0: launch.Arg0Prefix + s.id, Pid: r.pid,
		LogPath: s.logPath(), Log: s.logOptions(),
		StdinOnce: s.c.Config.StdinOnce,
		Out:       pass(r.out), Err: pass(r.err), Master: pass(r.master), Stdin: -1,
		Listener: pass(listener), Engine: pass(exe), DNS: -1,
	}
	if ns := r.names; ns != nil {
		uc, ok := ns.conn.(*net.UDPConn)
		if !ok {
			return fmt.Errorf("the name server's socket is a %T", ns.conn)
		}
		f, err := uc.File()
		if err != nil {
			return err
		}
		defer f.Close() // a dup: the one passed is dup'ed again below
		st.DNS, st.NetworksDir, st.Container, st.Upstreams = pass(f), ns.dir, ns.container, ns.upstreams
		if st.DNS < 0 {
			return errors.New("pass the name server's socket")
		}
	}
	if r.stdin != nil && r.stdin == r.master {
		st.Stdin = st.Master
	} else {
		st.Stdin = pass(r.stdin)
	}
	st.Env = engineEnv() // the engine's, for the way back
	if s.c.Config.Healthcheck.Enabled() {
		st.Health, st.Probe = &sch, s.prober("", nil)
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	// Across the exec a reopen is ignored, not fatal (the next stage
	// takes it again).
	signal.Ignore(stdio.ReopenSignal)
	// One P: the idle stage waits on a few descriptors, and each P's
	// caches and each thread it keeps cost resident memory (0.1 MiB of
	// its 2.2). Not passed on: the way back takes st.Env.
	return syscall.Exec(bin, []string{st.Arg0}, []string{idle.StateEnv + "=" + string(b), "GOMAXPROCS=1"})
}
