package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func topCommand(g *globals) *cobra.Command {
	c := &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			top, err := e.ContainerTop(args[0], strings.Join(args[1:], " "))
			if err != nil {
				return err
			}
			// The columns are ps's with options, so a table of its own.
			tw := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
			fmt.Fprintln(tw, strings.Join(top.Titles, "\t"))
			for _, proc := range top.Processes {
				fmt.Fprintln(tw, strings.Join(proc, "\t"))
			}
			return tw.Flush()
		},
	}
	c.Flags().SetInterspersed(false) // what follows CONTAINER is ps's: top web -o pid,comm
	return c
}

type statsRow struct {
	ID, Container, Name, CPUPerc, MemUsage, MemPerc, NetIO, BlockIO, PIDs string
}

// ioColumns are the NET I/O and BLOCK I/O cells of a sample: received
// and sent bytes over the container's interfaces, read and written
// bytes of its block devices.
func ioColumns(s mobycontainer.StatsResponse) (netIO, blockIO string) {
	var rx, tx, rd, wr uint64
	for _, n := range s.Networks {
		rx, tx = rx+n.RxBytes, tx+n.TxBytes
	}
	for _, b := range s.BlkioStats.IoServiceBytesRecursive {
		switch strings.ToLower(b.Op) {
		case "read":
			rd += b.Value
		case "write":
			wr += b.Value
		}
	}
	return format.Size(int64(rx)) + " / " + format.Size(int64(tx)), format.Size(int64(rd)) + " / " + format.Size(int64(wr))
}

func statsCommand(g *globals) *cobra.Command {
	var noStream, all, noTrunc bool
	var tmpl string
	c := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Show containers' resource usage",
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			if tmpl == "" {
				tmpl = configFormat("statsFormat")
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}",
				map[string]string{"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O"})
			if err != nil {
				return usageError{err}
			}
			for {
				refs := args
				if len(refs) == 0 {
					list, err := e.ContainerList(engine.ListOptions{All: all})
					if err != nil {
						return err
					}
					for _, s := range list {
						refs = append(refs, s.ID)
					}
				}
				before := map[string]mobycontainer.StatsResponse{}
				for _, r := range refs {
					if s, err := e.ContainerStats(r); err == nil {
						before[r] = s
					} else if len(args) > 0 {
						return err
					}
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				if !noStream {
					fmt.Print("\033[2J\033[H")
				}
				for _, r := range refs {
					s, err := e.ContainerStats(r)
					if err != nil {
						continue // ended meanwhile
					}
					limit := s.MemoryStats.Limit
					perc := 0.0
					if limit > 0 {
						perc = float64(s.MemoryStats.Usage) * 100 / float64(limit)
					}
					name := strings.TrimPrefix(s.Name, "/")
					id := s.ID
					if !noTrunc {
						id = id[:12]
					}
					netIO, blockIO := ioColumns(s)
					if err := p.Row(statsRow{ID: id, Container: r, Name: name, CPUPerc: fmt.Sprintf("%.2f%%", engine.CPUPercent(before[r], s)),
						MemUsage: format.Size(int64(s.MemoryStats.Usage)) + " / " + format.Size(int64(limit)),
						MemPerc:  fmt.Sprintf("%.2f%%", perc), NetIO: netIO, BlockIO: blockIO, PIDs: strconv.FormatUint(s.PidsStats.Current, 10)}); err != nil {
						return err
					}
				}
				if err := p.Flush(); err != nil {
					return err
				}
				if noStream {
					return nil
				}
			}
		},
	}
	c.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	c.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	return c
}
