// Package launch is how a starter (the CLI, a server, a test) starts a
// container's monitor, and the monitor's side of that: the processes,
// the descriptors, the words on them, and the report.
//
//	starter                                  monitor ("berth:[monitor] ID")
//	-------                                  -------
//	pipes: report, go-ahead
//	exec /proc/self/exe (or the engine's
//	binary), fds 3 = report, 4 = go-ahead,
//	[5 = first client], env: roots,
//	DetachEnv=3 ----------------------->    nsenter's constructor forks: the
//	                                        parent writes "PID\n" on fd 3 and
//	read "PID\n" from the report;           exits; the child waits for that,
//	reap the parent (it exits at once)      then Go starts and opens the engine
//	... create the container ...            reads fd 4 to its end
//	under the container's lock: record
//	PID as its monitor, write "go",
//	close the go-ahead ---------------->    "go": prepare, create, start;
//	                                        anything else (an abort, a starter
//	                                        that died): exit 0 quietly
//	read the report to its end <-------     one JSON line, Report, then close:
//	                                        {"running":true} or
//	                                        {"error":"...","status":127}
//
// The monitor is owned by nobody: re-parented to the host's init, it is
// never a child the starter must reap, and a long-lived starter collects
// no zombies. A starter that must know when the monitor is done (a
// foreground run, whose --rm removal must be over before it returns)
// waits on the monitor's pidfd (Launch.WaitExit).
//
// Builds without cgo have no constructor; there the monitor is the
// starter's child, reaped by a goroutine.
package launch

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/trace"
)

// Arg0Prefix names monitor processes in ps: "berth:[monitor] ID".
const Arg0Prefix = "berth:[monitor] "

// The monitor's environment and descriptors.
const (
	rootsEnv         = "_BERTH_MONITOR_ROOTS"
	clientEnv        = "_BERTH_MONITOR_CLIENT"
	execContainerEnv = "_BERTH_EXEC_CONTAINER"
	execClientEnv    = "_BERTH_EXEC_CLIENT"
	execClientFD     = 4 // an exec session's, after the report
	goWord           = "go"
	reportFD         = 3
	goAheadFD        = 4
	clientFD         = 5
)

// Report is the monitor's word on a start.
type Report struct {
	// Running: the container runs.
	Running bool `json:"running,omitempty"`
	// Error says why it does not.
	Error string `json:"error,omitempty"`
	// Status is Docker's exit status for the failure: 126 for a command
	// that cannot be invoked, 127 for one not found, else 125.
	Status int `json:"status,omitempty"`
	// Pid is an exec session's process, once it runs.
	Pid int `json:"pid,omitempty"`
	// Exited, with ExitCode, is an exec session's second report.
	Exited   bool `json:"exited,omitempty"`
	ExitCode int  `json:"exitCode,omitempty"`
}

// Failure is a start that failed, with the monitor's words and status.
type Failure struct {
	Msg    string
	Status int
}

func (f *Failure) Error() string { return f.Msg }

// A Launch is a monitor, started and waiting for the word to go.
type Launch struct {
	id      string
	pid     int
	pidfd   int // -1 when the kernel has no pidfd_open
	report  *os.File
	dec     *json.Decoder // of the report
	goAhead *os.File      // nil for an exec session's monitor
	child   *exec.Cmd     // only without the constructor: the monitor is ours
}

// Start starts a monitor for container id (which need not exist yet)
// from binary self, on the engine's roots. client, if given, is the
// monitor's first attached client. Go or Abort the launch.
func Start(self, id string, roots [2]string, client *os.File) (*Launch, error) {
	sp := spec{arg0: Arg0Prefix + id, id: id, roots: roots, goAhead: true}
	if client != nil {
		sp.extra = append(sp.extra, client)
		sp.env = append(sp.env, clientEnv+"=1")
	}
	return start(self, sp)
}

// ExecArg0Prefix names exec sessions' monitors in ps:
// "berth:[exec-monitor] EXEC-ID".
const ExecArg0Prefix = "berth:[exec-monitor] "

// StartExec starts the monitor of exec session execID of container
// containerID: it runs the session's process with stdio as its own
// (nil: /dev/null). A session with a terminal keeps the pty's master in
// its monitor, which streams it to client in attach frames (nil: a
// detached session), so that the client may go and the session run on.
// It reports twice: once the process runs (Report.Running, Report.Pid)
// and once it has exited (Report.Exited, Report.ExitCode); read them
// with Next. The session runs at once: no go-ahead.
func StartExec(self, containerID, execID string, roots [2]string, stdio [3]*os.File, client *os.File) (*Launch, error) {
	sp := spec{arg0: ExecArg0Prefix + execID, id: execID, roots: roots, stdio: stdio,
		env: []string{execContainerEnv + "=" + containerID}}
	if client != nil {
		sp.extra = append(sp.extra, client)
		sp.env = append(sp.env, execClientEnv+"=1")
	}
	return start(self, sp)
}

