package main

import (
	"context"
	"errors"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/berth-project/berth/internal/engine"
)

func execCommand(g *globals) *cobra.Command {
	var detach, interactive, tty bool
	var envFiles []string
	var o engine.ExecOptions
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			if err := needTerminal(interactive, tty, detach); err != nil {
				return err
			}
			e, err := g.engine()
			if err != nil {
				return &engine.StatusError{Status: engine.StatusFailed, Err: err}
			}
			var env []string
			for _, f := range envFiles {
				kvs, err := readEnvFile(f)
				if err != nil {
					return &engine.StatusError{Status: engine.StatusFailed, Err: err}
				}
				env = append(env, kvs...)
			}
			o.Env = append(env, o.Env...)
			o.Cmd, o.Tty, o.Detach = args[1:], tty, detach
			o.Stdout, o.Stderr = os.Stdout, os.Stderr
			fd := int(os.Stdin.Fd())
			restore := func() {}
			if interactive && !detach {
				o.Stdin = os.Stdin
			}
			if tty && !detach {
				if cols, rows, err := term.GetSize(fd); err == nil {
					o.ConsoleSize = [2]uint16{uint16(rows), uint16(cols)}
				}
				if o.Stdin != nil && term.IsTerminal(fd) {
					if old, err := term.MakeRaw(fd); err == nil {
						// Fails only if stdin is gone: nothing to restore.
						restore = func() { _ = term.Restore(fd, old) }
						defer restore()
					}
				}
			}
			code, err := e.ContainerExec(context.Background(), args[0], o)
			if errors.Is(err, engine.ErrDetached) {
				restore() // the terminal as it was, for the message
				return detached()
			}
			if err != nil {
				return err
			}
			return exitError{code}
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	c.Flags().StringVarP(&o.User, "user", "u", "", "user[:group]")
	c.Flags().StringVarP(&o.WorkingDir, "workdir", "w", "", "working directory")
	c.Flags().StringArrayVarP(&o.Env, "env", "e", nil, "environment variables")
	c.Flags().StringArrayVar(&envFiles, "env-file", nil, "read environment variables from a file")
	c.Flags().BoolVar(&o.Privileged, "privileged", false, "give the command every capability the host grants")
	c.Flags().StringVar(&o.DetachKeys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}
