package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
	mobysystem "github.com/moby/moby/api/types/system"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/build"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

func addSystemCommands(root *cobra.Command, g *globals) {
	systemCmd := &cobra.Command{Use: "system", Short: "Manage berth"}
	systemCmd.AddCommand(dfCommand(g), eventsCommand(g), serveCommand(g, "service"), infoCommand(g), systemPruneCommand(g))
	root.AddCommand(systemCmd, eventsCommand(g), serveCommand(g, "serve"), infoCommand(g))
}

func dfCommand(g *globals) *cobra.Command {
	var tmpl string
	var verbose bool
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
			if verbose {
				return printDiskUsage(du)
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
				{"Build Cache", du.BuildCacheUsage.TotalCount, du.BuildCacheUsage.ActiveCount, du.BuildCacheUsage.TotalSize, du.BuildCacheUsage.Reclaimable},
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
	c.Flags().BoolVarP(&verbose, "verbose", "v", false, "show detailed information on space usage")
	return c
}

// printDiskUsage is df -v: each kind's items, as Docker's tables.
func printDiskUsage(du mobysystem.DiskUsage) error {
	now := time.Now()
	w := tabwriter.NewWriter(os.Stdout, 0, 8, 3, ' ', 0)
	line := func(cells ...string) { _, _ = fmt.Fprintln(w, strings.Join(cells, "\t")) } // a tabwriter: its Flush reports
	fmt.Println("Images space usage:")
	fmt.Println()
	line("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS")
	for _, img := range du.ImageUsage.Items {
		repo, tag := "<none>", "<none>"
		if len(img.RepoTags) > 0 {
			if i := strings.LastIndexByte(img.RepoTags[0], ':'); i > 0 {
				repo, tag = img.RepoTags[0][:i], img.RepoTags[0][i+1:]
			}
		}
		line(repo, tag, strings.TrimPrefix(img.ID, "sha256:")[:12], format.Ago(time.Unix(img.Created, 0), now), format.Size(img.Size),
			format.Size(max(img.SharedSize, 0)), format.Size(img.Size-max(img.SharedSize, 0)), strconv.FormatInt(img.Containers, 10))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("\nContainers space usage:")
	fmt.Println()
	line("CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES")
	for _, c := range du.ContainerUsage.Items {
		vols := 0
		for _, m := range c.Mounts {
			if m.Type == "volume" {
				vols++
			}
		}
		name := ""
		if len(c.Names) > 0 {
			name = strings.TrimPrefix(c.Names[0], "/")
		}
		line(c.ID[:12], c.Image, strconv.Quote(c.Command), strconv.Itoa(vols), format.Size(c.SizeRw), format.Ago(time.Unix(c.Created, 0), now), c.Status, name)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("\nLocal Volumes space usage:")
	fmt.Println()
	line("VOLUME NAME", "LINKS", "SIZE")
	for _, v := range du.VolumeUsage.Items {
		var links, size int64
		if v.UsageData != nil {
			links, size = v.UsageData.RefCount, v.UsageData.Size
		}
		line(v.Name, strconv.FormatInt(links, 10), format.Size(size))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Println("\nBuild cache usage:", format.Size(du.BuildCacheUsage.TotalSize))
	fmt.Println()
	line("CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED")
	for _, r := range du.BuildCacheUsage.Items {
		line(r.ID, r.Type, format.Size(r.Size), format.Ago(r.CreatedAt, now), "", strconv.Itoa(r.UsageCount), strconv.FormatBool(r.Shared))
	}
	return w.Flush()
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

// infoCommand is info and system info: the engine and its host, as
// Docker's.
func infoCommand(g *globals) *cobra.Command {
	var tmpl string
	c := &cobra.Command{
		Use:   "info [OPTIONS]",
		Short: "Display system-wide information",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			in, err := e.SystemInfo()
			if err != nil {
				return err
			}
			if tmpl != "" {
				p, err := format.NewPrinter(os.Stdout, tmpl, "", nil)
				if err != nil {
					return usageError{err}
				}
				if err := p.Row(in); err != nil {
					return err
				}
				return p.Flush()
			}
			fmt.Printf(`Client:
 Version:    %s
 Context:    default

Server:
 Containers: %d
  Running: %d
  Paused: %d
  Stopped: %d
 Images: %d
 Server Version: %s
 Storage Driver: %s
 Logging Driver: %s
 Cgroup Driver: %s
 Cgroup Version: %s
 Runtimes: %s
 Default Runtime: %s
 Security Options:%s
 Kernel Version: %s
 Operating System: %s
 OSType: %s
 Architecture: %s
 CPUs: %d
 Total Memory: %s
 Name: %s
 ID: %s
 Docker Root Dir: %s
`, engine.Version, in.Containers, in.ContainersRunning, in.ContainersPaused, in.ContainersStopped, in.Images, in.ServerVersion,
				in.Driver, in.LoggingDriver, in.CgroupDriver, in.CgroupVersion, strings.Join(sortedKeys(in.Runtimes), " "), in.DefaultRuntime,
				securityOptions(in.SecurityOptions), in.KernelVersion, in.OperatingSystem, in.OSType, in.Architecture, in.NCPU, format.BinarySize(in.MemTotal), in.Name, in.ID, in.DockerRootDir)
			for _, w := range in.Warnings {
				fmt.Fprintln(os.Stderr, "WARNING: "+w)
			}
			return nil
		},
	}
	c.Flags().StringVarP(&tmpl, "format", "f", "", "Go template, or json")
	return c
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// systemPruneCommand removes what nothing uses: stopped containers,
// networks no container is on, dangling images (all unused ones with
// -a), the build cache, and with --volumes anonymous volumes no
// container uses.
func systemPruneCommand(g *globals) *cobra.Command {
	var force, all, volumes bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove unused data",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			what := []string{"all stopped containers", "all networks not used by at least one container"}
			if volumes {
				what = append(what, "all anonymous volumes not used by at least one container")
			}
			if all {
				what = append(what, "all images without at least one container associated to them")
			} else {
				what = append(what, "all dangling images")
			}
			what = append(what, "unused build cache")
			return g.with(func(e *engine.Engine) error {
				if !confirmWarning(force, "WARNING! This will remove:\n  - "+strings.Join(what, "\n  - ")+"\n") {
					return nil
				}
				return systemPrune(e, f, all, volumes)
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not prompt for confirmation")
	c.Flags().BoolVarP(&all, "all", "a", false, "remove all unused images, not just dangling ones")
	c.Flags().BoolVar(&volumes, "volumes", false, "prune anonymous volumes")
	c.Flags().StringArrayVar(&filters, "filter", nil, "filter: until=, label=, label!=")
	return c
}

func systemPrune(e *engine.Engine, f engine.Filters, all, volumes bool) error {
	var freed uint64
	list := func(title string, names []string) {
		if len(names) == 0 {
			return
		}
		fmt.Println(title)
		for _, n := range names {
			fmt.Println(n)
		}
		fmt.Println()
	}
	cr, err := e.ContainersPrune(context.Background(), f)
	if err != nil {
		return err
	}
	list("Deleted Containers:", cr.ContainersDeleted)
	freed += cr.SpaceReclaimed
	nr, err := e.NetworksPrune(f)
	if err != nil {
		return err
	}
	list("Deleted Networks:", nr.NetworksDeleted)
	if volumes {
		// Anonymous ones only, as Docker's system prune; labels filter them.
		vf := engine.Filters{}
		for k, v := range f {
			if k == "label" || k == "label!" {
				vf[k] = v
			}
		}
		vr, err := e.VolumesPrune(vf)
		if err != nil {
			return err
		}
		list("Deleted Volumes:", vr.VolumesDeleted)
		freed += vr.SpaceReclaimed
	}
	imf := engine.Filters{}
	for k, v := range f {
		imf[k] = v
	}
	if all {
		imf["dangling"] = []string{"false"}
	}
	ir, err := e.ImagesPrune(imf)
	if err != nil {
		return err
	}
	var images []string
	for _, d := range ir.ImagesDeleted {
		if d.Untagged != "" {
			images = append(images, "untagged: "+d.Untagged)
		}
		if d.Deleted != "" {
			images = append(images, "deleted: "+d.Deleted)
		}
	}
	list("Deleted Images:", images)
	freed += ir.SpaceReclaimed
	br, err := build.Prune(e, build.PruneOptions{})
	if err != nil {
		return err
	}
	if br.Entries > 0 {
		fmt.Printf("Deleted build cache objects: %d\n\n", br.Entries)
	}
	fmt.Println("Total reclaimed space:", format.Size(int64(freed)))
	return nil
}

// securityOptions lays out info's options as Docker's CLI does:
// "name=seccomp,profile=builtin" is "seccomp" with "Profile: builtin".
func securityOptions(opts []string) string {
	var b strings.Builder
	for _, o := range opts {
		for i, kv := range strings.Split(o, ",") {
			k, v, _ := strings.Cut(kv, "=")
			switch {
			case i == 0 && k == "name":
				b.WriteString("\n  " + v)
			case len(k) > 0:
				b.WriteString("\n   " + strings.ToUpper(k[:1]) + k[1:] + ": " + v)
			}
		}
	}
	return b.String()
}
