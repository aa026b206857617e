package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	mobycontainer "github.com/moby/moby/api/types/container"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/engine"
	"github.com/berth-project/berth/internal/format"
)

// eachContainer runs fn on each named container, printing the name on
// success as Docker does, and fails if any failed.
func eachContainer(g *globals, args []string, fn func(e *engine.Engine, ref string) error) error {
	e, err := g.engine()
	if err != nil {
		return err
	}
	return eachName(args, func(a string) error { return fn(e, a) })
}

// stopFlag is -t/--timeout (or the older --time) of stop and restart:
// nil when not given.
func stopFlag(cmd *cobra.Command, secs int) *int {
	if cmd.Flags().Changed("time") || cmd.Flags().Changed("timeout") {
		return &secs
	}
	return nil
}

func stopCommand(g *globals) *cobra.Command {
	return stopLike(g, "stop", "Stop containers: the stop signal, then SIGKILL after the timeout", (*engine.Engine).ContainerStop)
}

func restartCommand(g *globals) *cobra.Command {
	return stopLike(g, "restart", "Restart containers", (*engine.Engine).ContainerRestart)
}

// stopLike is stop or restart: -t and -s, then op on each container.
func stopLike(g *globals, use, short string, op func(*engine.Engine, context.Context, string, engine.StopOptions) error) *cobra.Command {
	var timeout int
	var sig string
	c := &cobra.Command{
		Use:   use + " [OPTIONS] CONTAINER [CONTAINER...]",
		Short: short,
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.StopOptions{Timeout: stopFlag(cmd, timeout), Signal: sig}
			return eachContainer(g, args, func(e *engine.Engine, ref string) error {
				return op(e, context.Background(), ref, o)
			})
		},
	}
	c.Flags().IntVarP(&timeout, "timeout", "t", 10, "seconds to wait before killing the container")
	c.Flags().IntVar(&timeout, "time", 10, "seconds to wait before killing the container (an older name of --timeout)")
	_ = c.Flags().MarkHidden("time") // defined just above
	c.Flags().StringVarP(&sig, "signal", "s", "", "signal to send (default: the container's stop signal)")
	return c
}

func killCommand(g *globals) *cobra.Command {
	var sig string
	c := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Send a signal to containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if _, err := engine.ParseSignal(sig); err != nil {
				return usageError{err}
			}
			return eachContainer(g, args, func(e *engine.Engine, ref string) error { return e.ContainerKill(ref, sig) })
		},
	}
	c.Flags().StringVarP(&sig, "signal", "s", "KILL", "signal to send")
	return c
}

func rmCommand(g *globals) *cobra.Command {
	var o engine.RemoveOptions
	var link bool
	c := &cobra.Command{
		Use:     "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Aliases: []string{"remove"},
		Short:   "Remove containers",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			return eachContainer(g, args, func(e *engine.Engine, ref string) error {
				if link {
					return e.ContainerRemoveLink(ref) // CONTAINER/ALIAS; the container stays
				}
				err := e.ContainerRemove(context.Background(), ref, o)
				if o.Force && errors.Is(err, engine.ErrNotFound) {
					return nil // -f: what is not there is removed, as Docker's
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&o.Force, "force", "f", false, "kill a running container first")
	c.Flags().BoolVarP(&o.Volumes, "volumes", "v", false, "remove the container's anonymous volumes")
	c.Flags().BoolVarP(&link, "link", "l", false, "remove the legacy link CONTAINER/ALIAS, not a container")
	return c
}

func waitCommand(g *globals) *cobra.Command {
	var cond string
	c := &cobra.Command{
		Use:   "wait [OPTIONS] CONTAINER [CONTAINER...]",
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
				res, err := e.ContainerWait(ctx, a, engine.WaitCondition(cond))
				if err != nil {
					return err
				}
				fmt.Println(res.StatusCode)
			}
			return nil
		},
	}
	c.Flags().StringVar(&cond, "condition", "not-running", "not-running, next-exit or removed")
	return c
}

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
			return eachContainer(g, args, func(e *engine.Engine, ref string) error {
				if pause {
					return e.ContainerPause(ref)
				}
				return e.ContainerUnpause(ref)
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
			return g.with(func(e *engine.Engine) error { return e.ContainerRename(args[0], args[1]) })
		},
	}
}

// confirm asks Docker's question before a prune, unless forced; the
// answer is read from stdin whatever it is, as Docker's (a script pipes
// "y" or passes -f); false: no, or no answer at all.
func confirm(force bool, what string) bool {
	return confirmWarning(force, "WARNING! This will remove "+what+".")
}

// confirmWarning is confirm with the warning as given.
func confirmWarning(force bool, warning string) bool {
	if force {
		return true
	}
	fmt.Printf("%s\nAre you sure you want to continue? [y/N] ", warning)
	line, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil {
		return false
	}
	a := strings.TrimSpace(strings.ToLower(line))
	return a == "y" || a == "yes"
}

