package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
)

func diffCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Show the changes to a container's file system",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			changes, err := e.ContainerChanges(args[0])
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Printf("%s %s\n", ch.Kind, ch.Path)
			}
			return nil
		},
	}
}

func commitCommand(g *globals) *cobra.Command {
	var o engine.CommitOptions
	c := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			id, err := e.ContainerCommit(context.Background(), args[0], o)
			if err != nil {
				return err
			}
			fmt.Println(id)
			return nil
		},
	}
	c.Flags().StringVarP(&o.Message, "message", "m", "", "commit message")
	c.Flags().StringVarP(&o.Author, "author", "a", "", "author")
	c.Flags().StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Dockerfile instruction to the image")
	c.Flags().BoolVarP(&o.Pause, "pause", "p", true, "pause the container during commit")
	return c
}
