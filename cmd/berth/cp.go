package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"golang.org/x/term"
)

func exportCommand(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Write a container's filesystem to a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var w io.Writer = os.Stdout
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close() // closed below on success
				w = f
				if err := e.ContainerExport(args[0], w); err != nil {
					return err
				}
				return f.Close()
			}
			if term.IsTerminal(int(os.Stdout.Fd())) {
				return usageError{errors.New("refusing to write an archive to a terminal: use -o or redirect")}
			}
			return e.ContainerExport(args[0], w)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to a file")
	return c
}

// cpCommand copies between a container and the host.
func cpCommand(g *globals) *cobra.Command {
	var archive, follow bool
	c := &cobra.Command{
		Use:   "cp CONTAINER:SRC_PATH DEST_PATH | SRC_PATH CONTAINER:DEST_PATH",
		Short: "Copy files between a container and the host",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			srcC, srcP, srcIn := strings.Cut(args[0], ":")
			dstC, dstP, dstIn := strings.Cut(args[1], ":")
			if srcIn == dstIn {
				return usageError{fmt.Errorf("copying between containers, or between host paths, is not supported: one side is CONTAINER:PATH")}
			}
			// - is a tar on stdout or stdin, as Docker's.
			switch {
			case srcIn && args[1] == "-":
				if term.IsTerminal(int(os.Stdout.Fd())) {
					return usageError{errors.New("refusing to write an archive to a terminal: redirect it")}
				}
				return e.ContainerArchive(srcC, srcP, os.Stdout)
			case srcIn:
				return e.ContainerCopyFrom(srcC, srcP, args[1], engine.CopyOptions{FollowLink: follow})
			case args[0] == "-":
				return e.ContainerExtract(dstC, dstP, os.Stdin, engine.ExtractOptions{})
			}
			return e.ContainerCopyToWith(dstC, args[0], dstP, engine.CopyOptions{KeepOwner: archive, FollowLink: follow})
		},
	}
	c.Flags().BoolVarP(&archive, "archive", "a", false, "archive mode: keep the owners (uid/gid) of what is copied in")
	c.Flags().BoolVarP(&follow, "follow-link", "L", false, "always follow a symbolic link in SRC_PATH")
	// berth prints no progress, so there is nothing to suppress.
	c.Flags().BoolP("quiet", "q", false, "suppress progress output (berth prints none)")
	return c
}
