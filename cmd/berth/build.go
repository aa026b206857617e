package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/berth-project/berth/internal/build"
	"github.com/berth-project/berth/internal/engine"
)

func buildCommand(g *globals) *cobra.Command {
	var tags, buildArgs, labels, secrets, outputs, cacheFrom, cacheTo, sshs []string
	var file, target, iidfile, progress, platform string
	var quiet, noCache, pull bool
	var rf registryFlags
	var network string
	var addHosts []string
	var step buildStepFlags
	c := &cobra.Command{
		Use:   "build [OPTIONS] PATH",
		Short: "Build an image from a Dockerfile",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if args[0] == "-" && file == "-" {
				return usageError{errors.New("the context and the Dockerfile cannot both come from standard input")}
			}
			o := build.Options{ContextDir: args[0], Tags: tags, Target: target, BuildArgs: map[string]string{},
				Labels: labelMap(labels), Pull: engine.PullOptions{RegistryOptions: rf.options()}, Out: os.Stderr}
			if len(labels) == 0 {
				o.Labels = nil
			}
			var err error
			if o.Progress, err = build.ParseProgress(progress); err != nil {
				return usageError{err}
			}
			// Progress goes to standard error, as BuildKit's does, so that
			// standard output can carry --output -; the classic form
			// keeps to standard output as the classic builder did.
			if o.Progress == build.ProgressClassic {
				o.Out = os.Stdout
			}
			if quiet {
				o.Out, o.Progress = io.Discard, build.ProgressQuiet
			}
			if o.StepHost, err = step.hostConfig(); err != nil {
				return usageError{err}
			}
			if args[0] == "-" {
				o.ContextDir, o.ContextArchive = "", os.Stdin
			}
			if file == "-" {
				o.Source = os.Stdin
			} else if file != "" {
				o.Dockerfile = file
			}
			for _, a := range buildArgs {
				k, v, ok := strings.Cut(a, "=")
				if !ok {
					v, ok = os.LookupEnv(k) // --build-arg NAME takes the caller's value
					if !ok {
						continue
					}
				}
				o.BuildArgs[k] = v
			}
			o.NoCache, o.PullAlways, o.Platform, o.CacheFrom = noCache, pull, platform, cacheFrom
			o.Network, o.ExtraHosts = network, addHosts
			for _, s := range sshs {
				id, sock, err := build.ParseSSH(s)
				if err != nil {
					return usageError{err}
				}
				if o.SSH == nil {
					o.SSH = map[string]string{}
				}
				o.SSH[id] = sock
			}
			for _, c := range cacheTo {
				if c != "type=inline" {
					return usageError{fmt.Errorf("--cache-to %s: only type=inline is supported yet", c)}
				}
				o.InlineCache = true
			}
			toStdout := false
			for _, s := range outputs {
				out, err := build.ParseOutput(s)
				if err != nil {
					return usageError{err}
				}
				out.W, toStdout = os.Stdout, toStdout || out.Dest == "-"
				o.Outputs = append(o.Outputs, out)
			}
			if len(secrets) > 0 {
				o.Secrets = map[string]build.Secret{}
			}
			for _, sec := range secrets {
				id, s, err := parseSecret(sec)
				if err != nil {
					return usageError{err}
				}
				o.Secrets[id] = s
			}
			return g.with(func(e *engine.Engine) error {
				ctx, cancel := interruptible()
				defer cancel()
				res, err := build.Build(ctx, e, o)
				if err != nil {
					return err
				}
				if iidfile != "" {
					if err := os.WriteFile(iidfile, []byte(res.ID), 0o644); err != nil {
						return err
					}
				}
				if quiet && !toStdout {
					fmt.Println(res.ID)
				}
				if quiet || toStdout {
					return nil
				}
				fmt.Println("Successfully built", strings.TrimPrefix(res.ID, "sha256:")[:12])
				for _, t := range tags {
					fmt.Println("Successfully tagged", t)
				}
				return nil
			})
		},
	}
	f := c.Flags()
	f.StringArrayVarP(&tags, "tag", "t", nil, "name and optionally a tag (name:tag)")
	f.StringVarP(&file, "file", "f", "", "the Dockerfile (default PATH/Dockerfile; - for standard input)")
	f.StringArrayVar(&buildArgs, "build-arg", nil, "set a build-time variable")
	f.StringVar(&target, "target", "", "the stage to build")
	f.StringArrayVar(&labels, "label", nil, "set metadata on the image")
	f.BoolVarP(&quiet, "quiet", "q", false, "print only the image ID")
	f.StringVar(&iidfile, "iidfile", "", "write the image ID to the file")
	f.StringArrayVar(&secrets, "secret", nil, "a secret for RUN --mount=type=secret: id=ID[,src=FILE|,env=VAR]")
	f.BoolVar(&noCache, "no-cache", false, "run every step, reusing nothing from the build cache")
	f.StringVar(&platform, "platform", "", "the platform to build for (os/arch[/variant]); only this host's yet")
	f.StringArrayVar(&sshs, "ssh", nil, "an SSH agent for RUN --mount=type=ssh: ID[=SOCKET] (default: $SSH_AUTH_SOCK)")
	f.StringArrayVar(&cacheFrom, "cache-from", nil, "an image whose inline cache may serve the build's steps (pulled if not here)")
	f.StringArrayVar(&cacheTo, "cache-to", nil, "type=inline: write the build's cache into the image, for --cache-from")
	f.BoolVar(&pull, "pull", false, "always pull the images the build names, even those already here")
	f.Bool("disable-content-trust", true, "skip image verification (berth verifies no content trust)")
	// The classic builder's container options: berth's steps keep their
	// container only while they run, and build with the engine's defaults.
	f.Bool("rm", true, "remove intermediate containers after a successful build (berth always does)")
	f.Bool("force-rm", false, "always remove intermediate containers (berth always does)")
	step.add(f)
	f.StringArrayVarP(&outputs, "output", "o", nil, "also write the result: type=local|tar|oci|docker,dest=PATH (a bare PATH is a local directory, - a tar on standard output)")
	f.StringVar(&progress, "progress", "auto", "the output's form: auto, plain, tty, quiet, or classic (Docker's classic builder)")
	f.StringVar(&network, "network", "default", "the networking mode of RUN: default, host, none or a network's name")
	f.StringArrayVar(&addHosts, "add-host", nil, "add a custom host-to-IP mapping for RUN (host:ip)")
	rf.add(c)
	return c
}

