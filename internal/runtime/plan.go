package runtime

import (
	"fmt"
	"path/filepath"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/runtime/initproc"
	"github.com/berth-project/berth/internal/runtime/syncproto"
	"github.com/berth-project/berth/internal/seccomp"
)

// planned reports whether the C start stage can apply spec's process on
// its own (see nsenter.PlanEnv): a seccomp filter that notifies an agent
// needs the Go stage's hand-over of the listener.
func planned(spec *specs.Spec) bool {
	return nsenter.Supported() && (spec.Linux == nil || !seccomp.Notifies(spec.Linux.Seccomp))
}

// processPlan resolves p for the C start stage: rlimit names become
// numbers, capability names bit sets, the seccomp program its bytes.
// consoleFD is the console socket's fd in the child, or -1.
func processPlan(p *specs.Process, filter *seccomp.Program, preserveFDs, consoleFD int) (*nsenter.Plan, error) {
	pl := &nsenter.Plan{
		Args: p.Args, Env: p.Env, Cwd: p.Cwd, UID: p.User.UID, GID: p.User.GID,
		Groups: p.User.AdditionalGids, Umask: 0o022, OOMScoreAdj: p.OOMScoreAdj,
		NoNewPrivs: p.NoNewPrivileges, FirstFD: 3 + preserveFDs,
	}
	if p.User.Umask != nil {
		pl.Umask = *p.User.Umask
	}
	for _, rl := range p.Rlimits {
		n, ok := initproc.RlimitNumber(rl.Type)
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q", rl.Type)
		}
		pl.Rlimits = append(pl.Rlimits, nsenter.Rlimit{Resource: n, Soft: rl.Soft, Hard: rl.Hard, Name: rl.Type})
	}
	sets, err := caps.FromSpec(p.Capabilities)
	if err != nil {
		return nil, err
	}
	pl.Caps = &nsenter.Caps{DropBounding: p.Capabilities != nil, LastCap: caps.LastCap(), Bounding: sets.Bounding,
		Effective: sets.Effective, Permitted: sets.Permitted, Inheritable: sets.Inheritable, Ambient: sets.Ambient}
	if filter != nil {
		pl.Seccomp, pl.SeccompFlags, pl.SeccompEarly = filter.Code, uint32(filter.Flags), !p.NoNewPrivileges
	}
	if p.Terminal {
		pl.Console = &nsenter.Console{FD: consoleFD}
		if cs := p.ConsoleSize; cs != nil {
			pl.Console.Width, pl.Console.Height = uint32(cs.Width), uint32(cs.Height)
		}
	}
	return pl, nil
}

// initPlanned reports whether a container's whole init can run in the C
// start stage. The Go stage keeps what needs a conversation with the
// runtime or is rare: hooks that run in between (prestart,
// createRuntime, createContainer, startContainer), time namespace
// offsets, --no-pivot and a chroot without a mount namespace, and a
// seccomp agent's listener.
func initPlanned(spec *specs.Spec, ns *nsPlan, noPivot bool) bool {
	if !planned(spec) || ns.newTimeNS || noPivot || !rootfs.HasMountNamespace(spec) {
		return false
	}
	h := spec.Hooks
	return h == nil || len(h.Prestart)+len(h.CreateRuntime)+len(h.CreateContainer)+len(h.StartContainer) == 0
}

// initPlan is the C start stage's version of what the Go stage does with
// b (initproc's prepare, processSetup and execute), in the same order.
// sourceFDs are the bind sources of b.MountSources, ours; init gets them
// after the plan and places them from childFD on.
func initPlan(b *syncproto.Bootstrap, spec *specs.Spec, filter *seccomp.Program, sourceFDs []int, childFD int) ([]byte, error) {
	var steps []nsenter.Step
	for _, f := range b.CgroupTasks {
		steps = append(steps, nsenter.Step{Op: nsenter.StepWrite, Path: f, Src: "0", What: "join cgroup " + filepath.Dir(f)})
	}
	if !b.NoNewKeyring {
		steps = append(steps, nsenter.Step{Op: nsenter.StepKeyring, Src: "_ses." + b.ID})
	}
	// Opened now, written at the end: after pivot_root the host's
	// cgroupfs is out of reach, and what init allocates after the memory
	// hierarchy's join is the container's.
	for _, f := range b.CgroupTasksLast {
		steps = append(steps, nsenter.Step{Op: nsenter.StepLateOpen, Path: f, What: "join cgroup " + filepath.Dir(f)})
	}
	// The cgroup namespace takes init's cgroups at that instant as its
	// root: it is made after the last join.
	cgroupNS := nsenter.Step{Op: nsenter.StepUnshare, Flags: unix.CLONE_NEWCGROUP, What: "create cgroup namespace"}
	if b.NewCgroupNS && len(b.CgroupTasksLast) == 0 {
		steps = append(steps, cgroupNS)
	}
	if initproc.NewNetworkNamespace(spec) {
		steps = append(steps, nsenter.Step{Op: nsenter.StepLoopback})
	}
	cfg := rootfs.Config{Spec: spec, Rootfs: b.Rootfs, CgroupPaths: b.CgroupPaths,
		NewCgroupNS: b.NewCgroupNS, InUserNS: b.InUserNS, Bundle: b.Bundle}
	if len(b.MountSources) > 0 {
		cfg.Sources, cfg.ChildSources = map[int]string{}, map[int]string{}
		for k, i := range b.MountSources {
			cfg.Sources[i] = "/proc/self/fd/" + strconv.Itoa(sourceFDs[k])
			cfg.ChildSources[i] = "/proc/self/fd/" + strconv.Itoa(childFD+k)
		}
	}
	fs, err := rootfs.Steps(cfg)
	if err != nil {
		return nil, err
	}
	steps = append(steps, fs...)
	if spec.Hostname != "" {
		steps = append(steps, nsenter.Step{Op: nsenter.StepHostname, Src: spec.Hostname})
	}
	if spec.Domainname != "" {
		steps = append(steps, nsenter.Step{Op: nsenter.StepDomain, Src: spec.Domainname})
	}
	if len(b.CgroupTasksLast) > 0 {
		steps = append(steps, nsenter.Step{Op: nsenter.StepLateWrite, What: "join cgroup"})
		if b.NewCgroupNS {
			steps = append(steps, cgroupNS)
		}
	}
	pl, err := processPlan(spec.Process, filter, b.PreserveFDs, b.ConsoleFD)
	if err != nil {
		return nil, err
	}
	pl.Steps, pl.FifoFD = steps, b.FifoFD
	pl.Sources, pl.SourcesFD = len(b.MountSources), childFD
	return pl.Encode()
}
