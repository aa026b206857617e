package main

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
)

func logsCommand(g *globals) *cobra.Command {
	var o engine.LogsOptions
	var since, until string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			now := time.Now()
			if o.Since, err = engine.ParseTime(since, now); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if o.Until, err = engine.ParseTime(until, now); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
			ctx, cancel := interruptible()
			defer cancel()
			return e.ContainerLogs(ctx, args[0], o, os.Stdout, os.Stderr)
		},
	}
	c.Flags().BoolVarP(&o.Follow, "follow", "f", false, "follow the output")
	c.Flags().BoolVarP(&o.Timestamps, "timestamps", "t", false, "show timestamps")
	c.Flags().StringVarP(&o.Tail, "tail", "n", "all", "lines from the end")
	c.Flags().StringVar(&since, "since", "", "show logs since a timestamp (RFC 3339, Unix seconds) or a duration ago (10m)")
	c.Flags().StringVar(&until, "until", "", "show logs before a timestamp or a duration ago")
	// berth's log drivers take no attributes (labels=, env= log options),
	// so there is nothing more to show: the output is the same.
	c.Flags().Bool("details", false, "show extra details provided to logs (none: berth's log drivers take no attributes)")
	return c
}