// spec is one monitor process to start.
type spec struct {
	arg0, id string
	roots    [2]string
	goAhead  bool
	stdio    [3]*os.File
	extra    []*os.File // after the report (and the go-ahead)
	env      []string
}

func start(self string, sp spec) (*Launch, error) {
	report, reportW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	defer reportW.Close() // the monitor holds its copy
	files := []*os.File{reportW}
	var goW *os.File
	if sp.goAhead {
		goR, w, err := os.Pipe()
		if err != nil {
			_ = report.Close()
			return nil, fmt.Errorf("start the monitor: %w", err)
		}
		defer goR.Close() // the monitor holds its copy
		goW = w
		files = append(files, goR)
	}
	rb, err := json.Marshal(sp.roots)
	if err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	cmd := &exec.Cmd{
		Path:        self,
		Args:        []string{sp.arg0},
		Env:         append([]string{rootsEnv + "=" + string(rb), "PATH=" + os.Getenv("PATH")}, sp.env...),
		ExtraFiles:  append(files, sp.extra...),
		SysProcAttr: &unix.SysProcAttr{Setsid: true},
	}
	if sp.stdio[0] != nil {
		cmd.Stdin = sp.stdio[0]
	}
	if sp.stdio[1] != nil {
		cmd.Stdout = sp.stdio[1]
	}
	if sp.stdio[2] != nil {
		cmd.Stderr = sp.stdio[2]
	}
	detached := nsenter.Supported()
	if detached {
		cmd.Env = append(cmd.Env, nsenter.DetachEnv+"="+strconv.Itoa(reportFD))
	}
	cmd.Env = trace.Env(cmd.Env)
	fail := func(err error) (*Launch, error) {
		_ = report.Close()
		if goW != nil {
			_ = goW.Close()
		}
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	l := &Launch{id: sp.id, pid: cmd.Process.Pid, pidfd: -1, report: report, goAhead: goW}
	if detached {
		_ = reportW.Close() // ours, now: so that a monitor that dies gives EOF
		pid, err := readPid(report)
		// The constructor's parent exits once it has written the pid.
		if werr := cmd.Wait(); err == nil && werr != nil {
			err = werr
		}
		if err != nil {
			return fail(err)
		}
		l.pid = pid
	} else {
		l.child = cmd
	}
	if fd, err := unix.PidfdOpen(l.pid, 0); err == nil {
		// Taken while the monitor waits for us: it is the one.
		l.pidfd = fd
	}
	l.dec = json.NewDecoder(report)
	return l, nil
}

// readPid reads the "PID\n" line the constructor writes, a byte at a
// time so that nothing after it is consumed.
func readPid(r io.Reader) (int, error) {
	var b [1]byte
	var line []byte
	for len(line) < 16 {
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return 0, fmt.Errorf("read the monitor's pid: %w", err)
		}
		if b[0] == '\n' {
			return strconv.Atoi(string(line))
		}
		line = append(line, b[0])
	}
	return 0, errors.New("read the monitor's pid: no pid line")
}

// ID is the container's.
func (l *Launch) ID() string { return l.id }

// Pid is the monitor's process ID.
func (l *Launch) Pid() int { return l.pid }

// Abort ends a monitor that will not go ahead: it reads the go-ahead's
// end without the word and exits by itself.
func (l *Launch) Abort() {
	// Close errors: the descriptors are ours and open; nothing to do.
	if l.goAhead != nil {
		_ = l.goAhead.Close()
	}
	_ = l.report.Close()
	l.release()
}

// Go tells the monitor to go and reads its report; the error is a
// *Failure when the start failed.
func (l *Launch) Go() error {
	defer l.report.Close() // read to its end below
	if _, err := io.WriteString(l.goAhead, goWord); err != nil {
		_ = l.goAhead.Close()
		return fmt.Errorf("start the monitor: %w", err)
	}
	if err := l.goAhead.Close(); err != nil {
		return fmt.Errorf("start the monitor: %w", err)
	}
	r, err := l.Next()
	if err != nil {
		return err
	}
	return r.Err()
}

