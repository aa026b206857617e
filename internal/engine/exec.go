package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/runtime"
)

// ExecOptions are a process to run in a running container.
type ExecOptions struct {
	Cmd []string
	// Env adds to the container's environment.
	Env        []string
	User       string // user[:group], resolved in the container's /etc
	WorkingDir string // "" is the container's
	Tty        bool
	// Detach returns once the process runs; its output goes nowhere.
	Detach bool
	// Stdio of the process; nil is /dev/null. With Tty, Stdin is copied
	// to the terminal and the terminal to Stdout.
	Stdin, Stdout, Stderr *os.File
	// ConsoleSize is the new terminal's (rows, cols); zero leaves the
	// default.
	ConsoleSize [2]uint16
}

// ContainerExec runs a process in a running container and, unless
// detached, returns its exit code once it ends. A failure to start it
// is a StatusError: 126 or 127 as Docker gives them, else 125.
func (e *Engine) ContainerExec(ctx context.Context, ref string, o ExecOptions) (int, error) {
	c, err := e.get(ref)
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	if c.State.Status != container.Running {
		return 0, &StatusError{StatusFailed, conflict(fmt.Errorf("container %s is not running", c.Name))}
	}
	if len(o.Cmd) == 0 {
		return 0, &StatusError{StatusFailed, invalid(errors.New("exec: no command given"))}
	}
	base, err := e.rt.ContainerProcess(c.ID)
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	p := *base
	p.Args, p.Terminal = o.Cmd, o.Tty
	p.Env = append(append([]string(nil), base.Env...), o.Env...)
	if o.WorkingDir != "" {
		p.Cwd = o.WorkingDir
	}
	if o.User != "" {
		u, err := container.ResolveUser(e.containers.Dir(c.ID)+"/merged", o.User)
		if err != nil {
			return 0, &StatusError{StatusFailed, err}
		}
		p.User = u
	}
	if o.Tty && !o.Detach && o.ConsoleSize != [2]uint16{} {
		p.ConsoleSize = &specs.Box{Height: uint(o.ConsoleSize[0]), Width: uint(o.ConsoleSize[1])}
	}
	ro := runtime.ExecOptions{Process: &p, Detach: o.Detach}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, &StatusError{StatusFailed, err}
	}
	defer devNull.Close()
	ro.Stdin, ro.Stdout, ro.Stderr = orFile(o.Stdin, devNull), orFile(o.Stdout, devNull), orFile(o.Stderr, devNull)
	if o.Detach {
		ro.Stdin, ro.Stdout, ro.Stderr = devNull, devNull, devNull
	}
	if o.Tty {
		stop, err := relayConsole(&ro, o.Stdin, o.Stdout)
		if err != nil {
			return 0, &StatusError{StatusFailed, err}
		}
		defer stop()
	}
	code, err := e.rt.Exec(c.ID, ro)
	if err != nil {
		var ie *runtime.InitError
		if errors.As(err, &ie) && (ie.Code == StatusCannotRun || ie.Code == StatusNotFoundCmd) {
			return 0, &StatusError{ie.Code, err}
		}
		return 0, &StatusError{StatusFailed, err}
	}
	return code, nil
}

func orFile(f, def *os.File) *os.File {
	if f == nil {
		return def
	}
	return f
}

// relayConsole sets o up so that the exec's pty comes back to us, and
// relays it: the terminal's output to out, in to its input. A detached
// exec's pty stays with its process. The returned function waits for
// the output to drain.
func relayConsole(o *runtime.ExecOptions, in, out *os.File) (func(), error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	o.Console = os.NewFile(uintptr(fds[0]), "console")
	relay := os.NewFile(uintptr(fds[1]), "console-relay")
	if o.Detach {
		// Nobody relays a detached exec's pty: the process keeps it, and
		// our copy of the master goes.
		go func() {
			if m, err := console.RecvFd(relay); err == nil {
				_ = m.Close()
			}
			_ = relay.Close()
		}()
		return func() { _ = o.Console.Close() }, nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		master, err := console.RecvFd(relay)
		_ = relay.Close() // one message only
		if err != nil {
			return // the exec failed before it made a terminal; Exec says why
		}
		defer master.Close()
		if in != nil {
			// Ends when in does, or with EIO once the pty is gone.
			go func() { _, _ = io.Copy(master, in) }()
		}
		if out != nil {
			// Ends with EIO once the process and its children closed the
			// pty: the normal end, not an error.
			_, _ = io.Copy(out, master)
		}
	}()
	return func() {
		_ = o.Console.Close()
		<-done
	}, nil
}