// buildStepFlags are the classic builder's options for its RUN steps'
// containers.
type buildStepFlags struct {
	memory, swap, cpusetCpus, cpusetMems, shmSize, cgroupParent, isolation string
	cpuShares, cpuPeriod, cpuQuota                                         int64
	ulimits, securityOpt                                                   []string
	squash                                                                 bool
}

func (s *buildStepFlags) add(f *pflag.FlagSet) {
	f.StringVarP(&s.memory, "memory", "m", "", "memory limit of each RUN step")
	f.StringVar(&s.swap, "memory-swap", "", "memory plus swap limit of each RUN step (-1: unlimited swap)")
	f.Int64VarP(&s.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight) of each RUN step")
	f.Int64Var(&s.cpuPeriod, "cpu-period", 0, "CPU CFS period of each RUN step (µs)")
	f.Int64Var(&s.cpuQuota, "cpu-quota", 0, "CPU CFS quota of each RUN step (µs)")
	f.StringVar(&s.cpusetCpus, "cpuset-cpus", "", "CPUs the RUN steps may use (0-3, 0,1)")
	f.StringVar(&s.cpusetMems, "cpuset-mems", "", "memory nodes the RUN steps may use")
	f.StringVar(&s.shmSize, "shm-size", "", "size of /dev/shm in each RUN step")
	f.StringVar(&s.cgroupParent, "cgroup-parent", "", "parent cgroup of the RUN steps' containers")
	f.StringVar(&s.isolation, "isolation", "", "container isolation technology (on Linux: default only)")
	f.StringArrayVar(&s.ulimits, "ulimit", nil, "ulimit of each RUN step: NAME=SOFT[:HARD]")
	f.StringArrayVar(&s.securityOpt, "security-opt", nil, "security options of each RUN step (seccomp=..., no-new-privileges)")
	// The context is on this machine: there is nothing to compress.
	f.Bool("compress", false, "compress the build context (nothing to do: it is local)")
	f.BoolVar(&s.squash, "squash", false, "squash the new layers into one (experimental in Docker; refused)")
}

