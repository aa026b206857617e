package main

import (
	"context"
	"os"
	"os/signal"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/engine"
)

// clientStreams are our stdio as an attached client's: stdin when
// asked, our terminal raw and its size followed when the container has
// one, our signals forwarded when sigProxy. The returned function
// restores the terminal and stops the forwarding; it may be called
// more than once.
func clientStreams(stdin, tty bool, detachKeys string, sigProxy bool) (engine.Streams, func()) {
	s := engine.Streams{Stdout: os.Stdout, Stderr: os.Stderr, DetachKeys: detachKeys}
	var undo []func()
	if stdin {
		s.Stdin = os.Stdin
	}
	fd := int(os.Stdin.Fd())
	if tty && term.IsTerminal(fd) {
		if stdin {
			if old, err := term.MakeRaw(fd); err == nil {
				// Restoring can only fail if stdin is gone, when there is
				// nothing left to restore.
				undo = append(undo, func() { _ = term.Restore(fd, old) })
			}
		}
		sizes := make(chan [2]uint16, 1)
		winch := make(chan os.Signal, 1)
		signal.Notify(winch, unix.SIGWINCH)
		undo = append(undo, func() { signal.Stop(winch) })
		send := func() {
			if cols, rows, err := term.GetSize(fd); err == nil {
				select {
				case sizes <- [2]uint16{uint16(rows), uint16(cols)}:
				default: // one size queued already: the newest follows
				}
			}
		}
		send()
		go func() {
			for range winch {
				send()
			}
		}()
		s.Resizes = sizes
	}
	if sigProxy && !tty {
		sigs, stop := proxySignals()
		s.Signals = sigs
		undo = append(undo, stop)
	}
	return s, sync.OnceFunc(func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	})
}

func attachCommand(g *globals) *cobra.Command {
	var noStdin, sigProxy bool
	var keys string
	c := &cobra.Command{
		Use:   "attach [OPTIONS] CONTAINER",
		Short: "Attach local standard input, output, and error streams to a running container",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			in, err := e.ContainerInspect(args[0])
			if err != nil {
				return err
			}
			s, done := clientStreams(!noStdin, in.Config.Tty, keys, sigProxy)
			defer done()
			res, err := e.ContainerAttach(context.Background(), in.ID, s)
			if err != nil {
				return err
			}
			if res.Detached {
				done() // the terminal as it was, for the message
				return detached()
			}
			return exitError{res.ExitCode}
		},
	}
	c.Flags().BoolVar(&noStdin, "no-stdin", false, "do not attach STDIN")
	c.Flags().BoolVar(&sigProxy, "sig-proxy", true, "proxy received signals to the container")
	c.Flags().StringVar(&keys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}
