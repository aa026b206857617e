package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/runtime/initproc"
	"github.com/berth-project/berth/internal/seccomp"
)

// planned reports whether the C start stage can apply p on its own
// (see nsenter.PlanEnv): a seccomp filter that notifies an agent needs
// the Go stage's hand-over of the listener.
func planned(filter *seccomp.Program) bool {
	return nsenter.Supported() && (filter == nil || !filter.Notify)
}

// processPlan resolves p for the C start stage: rlimit names become
// numbers, capability names bit sets, the seccomp program its bytes.
// consoleFD is the console socket's fd in the child, or -1.
func processPlan(p *specs.Process, filter *seccomp.Program, preserveFDs, consoleFD int) ([]byte, error) {
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
	return pl.Encode()
}