// Next reads the monitor's next report. A monitor that ended without
// one is a *Failure.
func (l *Launch) Next() (Report, error) {
	var r Report
	if err := l.dec.Decode(&r); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return r, &Failure{Msg: "the monitor exited before it reported", Status: 125}
		}
		return r, &Failure{Msg: "the monitor's report is unreadable: " + err.Error(), Status: 125}
	}
	return r, nil
}

// Err is the report's failure, nil for a start that worked.
func (r Report) Err() error {
	if r.Running || r.Exited {
		return nil
	}
	if r.Status == 0 {
		r.Status = 125
	}
	return &Failure{Msg: r.Error, Status: r.Status}
}

// Close ends the starter's hold on the report.
func (l *Launch) Close() { _ = l.report.Close() }

// WaitExit waits until the monitor has exited (after its clean-up, and
// with --rm the container's removal), then lets the launch go.
func (l *Launch) WaitExit() {
	switch {
	case l.child != nil:
		_ = l.child.Wait() // its status is the container's; the caller has it
		l.child = nil
	case l.pidfd >= 0:
		fds := []unix.PollFd{{Fd: int32(l.pidfd), Events: unix.POLLIN}}
		for {
			if _, err := unix.Poll(fds, -1); !errors.Is(err, unix.EINTR) {
				break
			}
		}
	}
	l.release()
}

// Release lets a monitor run on without us.
func (l *Launch) Release() { l.release() }

func (l *Launch) release() {
	if l.pidfd >= 0 {
		_ = unix.Close(l.pidfd) // ours, open
		l.pidfd = -1
	}
	if l.child != nil {
		c := l.child
		l.child = nil
		go func() { _ = c.Wait() }() // reaped without the constructor's detach
	}
}

// IsMonitor reports whether this process was started as a monitor.
func IsMonitor(arg0 string) bool { return strings.HasPrefix(arg0, Arg0Prefix) }

// IsExecMonitor reports whether this process was started as an exec
// session's monitor.
func IsExecMonitor(arg0 string) bool { return strings.HasPrefix(arg0, ExecArg0Prefix) }

// Child is the monitor's side of a launch.
type Child struct {
	// ID is the container's, or the exec session's for its monitor.
	ID string
	// ContainerID is an exec session's container.
	ContainerID string
	Roots       [2]string
	rep         *os.File
}

// FromEnv reads a launched monitor's descriptors and environment.
func FromEnv() (*Child, error) {
	var roots [2]string
	if err := json.Unmarshal([]byte(os.Getenv(rootsEnv)), &roots); err != nil {
		return nil, errors.New("berth monitor: started without its roots")
	}
	id := strings.TrimPrefix(strings.TrimPrefix(os.Args[0], Arg0Prefix), ExecArg0Prefix)
	return &Child{ID: id, ContainerID: os.Getenv(execContainerEnv), Roots: roots, rep: os.NewFile(reportFD, "report")}, nil
}

// ExecClient is an exec session's attached client, or nil.
func (c *Child) ExecClient() *os.File {
	if os.Getenv(execClientEnv) == "" {
		return nil
	}
	return os.NewFile(execClientFD, "exec-client")
}

// Started reports an exec session's process running, as pid.
func (c *Child) Started(pid int) { c.write(Report{Running: true, Pid: pid}, false) }

// ExitedWith reports an exec session's process's exit code, and closes
// the report.
func (c *Child) ExitedWith(code int) { c.write(Report{Exited: true, ExitCode: code}, true) }

// WaitGo waits for the starter's word: false when the launch was
// aborted or the starter died.
func (c *Child) WaitGo() bool {
	word, err := io.ReadAll(os.NewFile(goAheadFD, "go-ahead"))
	return err == nil && string(word) == goWord
}

// Client is the first attached client, or nil.
func (c *Child) Client() *os.File {
	if os.Getenv(clientEnv) == "" {
		return nil
	}
	return os.NewFile(clientFD, "client")
}

// Ready reports that the container runs, and closes the report.
func (c *Child) Ready() { c.send(Report{Running: true}) }

// Failed reports why the container does not run, with Docker's exit
// status for it, and closes the report.
func (c *Child) Failed(err error, status int) {
	c.send(Report{Error: strings.ReplaceAll(strings.TrimSpace(err.Error()), "\n", "; "), Status: status})
}

func (c *Child) send(r Report) { c.write(r, true) }

func (c *Child) write(r Report, last bool) {
	if c.rep == nil {
		return
	}
	b, _ := json.Marshal(r) // a struct of strings and numbers: cannot fail
	// A starter that is gone reads no report: nothing to do about it.
	_, _ = c.rep.Write(append(b, '\n'))
	if last {
		_ = c.rep.Close()
		c.rep = nil
	}
}
