package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/trace"
)

// Docker's exit codes for run: 125 when berth fails, 126 when the
// command cannot be invoked, 127 when it is not found.
const exitRunFailed = 125

func (g *globals) engine() (*engine.Engine, error) { return engine.Open(g.root, g.runRoot) }

// container opens the engine and finds ref in it.
func (g *globals) container(ref string) (*engine.Engine, *container.Container, error) {
	e, err := g.engine()
	if err != nil {
		return nil, nil, err
	}
	c, err := e.Get(ref)
	return e, c, err
}

// createFromFlags is create's work, shared by run.
func createFromFlags(g *globals, f *createFlags, cmd *cobra.Command, args []string) (*engine.Engine, *container.Container, error) {
	e, err := g.engine()
	if err != nil {
		return nil, nil, runError{exitRunFailed, err}
	}
	ctr, err := createIn(e, "", f, cmd, args)
	return e, ctr, err
}

// createIn creates a container with the given ID ("": a new one).
func createIn(e *engine.Engine, id string, f *createFlags, cmd *cobra.Command, args []string) (*container.Container, error) {
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, err
	}
	o.ID = id
	ctx, cancel := interruptible()
	defer cancel()
	trace.Phase("cli", "create")
	ctr, err := e.Create(ctx, o)
	trace.Phase("cli", "created")
	if err != nil {
		return nil, runError{exitRunFailed, err}
	}
	return ctr, nil
}

// runError carries run's exit code with its message.
type runError struct {
	code int
	err  error
}

func (e runError) Error() string { return e.err.Error() }

// createFlags are the flags of create and run.
type createFlags struct {
	name, user, workdir, hostname, entrypoint, network, stopSignal, memory, restart string
	memorySwap, cpusetCpus                                                          string
	pid, ipc, uts, userns, detachKeys, ip, domainname, uidmap                       string
	env, envFile, labels, capAdd, capDrop, securityOpt, volumes, tmpfs, mounts      []string
	devices, ulimits, logOpts, publish, aliases, dns, dnsSearch, dnsOpts, addHosts  []string
	rm, readOnly, privileged, tty, interactive, noPull, init, detach, publishAll    bool
	pidsLimit, cpuShares                                                            int64
	stopTimeout                                                                     int
	cpus                                                                            float64
	rf                                                                              registryFlags
}

