package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func addSystemCommands(root *cobra.Command, g *globals) {
	systemCmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	systemCmd.AddCommand(dfCommand(g), eventsCommand(g), serveCommand(g, "service"))
	root.AddCommand(systemCmd, eventsCommand(g), serveCommand(g, "serve"))
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
				name                             string
				total, active, size, reclaimable int64
			}{
				{"Images", du.ImageUsage.TotalCount, du.ImageUsage.ActiveCount, du.ImageUsage.TotalSize, du.ImageUsage.Reclaimable},
				{"Containers", du.ContainerUsage.TotalCount, du.ContainerUsage.ActiveCount, du.ContainerUsage.TotalSize, du.ContainerUsage.Reclaimable},
				{"Local Volumes", du.VolumeUsage.TotalCount, du.VolumeUsage.ActiveCount, du.VolumeUsage.TotalSize, du.VolumeUsage.Reclaimable},
			} {
				pct := int64(0)
				if r.size > 0 {
					pct = r.reclaimable * 100 / r.size
				}
				if err := p.Row(row{r.name, int(r.total), int(r.active), format.Size(r.size), fmt.Sprintf("%s (%d%%)", format.Size(r.reclaimable), pct)}); err != nil {
					return err
				}
			}
			return p.Flush()
		},
	}
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}

// eventRow is one event for --format, with Docker's field names.
type eventRow struct {
	Type, Action, Status, ID, From, Scope string
	Actor                                 mobyevents.Actor
	Time, TimeNano                        int64
}

func eventsCommand(g *globals) *cobra.Command {
	var since, until, tmpl string
	var filters []string
	c := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Show berth's events, as they happen or between --since and --until",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			now := time.Now()
			o := engine.EventsOptions{Filters: f}
			if o.Since, err = engine.ParseTime(since, now); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if o.Until, err = engine.ParseTime(until, now); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
			var p *format.Printer
			if tmpl != "" {
				if p, err = format.NewPrinter(os.Stdout, tmpl, "", nil); err != nil {
					return usageError{err}
				}
			}
			ctx, cancel := interruptible()
			defer cancel()
			return e.SystemEvents(ctx, o, func(m mobyevents.Message) error {
				if p != nil {
					return p.Row(eventRow{Type: string(m.Type), Action: string(m.Action), Status: string(m.Action), ID: m.Actor.ID,
						From: m.Actor.Attributes["image"], Scope: m.Scope, Actor: m.Actor, Time: m.Time, TimeNano: m.TimeNano})
				}
				_, err := fmt.Println(eventLine(m))
				return err
			})
		},
	}
	c.Flags().StringVar(&since, "since", "", "show events since a timestamp or a duration ago (10m)")
	c.Flags().StringVar(&until, "until", "", "stop at a timestamp or a duration ago")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: type=, event=, container=, image=, network=, volume=, label=")
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}

// eventLine is Docker's line for an event:
// TIME TYPE ACTION ID (key=value, ...), attributes sorted.
func eventLine(m mobyevents.Message) string {
	keys := make([]string, 0, len(m.Actor.Attributes))
	for k := range m.Actor.Attributes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	attrs := make([]string, len(keys))
	for i, k := range keys {
		attrs[i] = k + "=" + m.Actor.Attributes[k]
	}
	line := time.Unix(0, m.TimeNano).Format("2006-01-02T15:04:05.000000000Z07:00") + " " + string(m.Type) + " " + string(m.Action) + " " + m.Actor.ID
	if len(attrs) > 0 {
		line += " (" + strings.Join(attrs, ", ") + ")"
	}
	return line
}
