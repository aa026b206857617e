package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/progress"
)

func pauseCommand(g *globals, pause bool) *cobra.Command {
	use, short := "unpause", "Resume all processes of containers"
	if pause {
		use, short = "pause", "Freeze all processes of containers"
	}
	return &cobra.Command{
		Use:   use + " CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				if c.State.Status != container.Running {
					return fmt.Errorf("container %s is not running", c.Name)
				}
				if pause {
					return e.Runtime.Pause(c.ID)
				}
				return e.Runtime.Resume(c.ID)
			})
		},
	}
}

func renameCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "rename CONTAINER NEW_NAME",
		Short: "Rename a container",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			return e.Rename(c, args[1])
		},
	}
}

func topCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER",
		Short: "Show a container's processes",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			if c.State.Status != container.Running {
				return fmt.Errorf("container %s is not running", c.Name)
			}
			pids, err := e.Runtime.Pids(c.ID)
			if err != nil {
				return err
			}
			p, _ := format.NewPrinter(os.Stdout, "", "table {{.UID}}\t{{.PID}}\t{{.PPID}}\t{{.CMD}}", nil)
			for _, pid := range pids {
				p.Row(procRow(pid))
			}
			return p.Flush()
		},
	}
}

type topRow struct{ UID, PID, PPID, CMD string }

func procRow(pid int) topRow {
	dir := "/proc/" + strconv.Itoa(pid)
	r := topRow{PID: strconv.Itoa(pid)}
	status, _ := os.ReadFile(dir + "/status")
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "Uid:" {
			r.UID = f[1]
		}
		if len(f) >= 2 && f[0] == "PPid:" {
			r.PPID = f[1]
		}
	}
	cmd, _ := os.ReadFile(dir + "/cmdline")
	r.CMD = strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))
	return r
}

type statsRow struct {
	ID, Name, CPUPerc, MemUsage, MemPerc, PIDs string
}

func statsCommand(g *globals) *cobra.Command {
	var noStream bool
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
			for {
				var list []*container.Container
				if len(args) == 0 {
					all, err := e.List()
					if err != nil {
						return err
					}
					for _, c := range all {
						if c.State.Status == container.Running {
							list = append(list, c)
						}
					}
				}
				for _, a := range args {
					c, err := e.Get(a)
					if err != nil {
						return err
					}
					list = append(list, c)
				}
				before := map[string]uint64{}
				for _, c := range list {
					if s, err := e.Runtime.Stats(c.ID); err == nil {
						before[c.ID] = s.CPU.Usage.Total
					}
				}
				start := time.Now()
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(500 * time.Millisecond):
				}
				if !noStream {
					fmt.Print("\033[2J\033[H")
				}
				p, err := format.NewPrinter(os.Stdout, tmpl, "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.PIDs}}",
					map[string]string{"ID": "CONTAINER ID", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %"})
				if err != nil {
					return usageError{err}
				}
				for _, c := range list {
					s, err := e.Runtime.Stats(c.ID)
					if err != nil {
						continue
					}
					cpu := float64(s.CPU.Usage.Total-before[c.ID]) / float64(time.Since(start).Nanoseconds()) * 100
					limit := s.Memory.Usage.Limit
					if limit == 0 || limit > 1<<62 {
						limit = hostMemory()
					}
					p.Row(statsRow{ID: c.ID[:12], Name: c.Name, CPUPerc: fmt.Sprintf("%.2f%%", cpu),
						MemUsage: format.Size(int64(s.Memory.Usage.Usage)) + " / " + format.Size(int64(limit)),
						MemPerc:  fmt.Sprintf("%.2f%%", float64(s.Memory.Usage.Usage)*100/float64(limit)), PIDs: strconv.FormatUint(s.Pids.Current, 10)})
				}
				p.Flush()
				if noStream {
					return nil
				}
			}
		},
	}
	c.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	c.Flags().StringVar(&tmpl, "format", "", "Go template")
	return c
}

func hostMemory() uint64 {
	b, _ := os.ReadFile("/proc/meminfo")
	f := strings.Fields(string(b))
	if len(f) >= 2 {
		kb, _ := strconv.ParseUint(f[1], 10, 64)
		return kb << 10
	}
	return 0
}

func containerPruneCommand(g *globals) *cobra.Command {
	var yes bool
	c := &cobra.Command{
		Use:   "prune",
		Short: "Remove all stopped containers",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			fmt.Println("Deleted Containers:")
			for _, c := range list {
				if c.State.Status == container.Running || monitor.Alive(c.State.MonitorPid, c.State.MonitorStart) {
					continue
				}
				if err := e.Remove(context.Background(), c, false, false); err == nil {
					fmt.Println(c.ID)
				}
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&yes, "force", "f", false, "do not ask for confirmation")
	return c
}

func exportCommand(g *globals) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "export [OPTIONS] CONTAINER",
		Short: "Write a container's filesystem to a tar archive",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, c, err := g.container(args[0])
			if err != nil {
				return err
			}
			root, done, err := e.Rootfs(c)
			if err != nil {
				return err
			}
			defer done()
			var w io.Writer = os.Stdout
			if output != "" {
				f, err := os.Create(output)
				if err != nil {
					return err
				}
				defer f.Close()
				w = f
			} else if progress.IsTerminal(os.Stdout) {
				return usageError{fmt.Errorf("refusing to write an archive to a terminal: use -o or redirect")}
			}
			return e.Export(w, root)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to a file")
	return c
}

// cpCommand copies between a container and the host. Paths inside the
// container resolve through an os.Root on its root filesystem: a symlink
// there cannot lead the copy out to the host (CVE-2018-15664 class), and
// no program of the container runs on the host (CVE-2019-14271 class).
func cpCommand(g *globals) *cobra.Command {
	return &cobra.Command{
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
			name := srcC
			if dstIn {
				name = dstC
			}
			c, err := e.Get(name)
			if err != nil {
				return err
			}
			rootDir, done, err := e.Rootfs(c)
			if err != nil {
				return err
			}
			defer done()
			root, err := os.OpenRoot(rootDir)
			if err != nil {
				return err
			}
			defer root.Close()
			if srcIn {
				return copyOut(root, inside(srcP), args[1])
			}
			return copyIn(args[0], root, inside(dstP))
		},
	}
}

func inside(p string) string {
	p = strings.TrimPrefix(path.Clean("/"+p), "/")
	if p == "" {
		return "."
	}
	return p
}

func copyOut(root *os.Root, src, dst string) error {
	return wrapCp(copytree.Copy(root, src, copytree.Host{}, dst, copytree.Options{}))
}

func copyIn(src string, root *os.Root, dst string) error {
	return wrapCp(copytree.Copy(copytree.Host{}, src, root, dst, copytree.Options{}))
}

func wrapCp(err error) error {
	if err != nil {
		return fmt.Errorf("cp: %w", err)
	}
	return nil
}