func (f *createFlags) add(c *cobra.Command) {
	fl := c.Flags()
	fl.SetInterspersed(false)                    // flags after the image belong to the command
	fl.Bool("help", false, "help for "+c.Name()) // -h is --hostname, as in Docker
	fl.StringVar(&f.name, "name", "", "container name")
	fl.StringVarP(&f.user, "user", "u", "", "user[:group] to run as")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory inside the container")
	fl.StringVarP(&f.hostname, "hostname", "h", "", "container host name")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's ENTRYPOINT")
	fl.StringVar(&f.network, "network", "bridge", "network: bridge, a network's name, none, host or container:NAME")
	fl.StringVar(&f.network, "net", "bridge", "network (alias of --network)")
	fl.MarkHidden("net")
	fl.StringArrayVarP(&f.publish, "publish", "p", nil, "publish a port: [IP:][HOST-PORT:]CONTAINER-PORT[/tcp|udp]")
	fl.BoolVarP(&f.publishAll, "publish-all", "P", false, "publish all exposed ports to random host ports")
	fl.StringVar(&f.ip, "ip", "", "IPv4 address on a user-defined network")
	fl.StringArrayVar(&f.aliases, "network-alias", nil, "another name for the container on its network")
	fl.StringArrayVar(&f.dns, "dns", nil, "DNS server")
	fl.StringArrayVar(&f.dnsSearch, "dns-search", nil, "DNS search domain")
	fl.StringArrayVar(&f.dnsOpts, "dns-option", nil, "DNS resolver option")
	fl.StringArrayVar(&f.addHosts, "add-host", nil, "add a host entry: NAME:IP (IP may be host-gateway)")
	fl.StringVar(&f.domainname, "domainname", "", "container NIS domain name")
	fl.StringVar(&f.stopSignal, "stop-signal", "", "signal that stops the container")
	fl.StringVar(&f.restart, "restart", "no", "restart policy: no, on-failure[:N], always, unless-stopped")
	fl.StringVarP(&f.memory, "memory", "m", "", "memory limit (e.g. 64m)")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set environment variables")
	fl.StringArrayVarP(&f.labels, "label", "l", nil, "set metadata")
	fl.StringArrayVar(&f.capAdd, "cap-add", nil, "add Linux capabilities")
	fl.StringArrayVar(&f.capDrop, "cap-drop", nil, "drop Linux capabilities")
	fl.StringArrayVar(&f.securityOpt, "security-opt", nil, "no-new-privileges, seccomp=unconfined|PROFILE.json")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind mount HOST-PATH:CONTAINER-PATH[:ro]")
	fl.StringArrayVar(&f.tmpfs, "tmpfs", nil, "mount a tmpfs: CONTAINER-PATH[:OPTIONS]")
	fl.BoolVar(&f.rm, "rm", false, "remove the container when it exits")
	fl.BoolVar(&f.readOnly, "read-only", false, "mount the root filesystem read-only")
	fl.BoolVar(&f.privileged, "privileged", false, "give every capability the host can grant, no seccomp, no masked paths")
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open even if not attached")
	fl.BoolVar(&f.init, "init", false, "run a tiny init as PID 1 that forwards signals and reaps zombies")
	fl.StringArrayVar(&f.envFile, "env-file", nil, "read environment variables from a file")
	fl.StringArrayVar(&f.mounts, "mount", nil, "attach a mount: type=bind|volume|tmpfs,source=…,target=…[,readonly]")
	fl.StringArrayVar(&f.devices, "device", nil, "add a host device: HOST[:CONTAINER][:rwm]")
	fl.StringArrayVar(&f.ulimits, "ulimit", nil, "ulimit: NAME=SOFT[:HARD]")
	fl.StringArrayVar(&f.logOpts, "log-opt", nil, "log options: max-size=SIZE, max-file=N")
	fl.StringVar(&f.pid, "pid", "", "PID namespace: host or container:NAME")
	fl.StringVar(&f.ipc, "ipc", "", "IPC namespace: host or container:NAME")
	fl.StringVar(&f.uts, "uts", "", "UTS namespace: host")
	fl.StringVar(&f.uidmap, "uidmap", "", "run in a user namespace mapping container IDs 0:HOST-ID:SIZE (users and groups)")
	fl.StringVar(&f.userns, "userns", "", "user namespace: host (the default), auto or auto:size=N (a host ID range of its own)")
	fl.IntVar(&f.stopTimeout, "stop-timeout", 0, "seconds to wait for the stop signal before killing")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "process limit")
	fl.StringVar(&f.memorySwap, "memory-swap", "", "memory plus swap limit (-1: unlimited swap)")
	fl.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU limit")
	f.rf.add(c)
}

