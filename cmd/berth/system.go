package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func addSystemCommands(root *cobra.Command, g *globals) {
	systemCmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	systemCmd.AddCommand(dfCommand(g))
	root.AddCommand(systemCmd)
}

func dfCommand(g *globals) *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "df",
		Short: "Show berth's disk usage",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			du, err := e.SystemDiskUsage()
			if err != nil {
				return err
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
				map[string]string{"TotalCount": "TOTAL"})
			if err != nil {
				return usageError{err}
			}
			type row struct {
				Type               string
				TotalCount, Active int
				Size, Reclaimable  string
			}
			for _, r := range []struct {
				name string
				u    engine.DiskUsageEntry
			}{{"Images", du.Images}, {"Containers", du.Containers}, {"Local Volumes", du.Volumes}} {
				pct := int64(0)
				if r.u.Size > 0 {
					pct = r.u.Reclaimable * 100 / r.u.Size
				}
				if err := p.Row(row{r.name, r.u.Total, r.u.Active, format.Size(r.u.Size), fmt.Sprintf("%s (%d%%)", format.Size(r.u.Reclaimable), pct)}); err != nil {
					return err
				}
			}
			return p.Flush()
		},
	}
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}
