package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func inspectCommand(g *globals, use, only string) *cobra.Command {
	var tmpl, kind string
	var size bool
	c := &cobra.Command{
		Use:   use + " [OPTIONS] NAME|ID [NAME|ID...]",
		Short: "Show containers or images in detail (JSON)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			var out []any
			var firstErr error
			for _, a := range args {
				v, err := e.Inspect(a, kind)
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				if cj, ok := v.(*engine.ContainerJSON); ok && size {
					rw, rootfs, err := e.ContainerSize(cj.ID)
					if err != nil {
						return err
					}
					cj.SizeRw, cj.SizeRootFs = &rw, &rootfs
				}
				out = append(out, v)
			}
			if err := printObjects(tmpl, out); err != nil {
				return err
			}
			return firstErr
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", "Go template")
	c.Flags().StringVar(&kind, "type", only, "container, image, network or volume")
	c.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes if the type is container")
	return c
}

// printObjects prints inspect output: each object through tmpl, or all
// of them as an indented JSON array (no template, or "json").
func printObjects[T any](tmpl string, objs []T) error {
	if tmpl != "" && tmpl != "json" { // json: the array, as without a template
		return printTemplate(tmpl, objs)
	}
	if objs == nil {
		objs = []T{}
	}
	b, err := json.MarshalIndent(objs, "", "    ")
	if err != nil {
		return err
	}
	fmt.Println(string(b))
	return nil
}

// printTemplate runs a --format template over each object's JSON form,
// as Docker's inspect does, so fields are named as in the JSON
// ({{.Id}}, {{.State.Pid}}).
func printTemplate[T any](tmpl string, objs []T) error {
	p, err := format.NewPrinter(os.Stdout, tmpl, "", nil)
	if err != nil {
		return usageError{err}
	}
	for _, o := range objs {
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return err
		}
		if err := p.Row(withNumbers(v)); err != nil {
			return err
		}
	}
	return nil
}

// withNumbers turns the JSON numbers of v into int64 where they are
// whole and float64 otherwise, so that a template prints 100663296 (not
// 1.00663296e+08) and compares numbers with numbers, as on Docker's
// typed values.
func withNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		f, _ := x.Float64() // a JSON number that is not an int64 is a float
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = withNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = withNumbers(e)
		}
	}
	return v
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
func printRows[T any](tmpl, def string, headers map[string]string, rows []T) error {
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