func (f *createFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	mem, err := container.ParseBytes(f.memory)
	if err != nil {
		return engine.CreateOptions{}, usageError{fmt.Errorf("--memory: %w", err)}
	}
	var swap int64
	if f.memorySwap == "-1" {
		swap = -1
	} else if swap, err = container.ParseBytes(f.memorySwap); err != nil {
		return engine.CreateOptions{}, usageError{fmt.Errorf("--memory-swap: %w", err)}
	}
	if swap > 0 && (mem == 0 || swap < mem) {
		return engine.CreateOptions{}, usageError{errors.New("--memory-swap must be at least --memory, which it needs")}
	}
	if f.cpuShares < 0 {
		return engine.CreateOptions{}, usageError{errors.New("--cpu-shares must not be negative")}
	}
	if err != nil {
		return engine.CreateOptions{}, usageError{fmt.Errorf("--memory: %w", err)}
	}
	restart, err := container.ParseRestart(f.restart)
	if err != nil {
		return engine.CreateOptions{}, usageError{err}
	}
	var env []string
	for _, file := range f.envFile {
		kvs, err := readEnvFile(file)
		if err != nil {
			return engine.CreateOptions{}, usageError{err}
		}
		env = append(env, kvs...)
	}
	env = append(env, f.env...)
	for i, kv := range env {
		if !strings.Contains(kv, "=") { // -e NAME takes the caller's value
			env[i] = kv + "=" + os.Getenv(kv)
		}
	}
	labels := map[string]string{}
	for _, l := range f.labels {
		k, v, _ := strings.Cut(l, "=")
		labels[k] = v
	}
	o := engine.CreateOptions{
		Name: f.name, Image: args[0], Args: args[1:], Env: env, User: f.user, WorkingDir: f.workdir,
		Hostname: f.hostname, Labels: labels, StopSignal: f.stopSignal,
		Host: container.Host{AutoRemove: f.rm, ReadonlyRootfs: f.readOnly, Privileged: f.privileged, CapAdd: f.capAdd,
			CapDrop: f.capDrop, SecurityOpt: f.securityOpt, NetworkMode: f.network, Memory: mem, PidsLimit: f.pidsLimit,
			NanoCPUs: int64(f.cpus * 1e9), Binds: f.volumes, Tmpfs: tmpfsMap(f.tmpfs), Restart: restart,
			Devices: f.devices, Ulimits: f.ulimits, PidMode: f.pid, IpcMode: f.ipc, UTSMode: f.uts, UsernsMode: f.userns, Init: f.init,
			MemorySwap: swap, CPUShares: uint64(f.cpuShares), CpusetCpus: f.cpusetCpus,
			Publish: f.publish, PublishAll: f.publishAll, DNS: f.dns, DNSSearch: f.dnsSearch, DNSOptions: f.dnsOpts, ExtraHosts: f.addHosts},
		IP: f.ip, Aliases: f.aliases, Domainname: f.domainname,
		Mounts: f.mounts, Tty: f.tty, OpenStdin: f.interactive, StdinOnce: f.interactive && !f.detach && cmd.Name() == "run",
		Pull: &image.PullOptions{RegistryOptions: f.rf.options(), Progress: reporter(false)},
	}
	if cmd.Flags().Changed("stop-timeout") {
		o.StopTimeout = &f.stopTimeout
	}

	if f.uidmap != "" {
		r, err := idmap.ParseMap(f.uidmap)
		if err != nil {
			return o, usageError{err}
		}
		if f.userns != "" {
			return o, usageError{errors.New("--uidmap and --userns are exclusive")}
		}
		o.Host.IDMap = &r
	}
	if f.uts != "" && f.uts != "host" {
		return o, usageError{fmt.Errorf("--uts %q: want host", f.uts)}
	}
	for _, lo := range f.logOpts {
		k, v, _ := strings.Cut(lo, "=")
		switch k {
		case "max-size":
			n, err := container.ParseBytes(v)
			if err != nil || n == 0 {
				return o, usageError{fmt.Errorf("--log-opt %q: invalid size", lo)}
			}
			o.Host.LogMaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return o, usageError{fmt.Errorf("--log-opt %q: want a count of at least 1", lo)}
			}
			o.Host.LogMaxFiles = n
		default:
			return o, usageError{fmt.Errorf("--log-opt %q: unknown option (max-size, max-file)", lo)}
		}
	}
	if cmd.Flags().Changed("entrypoint") { // "--entrypoint ''" clears it
		ep := f.entrypoint
		o.Entrypoint = &ep
	}
	return o, nil
}

func createCommand(g *globals) *cobra.Command {
	var f createFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, ctr, err := createFromFlags(g, &f, cmd, args)
			if err != nil {
				return err
			}
			fmt.Println(ctr.ID)
			return nil
		},
	}
	f.add(c)
	return c
}

func runCommand(g *globals) *cobra.Command {
	var f createFlags
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return runError{exitRunFailed, err}
			}
			// The monitor starts first, and boots while create works.
			id := container.NewID()
			var l *engine.Launch
			var ours *os.File
			if f.detach {
				l, err = e.Launch(id, nil)
			} else {
				l, ours, err = launchAttached(e, id)
			}
			if err != nil {
				return runError{exitRunFailed, err}
			}
			ctr, err := createIn(e, id, &f, cmd, args)
			if err != nil {
				l.Abort()
				if ours != nil {
					ours.Close()
				}
				return err
			}
			if !f.detach {
				err := runAttached(e, ctr, l, ours, stdioOptions{stdin: f.interactive, detachKeys: f.detachKeys, sigProxy: true})
				var ee exitError
				if err != nil && !errors.As(err, &ee) {
					return startFailed(e, ctr, f.rm, err)
				}
				return err
			}
			mon, err := e.Go(l)
			if err != nil {
				return startFailed(e, ctr, f.rm, err)
			}
			mon.Release()
			fmt.Println(ctr.ID)
			return nil
		},
	}
	f.add(c)
	c.Flags().BoolVarP(&f.detach, "detach", "d", false, "run in the background and print the container ID")
	c.Flags().StringVar(&f.detachKeys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}

