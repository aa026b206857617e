package runtime

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/console"
)

// RunOptions are run's inputs: create's, and whether to return at once.
type RunOptions struct {
	CreateOptions
	Detach bool
	// Keep leaves the stopped container for the caller to delete (its
	// state and cgroups readable after the run), as runc's --keep.
	Keep bool
}

// Run creates and starts a container. Unless detached it then relays
// signals (and the terminal, when the process has one and no console
// socket was given), waits for the process, deletes the container, and
// returns the exit code: the process's, or 128+signal.
func (r *Runtime) Run(id string, o RunOptions) (int, error) {
	var relay *os.File
	if o.Detach {
		if _, _, err := r.create(id, o.CreateOptions); err != nil {
			return 0, err
		}
		return 0, r.startOrDelete(id)
	}
	trace("run")
	// Become the reaper of init when the nsenter constructor forks it.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return 0, fmt.Errorf("become child subreaper: %w", err)
	}
	spec, err := LoadSpec(o.Bundle)
	if err != nil {
		return 0, err
	}
	o.spec = spec
	if spec.Process != nil && spec.Process.Terminal && o.ConsoleSocket == "" {
		if o.Console, relay, err = consolePair(); err != nil {
			return 0, err
		}
		defer o.Console.Close() // ours; the child has its copy
		defer relay.Close()     // ours, used for one message
	}
	sigc := make(chan os.Signal, 32)
	signal.Notify(sigc, forwardedSignals...)
	defer signal.Stop(sigc)

	trace("signals")
	c, _, err := r.create(id, o.CreateOptions)
	if err != nil {
		return 0, err
	}
	if relay != nil {
		done, err := relayTerminal(relay)
		if err != nil {
			_ = r.Delete(id, true) // undoes the create; the error above is returned
			return 0, err
		}
		defer done()
	}
	if err := r.startOrDelete(id); err != nil {
		return 0, err
	}
	trace("started")
	code, err := waitAndForward(c.Pid, sigc)
	if err != nil {
		return 0, fmt.Errorf("wait for container %s: %w", id, err)
	}
	trace("exited")
	if o.Keep {
		return code, nil
	}
	if err := r.Delete(id, true); err != nil {
		return code, err
	}
	trace("deleted")
	return code, nil
}

// consolePair is a console socket of the runtime's own, for a process
// with a terminal and no --console-socket: console goes to the process,
// the pty's master comes back on relay.
func consolePair() (consoleEnd, relay *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create console socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "console"), os.NewFile(uintptr(fds[1]), "console-relay"), nil
}

// relayTerminal receives the pty master sent over relay and relays it
// to this process's stdio, its terminal in raw mode, as runc does for a
// process with a terminal and no --console-socket. done, called once
// the process has exited, waits for its last output (a process it left
// holding the terminal gets a second) and gives the terminal back.
func relayTerminal(relay *os.File) (done func(), err error) {
	master, err := console.RecvFd(relay)
	if err != nil {
		return nil, err
	}
	restore := console.MakeRaw(os.Stdin)
	drained := make(chan struct{})
	go func() { _, _ = io.Copy(master, os.Stdin) }() // ends with the terminal
	go func() {
		defer close(drained)
		_, _ = io.Copy(os.Stdout, master) // ends with EIO once the terminal is gone
	}()
	return func() {
		select {
		case <-drained:
		case <-time.After(time.Second):
		}
		restore()
		_ = master.Close() // ours; the container has the terminal
	}, nil
}

// waitAndForward reaps children until pid exits, forwarding the signals
// meant for it, and returns its exit code (128+signal when killed). The
// caller is a child subreaper with sigc notified of SIGCHLD.
func waitAndForward(pid int, sigc chan os.Signal) (int, error) {
	for {
		var ws unix.WaitStatus
		got, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		switch {
		case err != nil && !errors.Is(err, unix.EINTR):
			return 0, err
		case got == pid:
			if ws.Signaled() {
				return 128 + int(ws.Signal()), nil
			}
			return ws.ExitStatus(), nil
		case got > 0:
			continue // another orphan reparented to us
		}
		// Nothing exited yet: sleep until a signal arrives (SIGCHLD
		// included) and forward the ones meant for the process.
		s := <-sigc
		if sig, ok := s.(unix.Signal); ok && sig != unix.SIGCHLD && sig != unix.SIGURG && sig != unix.SIGWINCH {
			_ = unix.Kill(pid, sig) // a process that exited meanwhile: the wait reaps it
		}
	}
}

// forwardedSignals are what a user sends a foreground process, plus
// SIGCHLD to wake the wait loop. Not all 64: each costs a sigaction.
var forwardedSignals = []os.Signal{unix.SIGCHLD, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT,
	unix.SIGUSR1, unix.SIGUSR2, unix.SIGWINCH, unix.SIGCONT, unix.SIGPIPE, unix.SIGALRM}

func (r *Runtime) startOrDelete(id string) error {
	if err := r.Start(id); err != nil {
		if derr := r.Delete(id, true); derr != nil {
			r.warnf("%v", derr)
		}
		return err
	}
	return nil
}