func containerPruneCommand(g *globals) *cobra.Command {
	return pruneCommandOf(g, "Remove all stopped containers", "filter: until=, label=, label!=",
		func(bool) string { return "all stopped containers" },
		func(e *engine.Engine, f engine.Filters, _ bool) (prunedList, error) {
			rep, err := e.ContainersPrune(context.Background(), f)
			return prunedList{"Deleted Containers:", rep.ContainersDeleted, &rep.SpaceReclaimed}, err
		}, false)
}

// prunedList is what a prune removed, as its verb prints it.
type prunedList struct {
	title string
	names []string
	freed *uint64 // nil: the verb prints no total
}

// pruneCommandOf is a prune verb: --filter and -f (and -a where all),
// Docker's question, the prune, and its list.
func pruneCommandOf(g *globals, short, filterHelp string, what func(all bool) string,
	prune func(*engine.Engine, engine.Filters, bool) (prunedList, error), withAll bool) *cobra.Command {
	var force, all bool
	var filters []string
	c := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			f, err := engine.ParseFilters(filters)
			if err != nil {
				return err
			}
			return g.with(func(e *engine.Engine) error {
				if !confirm(force, what(all)) {
					return nil
				}
				rep, err := prune(e, f, all)
				// Docker's form: the title always for networks and volumes;
				// with a total, the title and a blank line only when any went.
				if rep.freed == nil || len(rep.names) > 0 {
					fmt.Println(rep.title)
				}
				for _, n := range rep.names {
					fmt.Println(n)
				}
				if rep.freed != nil {
					if len(rep.names) > 0 {
						fmt.Println()
					}
					fmt.Println("Total reclaimed space:", format.Size(int64(*rep.freed)))
				}
				return err
			})
		},
	}
	c.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	c.Flags().StringArrayVar(&filters, "filter", nil, filterHelp)
	if withAll {
		c.Flags().BoolVarP(&all, "all", "a", false, "remove named volumes too")
	}
	return c
}

// updateCommand changes running or stopped containers' limits and
// restart policy.
func updateCommand(g *globals) *cobra.Command {
	var memory, swap, cpuset, cpusetMems, reservation, restart string
	var cpus float64
	var shares, pids, period, quota, rtPeriod, rtRuntime int64
	var blkio uint16
	c := &cobra.Command{
		Use:   "update [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Update configuration of one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var u mobycontainer.UpdateConfig
			var err error
			if u.Memory, err = engine.ParseBytes(memory); err != nil {
				return usageError{fmt.Errorf("--memory: %w", err)}
			}
			if swap == "-1" {
				u.MemorySwap = -1
			} else if u.MemorySwap, err = engine.ParseBytes(swap); err != nil {
				return usageError{fmt.Errorf("--memory-swap: %w", err)}
			}
			if u.MemoryReservation, err = engine.ParseBytes(reservation); err != nil {
				return usageError{fmt.Errorf("--memory-reservation: %w", err)}
			}
			u.NanoCPUs, u.CPUShares, u.CpusetCpus = int64(cpus*1e9), shares, cpuset
			u.CpusetMems, u.CPUPeriod, u.CPUQuota, u.BlkioWeight = cpusetMems, period, quota, blkio
			u.CPURealtimePeriod, u.CPURealtimeRuntime = rtPeriod, rtRuntime
			if cmd.Flags().Changed("pids-limit") {
				u.PidsLimit = &pids
			}
			if restart != "" {
				if u.RestartPolicy, err = engine.ParseRestartPolicy(restart); err != nil {
					return usageError{err}
				}
			}
			e, err := g.engine()
			if err != nil {
				return err
			}
			var failed error
			for _, ref := range args {
				if _, err := e.ContainerUpdate(ref, u); err != nil {
					fmt.Fprintln(os.Stderr, "Error response from daemon:", err)
					failed = exitError{1}
					continue
				}
				fmt.Println(ref)
			}
			return failed
		},
	}
	fl := c.Flags()
	fl.StringVarP(&memory, "memory", "m", "", "memory limit")
	fl.StringVar(&swap, "memory-swap", "", "memory plus swap limit (-1: unlimited swap)")
	fl.Float64Var(&cpus, "cpus", 0, "number of CPUs")
	fl.Int64VarP(&shares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fl.StringVar(&cpuset, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fl.StringVar(&cpusetMems, "cpuset-mems", "", "memory nodes in which to allow execution (0-3, 0,1)")
	fl.Int64Var(&period, "cpu-period", 0, "limit the CPU CFS period (µs)")
	fl.Int64Var(&quota, "cpu-quota", 0, "limit the CPU CFS quota (µs)")
	fl.StringVar(&reservation, "memory-reservation", "", "memory soft limit")
	fl.Uint16Var(&blkio, "blkio-weight", 0, "block IO relative weight, 10 to 1000, 0 to disable")
	fl.Int64Var(&rtPeriod, "cpu-rt-period", 0, "limit the CPU real-time period (µs)")
	fl.Int64Var(&rtRuntime, "cpu-rt-runtime", 0, "limit the CPU real-time runtime (µs)")
	fl.Int64Var(&pids, "pids-limit", 0, "tune container pids limit (-1 for unlimited)")
	fl.StringVar(&restart, "restart", "", "restart policy to apply when a container exits")
	return c
}