// startFailed is run's exit after a failed start: the container's code
// (126, 127) when it has one, else 125; with --rm nothing stays.
func startFailed(e *engine.Engine, c *container.Container, rm bool, err error) error {
	code := exitRunFailed
	if cur, lerr := e.Containers.Load(c.ID); lerr == nil && cur.State.ExitCode != 0 {
		code = cur.State.ExitCode
	}
	if rm {
		e.Remove(context.Background(), c, true, true)
	}
	return runError{code, err}
}

// logReader prints json-file entries to stdout and stderr.
type logReader struct {
	f            *os.File
	partial      []byte
	stamps       bool
	since, until time.Time // zero: no bound
}

// logTime reads --since/--until: RFC 3339, Unix seconds, or a duration
// before now.
func logTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(f*1e9)), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a timestamp (RFC 3339 or Unix seconds) or a duration (10m)", s)
}

func newLogReader(f *os.File) *logReader { return &logReader{f: f} }

// drain prints every complete line written so far.
func (l *logReader) drain() {
	buf := make([]byte, 64<<10)
	for {
		n, err := l.f.Read(buf)
		l.partial = append(l.partial, buf[:n]...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			l.print(l.partial[:i])
			l.partial = l.partial[i+1:]
		}
		if n == 0 || err != nil {
			return
		}
	}
}

func (l *logReader) print(line []byte) {
	var e stdio.LogEntry
	if json.Unmarshal(line, &e) != nil {
		return
	}
	if !l.since.IsZero() && e.Time.Before(l.since) || !l.until.IsZero() && !e.Time.Before(l.until) {
		return
	}
	out := os.Stdout
	if e.Stream == "stderr" {
		out = os.Stderr
	}
	if l.stamps {
		fmt.Fprint(out, e.Time.Format(time.RFC3339Nano)+" ")
	}
	io.WriteString(out, e.Log)
}

func startCommand(g *globals) *cobra.Command {
	var attachOut, interactive bool
	var keys string
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			if (attachOut || interactive) && len(args) > 1 {
				return usageError{errors.New("you cannot start and attach multiple containers at once")}
			}
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				if attachOut || interactive {
					return startAttached(e, ctr, stdioOptions{stdin: interactive, detachKeys: keys, sigProxy: true})
				}
				mon, err := e.Start(ctr, nil)
				if err != nil {
					return err
				}
				if mon != nil {
					mon.Release()
				}
				fmt.Println(a)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&attachOut, "attach", "a", false, "attach to the output and exit with the container")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "attach the container's STDIN")
	c.Flags().StringVar(&keys, "detach-keys", "", "key sequence for detaching (default ctrl-p,ctrl-q)")
	return c
}

type psRow struct {
	ID, Image, Command, CreatedAt, RunningFor, Status, Ports, Names, State string
}

func psCommand(g *globals) *cobra.Command {
	var all, quiet, noTrunc bool
	var tmpl string
	var filters []string
	c := &cobra.Command{
		Use:     "ps [OPTIONS]",
		Aliases: []string{"ls"},
		Short:   "List containers",
		Args:    cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			list, err := e.List()
			if err != nil {
				return err
			}
			def := "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
			if quiet {
				def = "{{.ID}}"
			}
			p, err := format.NewPrinter(os.Stdout, tmpl, def, map[string]string{"ID": "CONTAINER ID", "RunningFor": "CREATED", "CreatedAt": "CREATED AT"})
			if err != nil {
				return usageError{err}
			}
			now := time.Now()
			for _, ctr := range list {
				if !all && ctr.State.Status != container.Running {
					continue
				}
				if !matchPs(ctr, filters) {
					continue
				}
				cmd := strings.Join(append(append([]string(nil), ctr.Config.Entrypoint...), ctr.Config.Cmd...), " ")
				id := ctr.ID
				if !noTrunc {
					id = id[:12]
					if len(cmd) > 20 {
						cmd = cmd[:19] + "…"
					}
				}
				row := psRow{ID: id, Image: ctr.ImageName, Command: strconv.Quote(cmd), Names: ctr.Name, State: ctr.State.Status,
					CreatedAt: ctr.Created.Format("2006-01-02 15:04:05 -0700 MST"), RunningFor: format.Ago(ctr.Created, now)}
				switch ctr.State.Status {
				case container.Running:
					row.Status = "Up " + format.Duration(now.Sub(ctr.State.StartedAt))
				case container.Exited:
					row.Status = fmt.Sprintf("Exited (%d) %s", ctr.State.ExitCode, format.Ago(ctr.State.FinishedAt, now))
					if monitor.Alive(ctr.State.MonitorPid, ctr.State.MonitorStart) {
						row.Status = fmt.Sprintf("Restarting (%d) %s", ctr.State.ExitCode, format.Ago(ctr.State.FinishedAt, now))
					}
				default:
					row.Status = "Created"
				}
				var ports []string
				for _, bp := range e.Ports(ctr) {
					ports = append(ports, engine.FormatPort(bp))
				}
				row.Ports = strings.Join(ports, ", ")
				if err := p.Row(row); err != nil {
					return err
				}
			}
			return p.Flush()
		},
	}
	c.Flags().BoolVarP(&all, "all", "a", false, "show all containers (default shows just running)")
	c.Flags().BoolVarP(&quiet, "quiet", "q", false, "only display container IDs")
	c.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	c.Flags().StringVar(&tmpl, "format", "", "Go template, or 'table TEMPLATE'")
	c.Flags().StringArrayVarP(&filters, "filter", "f", nil, "filter: name=, id=, status=, label=")
	return c
}

