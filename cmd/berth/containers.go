package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
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
	o, err := f.options(cmd, args)
	if err != nil {
		return nil, nil, err
	}
	e, err := g.engine()
	if err != nil {
		return nil, nil, runError{exitRunFailed, err}
	}
	ctx, cancel := interruptible()
	defer cancel()
	ctr, err := e.Create(ctx, o)
	if err != nil {
		return nil, nil, runError{exitRunFailed, err}
	}
	return e, ctr, nil
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
	env, labels, capAdd, capDrop, securityOpt, volumes, tmpfs                       []string
	rm, readOnly, privileged, tty, interactive, noPull                              bool
	pidsLimit                                                                       int64
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
	fl.StringVar(&f.network, "network", "none", "network: none or host (bridge networks arrive with issue 9)")
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
	fl.BoolVarP(&f.tty, "tty", "t", false, "allocate a pseudo-TTY (not yet: see README)")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep STDIN open (not yet: see README)")
	fl.Int64Var(&f.pidsLimit, "pids-limit", 0, "process limit")
	fl.Float64Var(&f.cpus, "cpus", 0, "CPU limit")
	f.rf.add(c)
}

func parseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 || strings.HasSuffix(strings.ToLower(s), "b") {
		s = strings.TrimRight(s[:len(s)-1], "bB")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

func (f *createFlags) options(cmd *cobra.Command, args []string) (engine.CreateOptions, error) {
	if f.tty || f.interactive {
		return engine.CreateOptions{}, usageError{errors.New("-i and -t are not supported yet (attach arrives later in issue 8)")}
	}
	mem, err := parseBytes(f.memory)
	if err != nil {
		return engine.CreateOptions{}, usageError{fmt.Errorf("--memory: %w", err)}
	}
	restart, err := container.ParseRestart(f.restart)
	if err != nil {
		return engine.CreateOptions{}, usageError{err}
	}
	env := append([]string(nil), f.env...)
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
			NanoCPUs: int64(f.cpus * 1e9), Binds: f.volumes, Tmpfs: tmpfsMap(f.tmpfs), Restart: restart},
		Pull: &image.PullOptions{RegistryOptions: f.rf.options(), Progress: reporter(false)},
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
	var detach bool
	c := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create and start a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, ctr, err := createFromFlags(g, &f, cmd, args)
			if err != nil {
				return err
			}
			mon, err := e.Start(ctr)
			if err != nil {
				code := exitRunFailed
				if cur, lerr := e.Containers.Load(ctr.ID); lerr == nil && cur.State.ExitCode != 0 {
					code = cur.State.ExitCode
				}
				if f.rm {
					e.Remove(context.Background(), ctr, true)
				}
				return runError{code, err}
			}
			if detach {
				mon.Release()
				fmt.Println(ctr.ID)
				return nil
			}
			return foreground(e, ctr, mon)
		},
	}
	f.add(c)
	c.Flags().BoolVarP(&detach, "detach", "d", false, "run in the background and print the container ID")
	return c
}

// foreground streams the container's log until the monitor exits, and
// exits with the container's code. Signals go to the container.
func foreground(e *engine.Engine, c *container.Container, mon *os.Process) error {
	sigc := make(chan os.Signal, 8)
	signal.Notify(sigc, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT, unix.SIGUSR1, unix.SIGUSR2)
	defer signal.Stop(sigc)
	go func() {
		for s := range sigc {
			e.Runtime.Kill(c.ID, s.(syscall.Signal), false)
		}
	}()
	done := make(chan int, 1)
	go func() {
		st, err := mon.Wait()
		if err != nil {
			done <- exitRunFailed
			return
		}
		done <- st.ExitCode()
	}()
	f, err := os.Open(e.LogPath(c))
	if err != nil {
		code := <-done
		return exitError{code}
	}
	defer f.Close()
	r := newLogReader(f)
	for {
		select {
		case code := <-done:
			r.drain()
			return exitError{code}
		case <-time.After(20 * time.Millisecond):
			r.drain()
		}
	}
}

// logReader prints json-file entries to stdout and stderr.
type logReader struct {
	f       *os.File
	partial []byte
	stamps  bool
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
	var e monitor.LogEntry
	if json.Unmarshal(line, &e) != nil {
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
	var attach bool
	c := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, err := g.engine()
			if err != nil {
				return err
			}
			for _, a := range args {
				ctr, err := e.Get(a)
				if err != nil {
					return err
				}
				mon, err := e.Start(ctr)
				if err != nil {
					return err
				}
				if attach && mon != nil {
					return foreground(e, ctr, mon)
				}
				if mon != nil {
					mon.Release()
				}
				fmt.Println(a)
			}
			return nil
		},
	}
	c.Flags().BoolVarP(&attach, "attach", "a", false, "attach to the output and exit with the container")
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
	var tail string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Show a container's output",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			e, ctr, err := g.container(args[0])
			if err != nil {
				return err
			}
			var lines [][]byte
			for _, p := range monitor.LogFiles(e.LogPath(ctr), monitor.LogOptions{}) {
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
			r := &logReader{stamps: stamps}
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
	return c
}

// eachContainer runs fn on each named container, printing the name on
// success as Docker does, and fails with the last error.
func eachContainer(g *globals, args []string, fn func(*engine.Engine, *container.Container) error) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	var failed error
	for _, a := range args {
		ctr, err := e.Get(a)
		if err == nil {
			err = fn(e, ctr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "Error:", oneLine(err))
			failed = exitError{1}
			continue
		}
		fmt.Println(a)
	}
	return failed
}

func stopCommand(g *globals) *cobra.Command {
	var timeout int
	c := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop containers: the stop signal, then SIGKILL after the timeout",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				return e.Stop(context.Background(), c, time.Duration(timeout)*time.Second)
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
	var force bool
	c := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, c *container.Container) error {
				return e.Remove(context.Background(), c, force)
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "kill a running container first")
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
	var detach bool
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
			p.Args, p.Terminal = args[1:], false
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
			code, err := e.Runtime.Exec(ctr.ID, runtime.ExecOptions{Process: &p, Detach: detach})
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
