package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// psRow is one row of ps, with the fields Docker's --format offers.
type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, Ports, Names, State, Networks, Mounts, Size string
	Labels                                                                                         string
	c                                                                                              mobycontainer.Summary
}

// Label is {{.Label "key"}}, as in Docker.
func (r psRow) Label(k string) string { return r.c.Labels[k] }

func psCommand(g *globals) *cobra.Command {
	var all, quiet, noTrunc, latest, size bool
	var last int
	var tmpl string
	var filters []string
	c := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls", "list"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			if latest {
				last = 1
			}
			list, err := e.ContainerList(engine.ListOptions{All: all, Filters: f, Limit: last, Size: size})
			if err != nil {
				return err
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if size {
				def += "\t{{.Size}}"
			}
			if quiet {
				def = "{{.ID}}"
			} else if tmpl == "" {
				tmpl = configFormat("psFormat")
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, def, map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"})
			if err != nil {
				return usageError{err}
			}
			now := time.Now()
			for _, s := range list {
				if err := p.Row(psRowOf(s, now, noTrunc)); err != nil {
					return err
				}
			}
			return p.Flush()
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	c.Flags().IntVarP(&last, "last", "n", -1, "show n last created containers (includes all states)")
	c.Flags().BoolVarP(&latest, "latest", "l", false, "show the latest created container (includes all states)")
	c.Flags().BoolVarP(&size, "size", "s", false, "display total file sizes")
	c.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: id, name, label, label!, status, exited, ancestor, before, since, network, volume, publish, expose")
	return c
}

func psRowOf(s mobycontainer.Summary, now time.Time, noTrunc bool) psRow {
	id, cmd := s.ID, s.Command
	if !noTrunc {
		id = id[:12]
		if len(cmd) > 20 {
			cmd = cmd[:19] + "…"
		}
	}
	created := time.Unix(s.Created, 0)
	row := psRow{ID: id, Image: s.Image, Command: strconv.Quote(cmd), State: string(s.State), Status: s.Status,
		CreatedAt: created.Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: format.Ago(created, now), c: s,
		Size: format.Size(s.SizeRw) + " (virtual " + format.Size(s.SizeRootFs) + ")"}
	var names []string
	for _, n := range s.Names {
		names = append(names, strings.TrimPrefix(n, "/"))
	}
	row.Names = strings.Join(names, ",")
	var ports []string
	for _, p := range s.Ports {
		host := "0.0.0.0"
		if p.IP.IsValid() {
			host = p.IP.String()
		}
		if p.PublicPort != 0 {
			ports = append(ports, fmt.Sprintf("%s:%d->%d/%s", host, p.PublicPort, p.PrivatePort, p.Type))
		} else {
			ports = append(ports, fmt.Sprintf("%d/%s", p.PrivatePort, p.Type))
		}
	}
	row.Ports = strings.Join(ports, ", ")
	var nets, mounts, labels []string
	if s.NetworkSettings != nil {
		for n := range s.NetworkSettings.Networks {
			nets = append(nets, n)
		}
	}
	if len(nets) == 0 && s.HostConfig.NetworkMode != "" {
		nets = append(nets, s.HostConfig.NetworkMode)
	}
	for _, m := range s.Mounts {
		if m.Name != "" {
			mounts = append(mounts, m.Name)
		} else {
			mounts = append(mounts, m.Source)
		}
	}
	for k, v := range s.Labels {
		labels = append(labels, k+"="+v)
	}
	row.Networks, row.Mounts, row.Labels = strings.Join(nets, ","), strings.Join(mounts, ","), strings.Join(labels, ",")
	return row
}