func matchPs(c *container.Container, filters []string) bool {
	for _, f := range filters {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "name":
			if !strings.Contains(c.Name, v) {
				return false
			}
		case "id":
			if !strings.HasPrefix(c.ID, v) {
				return false
			}
		case "status":
			if c.State.Status != v {
				return false
			}
		case "label":
			lk, lv, hasV := strings.Cut(v, "=")
			if got, ok := c.Config.Labels[lk]; !ok || (hasV && got != lv) {
				return false
			}
		}
	}
	return true
}

func logsCommand(g *globals) *cobra.Command {
	var follow, stamps bool
	var tail, since, until string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, ctr, err := g.container(args[0])
			if err != nil {
				return err
			}
			r := &logReader{stamps: stamps}
			if r.since, err = logTime(since); err != nil {
				return usageError{fmt.Errorf("--since: %w", err)}
			}
			if r.until, err = logTime(until); err != nil {
				return usageError{fmt.Errorf("--until: %w", err)}
			}
			var lines [][]byte
			for _, p := range stdio.LogFiles(e.LogPath(ctr), stdio.LogOptions{MaxFiles: ctr.Host.LogMaxFiles}) {
				b, err := os.ReadFile(p)
				if err != nil {
					continue
				}
				for _, l := range strings.SplitAfter(string(b), "\n") {
					if strings.HasSuffix(l, "\n") {
						lines = append(lines, []byte(strings.TrimSuffix(l, "\n")))
					}
				}
			}
			if n, err := strconv.Atoi(tail); err == nil && n >= 0 && n < len(lines) {
				lines = lines[len(lines)-n:]
			}
			for _, l := range lines {
				r.print(l)
			}
			if !follow || ctr.State.Status != container.Running {
				return nil
			}
			f, err := os.Open(e.LogPath(ctr))
			if err != nil {
				return err
			}
			defer f.Close()
			f.Seek(0, io.SeekEnd)
			r.f = f
			ctx, cancel := interruptible()
			defer cancel()
			for {
				r.drain()
				cur, err := e.Containers.Load(ctr.ID)
				if err != nil || cur.State.Status != container.Running {
					r.drain()
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(50 * time.Millisecond):
				}
			}
		},
	}
	c.Flags().BoolVarP(&follow, "follow", "f", false, "follow the output")
	c.Flags().BoolVarP(&stamps, "timestamps", "t", false, "show timestamps")
	c.Flags().StringVarP(&tail, "tail", "n", "all", "lines from the end")
	c.Flags().StringVar(&since, "since", "", "show logs since a timestamp (RFC 3339, Unix seconds) or a duration ago (10m)")
	c.Flags().StringVar(&until, "until", "", "show logs before a timestamp or a duration ago")
	return c
}

// eachContainer runs fn on each named container, printing the name on
// success as Docker does, and fails with the last error.
func eachContainer(g *globals, args []string, fn func(*engine.Engine, *container.Container) error) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	return eachName(args, func(a string) error {
		ctr, err := e.Get(a)
		if err != nil {
			return err
		}
		return fn(e, ctr)
	})
}

