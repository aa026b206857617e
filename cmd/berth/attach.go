package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/attach"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/trace"
)

// stdioOptions say how a client attaches.
type stdioOptions struct {
	stdin      bool   // send our stdin
	detachKeys string // "" means Docker's default
	sigProxy   bool   // forward our signals to the container
}

// startAttached starts c with a client attached from the first byte,
// through a socket pair handed to the monitor, and runs the client.
func startAttached(e *engine.Engine, c *container.Container, o stdioOptions) error {
	l, ours, err := launchAttached(e, c.ID)
	if err != nil {
		return runError{exitRunFailed, err}
	}
	return runAttached(e, c, l, ours, o)
}

// launchAttached launches a monitor for container id with one end of a
// socket pair as its first client, and returns the other end.
func launchAttached(e *engine.Engine, id string) (*engine.Launch, *os.File, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("attach: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "attach"), os.NewFile(uintptr(fds[1]), "attach-monitor")
	defer theirs.Close()
	l, err := e.Launch(id, theirs)
	if err != nil {
		ours.Close()
		return nil, nil, err
	}
	return l, ours, nil
}

// runAttached starts c through its launched monitor and runs the client
// on ours, our end of the monitor's first client connection.
func runAttached(e *engine.Engine, c *container.Container, l *engine.Launch, ours *os.File, o stdioOptions) error {
	defer ours.Close()
	mon, err := e.Go(l)
	trace.Phase("cli", "started")
	if err != nil {
		return err
	}
	if mon == nil {
		return fmt.Errorf("container %s is already running", c.Name)
	}
	conn, err := net.FileConn(ours)
	if err != nil {
		return runError{exitRunFailed, fmt.Errorf("attach: %w", err)}
	}
	detached, err := runClient(e, c, conn, o)
	if detached {
		mon.Release()
		return nil
	}
	if err != nil {
		mon.Release()
		return err
	}
	st, err := mon.Wait()
	trace.Phase("cli", "monitor exited")
	if err != nil {
		return runError{exitRunFailed, err}
	}
	return exitError{st.ExitCode()}
}

// runClient copies between our stdio and the container until it ends
// or the user detaches.
func runClient(e *engine.Engine, c *container.Container, conn net.Conn, o stdioOptions) (bool, error) {
	cl := &attach.Client{Conn: conn, Stdout: os.Stdout, Stderr: os.Stderr}
	tty := c.Config.Tty
	if o.stdin && c.Config.OpenStdin {
		cl.Stdin = os.Stdin
		if tty {
			keys := o.detachKeys
			if keys == "" {
				keys = attach.DefaultDetachKeys
			}
			k, err := attach.ParseDetachKeys(keys)
			if err != nil {
				return false, usageError{err}
			}
			cl.DetachKeys = k
		}
	}
	if tty && console.IsTerminal(os.Stdin) {
		if cl.Stdin != nil {
			restore := console.MakeRaw(os.Stdin)
			defer restore()
		}
		sizes := make(chan [2]uint16, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		defer signal.Stop(winch)
		send := func() {
			if rows, cols, ok := console.Size(os.Stdin); ok {
				select {
				case sizes <- [2]uint16{rows, cols}:
				default:
				}
			}
		}
		send()
		go func() {
			for range winch {
				send()
			}
		}()
		cl.Resizes = sizes
	}
	if o.sigProxy && !tty {
		sigc := make(chan os.Signal, 8)
		signal.Notify(sigc, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
		defer signal.Stop(sigc)
		go func() {
			for s := range sigc {
				e.Runtime.Kill(c.ID, s.(syscall.Signal), false)
			}
		}()
	}
	err := cl.Run()
	if errors.Is(err, attach.ErrDetached) {
		return true, nil
	}
	return false, err
}

func attachCommand(g *globals) *cobra.Command {
	var noStdin, sigProxy bool
	var keys string
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			if c.State.Status != container.Running {
				return fmt.Errorf("you cannot attach to a stopped container, start it first")
			}
			conn, err := attach.Dial(monitor.AttachSocket(e.Containers.Dir(c.ID)))
			if err != nil {
				return fmt.Errorf("attach to %s: %w", c.Name, err)
			}
			defer conn.Close()
			detached, err := runClient(e, c, conn, stdioOptions{stdin: !noStdin, detachKeys: keys, sigProxy: sigProxy})
			if detached || err != nil {
				return err
			}
			code, err := e.Wait(context.Background(), c)
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	c.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy received signals to the container")
	c.Flags().StringVar(&keys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}

func restartCommand(g *globals) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				t := stopTimeout(c, timeout, cmd.Flags().Changed("time"))
				if err := e.Stop(context.Background(), c, t); err != nil {
					return err
				}
				c, err := e.Get(c.ID)
				if err != nil {
					return err
				}
				mon, err := e.Start(c, nil)
				if mon != nil {
					mon.Release()
				}
				return err
			})
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return c
}

// stopTimeout is -t when given, else the container's --stop-timeout,
// else Docker's 10 seconds.
func stopTimeout(c *container.Container, flag int, given bool) time.Duration {
	if !given && c.Config.StopTimeout != nil {
		flag = *c.Config.StopTimeout
	}
	return time.Duration(flag) * time.Second
}

// consoleSize is our terminal's size for a new pty, nil when stdin is
// not a terminal.
func consoleSize() *specs.Box {
	rows, cols, ok := console.Size(os.Stdin)
	if !ok {
		return nil
	}
	return &specs.Box{Height: uint(rows), Width: uint(cols)}
}

// execConsole sets o up so that the exec's pty comes back to us, and
// relays it to our terminal: output always, input when withInput. The
// returned function waits for the output to drain and restores the
// terminal.
func execConsole(o *runtime.ExecOptions, withInput bool) (func(), error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("console socket: %w", err)
	}
	o.Console = os.NewFile(uintptr(fds[0]), "console")
	relay := os.NewFile(uintptr(fds[1]), "console-relay")
	if o.Detach {
		// Nobody relays a detached exec's pty: the process keeps it.
		go func() {
			if m, err := console.RecvFd(relay); err == nil {
				m.Close()
			}
			relay.Close()
		}()
		return func() { o.Console.Close() }, nil
	}
	restore := func() {}
	if withInput {
		restore = console.MakeRaw(os.Stdin)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		master, err := console.RecvFd(relay)
		relay.Close()
		if err != nil {
			return
		}
		defer master.Close()
		if withInput {
			go io.Copy(master, os.Stdin)
		}
		io.Copy(os.Stdout, master) // ends with EIO once the process and its children closed the pty
	}()
	return func() {
		o.Console.Close()
		<-done
		restore()
	}, nil
}