func (s *buildStepFlags) hostConfig() (mobycontainer.HostConfig, error) {
	var hc mobycontainer.HostConfig
	var err error
	if s.squash {
		// As a Docker daemon without experimental features answers it.
		return hc, errors.New("--squash is an experimental feature, which berth does not have")
	}
	if hc.Memory, err = engine.ParseBytes(s.memory); err != nil {
		return hc, fmt.Errorf("--memory: %w", err)
	}
	if s.swap == "-1" {
		hc.MemorySwap = -1
	} else if hc.MemorySwap, err = engine.ParseBytes(s.swap); err != nil {
		return hc, fmt.Errorf("--memory-swap: %w", err)
	}
	if hc.ShmSize, err = engine.ParseBytes(s.shmSize); err != nil {
		return hc, fmt.Errorf("--shm-size: %w", err)
	}
	hc.CPUShares, hc.CPUPeriod, hc.CPUQuota, hc.CpusetCpus, hc.CpusetMems = s.cpuShares, s.cpuPeriod, s.cpuQuota, s.cpusetCpus, s.cpusetMems
	hc.CgroupParent, hc.Isolation, hc.SecurityOpt = s.cgroupParent, mobycontainer.Isolation(s.isolation), s.securityOpt
	for _, u := range s.ulimits {
		ul, err := engine.ParseUlimit(u)
		if err != nil {
			return hc, err
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	return hc, nil
}

func builderCommand(g *globals) *cobra.Command {
	bc := &cobra.Command{Use: "builder", Short: "Manage the build cache"}
	var force, all bool
	var filters []string
	var keep string
	prune := &cobra.Command{
		Use:   "prune [OPTIONS]",
		Short: "Remove the build cache",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			var o build.PruneOptions
			for _, f := range filters {
				k, v, _ := strings.Cut(f, "=")
				if k != "until" {
					return usageError{fmt.Errorf("invalid filter %q: berth's build cache takes until=", f)}
				}
				t, err := engine.ParseTime(v, time.Now())
				if err != nil {
					return usageError{fmt.Errorf("until filter: %w", err)}
				}
				o.Until = t
			}
			var err error
			if o.KeepStorage, err = engine.ParseBytes(keep); err != nil {
				return usageError{fmt.Errorf("--keep-storage: %w", err)}
			}
			return g.with(func(e *engine.Engine) error {
				if !confirm(force, "all build cache") {
					return nil
				}
				rep, err := build.Prune(e, o)
				for _, id := range rep.Images {
					fmt.Println("Deleted:", id)
				}
				fmt.Printf("Total: %d cache entries\n", rep.Entries)
				return err
			})
		},
	}
	prune.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	prune.Flags().BoolVarP(&all, "all", "a", false, "remove all of it (berth's cache is one kind)")
	prune.Flags().StringArrayVar(&filters, "filter", nil, "filter: until= (a time or a duration ago)")
	prune.Flags().StringVar(&keep, "keep-storage", "", "keep the newest cache whose images take at most this much (e.g. 1gb)")
	bc.AddCommand(prune, buildCommand(g))
	return bc
}

// parseSecret reads --secret id=ID,src=FILE|env=VAR (type=file|env too);
// with neither, the variable named by the id.
func parseSecret(v string) (string, build.Secret, error) {
	var id string
	var s build.Secret
	for _, kv := range strings.Split(v, ",") {
		k, val, _ := strings.Cut(kv, "=")
		switch k {
		case "id":
			id = val
		case "src", "source":
			s.File = val
		case "env":
			s.Env = val
		case "type":
			if val != "file" && val != "env" {
				return "", s, fmt.Errorf("--secret %q: type is file or env", v)
			}
		default:
			return "", s, fmt.Errorf("--secret %q: unknown field %q", v, k)
		}
	}
	if id == "" {
		return "", s, fmt.Errorf("--secret %q: no id", v)
	}
	if s.File == "" && s.Env == "" {
		s.Env = id
	}
	return id, s, nil
}
