package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func volumeCommand(g *globals) *cobra.Command {
	v := &cobra.Command{Use: "volume", Short: "Manage volumes"}
	var labels []string
	create := &cobra.Command{
		Use:   "create [OPTIONS] [VOLUME]",
		Short: "Create a volume",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			l := map[string]string{}
			for _, kv := range labels {
				k, val, _ := strings.Cut(kv, "=")
				l[k] = val
			}
			vol, err := e.Volumes.Create(name, l)
			if err != nil {
				return err
			}
			fmt.Println(vol.Name)
			return nil
		},
	}
	create.Flags().StringArrayVarP(&labels, "label", "l", nil, "set metadata")
	create.Flags().StringP("driver", "d", "local", "volume driver (local only)")

	var quiet bool
	var tmpl string
	ls := &cobra.Command{
		Use:     "ls [OPTIONS]",
		Aliases: []string{"list"},
		Short:   "List volumes",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			vols, err := e.Volumes.List()
			if err != nil {
				return err
			}
			def := "table {{.Driver}}\t{{.Name}}"
			if quiet {
				def = "{{.Name}}"
			}
			rows := make([]any, len(vols))
			for i, v := range vols {
				rows[i] = v
			}
			return printRows(tmpl, def, map[string]string{"Name": "VOLUME NAME"}, rows)
		},
	}
	ls.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display volume names")
	ls.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")

	var itmpl string
	inspect := &cobra.Command{
		Use:   "inspect [OPTIONS] VOLUME [VOLUME...]",
		Short: "Show volumes in detail (JSON)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var out []any
			for _, a := range args {
				vol, err := e.Volumes.Get(a)
				if err != nil {
					return err
				}
				out = append(out, vol)
			}
			return printObjects(itmpl, out)
		},
	}
	inspect.Flags().StringVarP(&itmpl, "format", "f", "", "Go template")

	var force bool
	rm := &cobra.Command{
		Use:     "rm [OPTIONS] VOLUME [VOLUME...]",
		Aliases: []string{"remove"},
		Short:   "Remove volumes",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			return eachName(args, func(a string) error { return e.Volumes.Remove(a, force) })
		},
	}
	rm.Flags().BoolVarP(&force, "force", "f", false, "remove even if in use")

	var all, yes bool
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused anonymous volumes (all unused ones with -a)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			names, err := e.Volumes.Prune(all)
			fmt.Println("Deleted Volumes:")
			for _, n := range names {
				fmt.Println(n)
			}
			return err
		},
	}
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too")
	prune.Flags().BoolVarP(&yes, "force", "f", false, "do not ask for confirmation")
	v.AddCommand(create, ls, inspect, rm, prune)
	return v
}

func diffCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "diff CONTAINER",
		Short: "Show the changes to a container's file system",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			changes, err := e.Changes(c)
			if err != nil {
				return err
			}
			for _, ch := range changes {
				fmt.Printf("%c %s\n", ch.Kind, ch.Path)
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
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			if len(args) == 2 {
				o.Ref = args[1]
			}
			img, err := e.Commit(context.Background(), c, o)
			if err != nil {
				return err
			}
			fmt.Println(img.ID.String())
			return nil
		},
	}
	c.Flags().StringVarP(&o.Message, "message", "m", "", "commit message")
	c.Flags().StringVarP(&o.Author, "author", "a", "", "author")
	c.Flags().StringArrayVarP(&o.Changes, "change", "c", nil, "apply a Dockerfile instruction to the image")
	c.Flags().BoolVarP(&o.Pause, "pause", "p", true, "pause the container during commit")
	return c
}

// printObjects prints inspect output: each object through tmpl, or all
// of them as an indented JSON array.
func printObjects(tmpl string, out []any) error {
	if tmpl != "" {
		return printTemplate(tmpl, out)
	}
	if out == nil {
		out = []any{}
	}
	b, err := json.MarshalIndent(out, "", "    ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// eachName runs fn for each name, as Docker's rm verbs do: the name on
// success, one error line per failure, exit 1 if any failed.
func eachName(names []string, fn func(string) error) error {
	var failed error
	for _, n := range names {
		if err := fn(n); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
			failed = exitError{1}
			continue
		}
		fmt.Println(n)
	}
	return failed
}

// printRows prints list rows through --format (tmpl) or the default
// table def, with headers naming the columns.
func printRows(tmpl, def string, headers map[string]string, rows []any) error {
	p, err := format.NewPrinter(os.Stdout, tmpl, def, headers)
	if err != nil {
		return usageError{err}
	}
	for _, r := range rows {
		if err := p.Row(r); err != nil {
			return err
		}
	}
	return p.Flush()
}