func stopCommand(g *globals) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop containers: the stop signal, then SIGKILL after the timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				return e.Stop(context.Background(), c, stopTimeout(c, timeout, cmd.Flags().Changed("time")))
			})
		},
	}
	c.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing")
	return c
}

func killCommand(g *globals) *cobra.Command {
	var sig string
	c := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Send a signal to containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			s, err := runtime.ParseSignal(sig)
			if err != nil {
				return usageError{err}
			}
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error { return e.Kill(c, s) })
		},
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return c
}

func rmCommand(g *globals) *cobra.Command {
	var force, volumes bool
	c := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				return e.Remove(context.Background(), c, force, volumes)
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
	c.Flags().BoolVarP(&volumes, "volumes", "v", false, "remove the container's anonymous volumes")
	return c
}

func waitCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Wait for containers to stop and print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			ctx, cancel := interruptible()
			defer cancel()
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				code, err := e.Wait(ctx, ctr)
				if err != nil {
					return err
				}
				fmt.Println(code)
			}
			return nil
		},
	}
}

func execCommand(g *globals) *cobra.Command {
	var detach, interactive, tty bool
	var user, workdir string
	var env []string
	c := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Run a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return runError{exitRunFailed, err}
			}
			ctr, err := e.Get(args[0])
			if err != nil {
				return runError{exitRunFailed, err}
			}
			if ctr.State.Status != container.Running {
				return runError{exitRunFailed, fmt.Errorf("container %s is not running", ctr.Name)}
			}
			base, err := e.Runtime.ContainerProcess(ctr.ID)
			if err != nil {
				return runError{exitRunFailed, err}
			}
			p := *base
			p.Args, p.Terminal = args[1:], tty
			p.Env = append(append([]string(nil), base.Env...), env...)
			if workdir != "" {
				p.Cwd = workdir
			}
			if user != "" {
				u, err := container.ResolveUser(rootfsOf(e, ctr), user)
				if err != nil {
					return runError{exitRunFailed, err}
				}
				p.User = u
			}
			o := runtime.ExecOptions{Process: &p, Detach: detach}
			if !interactive || detach {
				devNull, err := os.Open(os.DevNull)
				if err != nil {
					return runError{exitRunFailed, err}
				}
				defer devNull.Close()
				o.Stdin = devNull
			}
			if tty {
				if !detach {
					p.ConsoleSize = consoleSize()
				}
				stop, err := execConsole(&o, interactive && !detach)
				if err != nil {
					return runError{exitRunFailed, err}
				}
				defer stop()
			}
			code, err := e.Runtime.Exec(ctr.ID, o)
			if err != nil {
				var ie *runtime.InitError
				if errors.As(err, &ie) && ie.Code != 0 {
					return runError{ie.Code, err}
				}
				return runError{exitRunFailed, err}
			}
			return exitError{code}
		},
	}
	c.Flags().SetInterspersed(false)
	c.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background")
	c.Flags().BoolVarP(&interactive, "interactive", "i", false, "keep STDIN open")
	c.Flags().BoolVarP(&tty, "tty", "t", false, "allocate a pseudo-TTY")
	c.Flags().StringVarP(&user, "user", "u", "", "user[:group]")
	c.Flags().StringVarP(&workdir, "workdir", "w", "", "working directory")
	c.Flags().StringArrayVarP(&env, "env", "e", nil, "environment variables")
	return c
}

func rootfsOf(e *engine.Engine, c *container.Container) string {
	return e.Containers.Dir(c.ID) + "/merged"
}

func tmpfsMap(list []string) map[string]string {
	if len(list) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, t := range list {
		d, o, _ := strings.Cut(t, ":")
		m[d] = o
	}
	return m
}

// readEnvFile reads --env-file as Docker does: KEY=VALUE lines, a bare
// KEY takes the caller's value, # starts a comment line.
func readEnvFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--env-file: %w", err)
	}
	var out []string
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimLeft(strings.TrimSuffix(line, "\r"), " \t")
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, _, hasV := strings.Cut(line, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("--env-file %s:%d: invalid variable name %q", path, i+1, k)
		}
		if !hasV {
			v, ok := os.LookupEnv(k)
			if !ok {
				continue
			}
			line = k + "=" + v
		}
		out = append(out, line)
	}
	return out, nil
}
