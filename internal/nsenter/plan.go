package nsenter

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// PlanEnv, set in the environment of a process the constructor starts,
// makes the constructor apply a start plan and execve the container's
// process itself, so no Go runtime ever starts in it: after joining and
// forking it reads one frame from the sync socket (syncproto's 4-byte
// big-endian length, then the Plan's encoding), applies it in the order
// the Go init stage would, reports syncproto's "ready" (or "error" with
// the reason and exit code) and execs.
//
// The encoding is flat on purpose: "BRTHPLN1", then records of a u32
// tag, a u32 length and that many bytes, integers in host order,
// strings NUL-terminated. The C decoder (plan.c) only checks bounds and
// points into the buffer; a record it does not know is an error, so a
// runtime and an init of different versions never half-agree.
const PlanEnv = "_BERTH_PLAN"

// Record tags, as in plan.h.
const (
	recRlimit  = 1
	recOOM     = 2
	recSeccomp = 3
	recCwd     = 4
	recUser    = 5
	recCaps    = 6
	recNNP     = 7
	recArg     = 8
	recEnv     = 9
	recFDs     = 10
	recConsole = 11
)

const planMagic = "BRTHPLN1"

// Plan is a container process's attributes, resolved by the runtime:
// what is left for the process itself to apply before execve.
type Plan struct {
	Args, Env []string
	Cwd       string
	UID, GID  uint32
	Groups    []uint32
	Umask     uint32
	Rlimits   []Rlimit
	// OOMScoreAdj is written to /proc/self/oom_score_adj when set.
	OOMScoreAdj *int
	// Seccomp is a compiled filter (classic BPF, 8 bytes an
	// instruction); SeccompEarly installs it before the user switch,
	// which a process without no_new_privs needs (only CAP_SYS_ADMIN
	// may install one then), else right before execve.
	Seccomp      []byte
	SeccompFlags uint32
	SeccompEarly bool
	// Caps: nil leaves the bounding set and clears the other sets, as a
	// spec without capabilities asks.
	Caps       *Caps
	NoNewPrivs bool
	// FirstFD is the first fd not preserved: it and all above it are
	// closed at execve.
	FirstFD int
	// Console, when set, gives the process a new pty whose master goes
	// over the console socket at fd Console.FD.
	Console *Console
}

// Rlimit is one resource limit, by its RLIMIT_* number; Name is for
// the error message.
type Rlimit struct {
	Resource   int
	Soft, Hard uint64
	Name       string
}

// Caps are the five capability sets as bit sets; the process keeps of
// each only what it holds itself.
type Caps struct {
	DropBounding                                         bool // cut the bounding set to Bounding
	LastCap                                              int  // the kernel's cap_last_cap
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// Console is the terminal request.
type Console struct {
	FD            int
	Width, Height uint32
}

// Encode renders the plan for the constructor.
func (p *Plan) Encode() ([]byte, error) {
	if len(p.Args) == 0 {
		return nil, errors.New("start plan: no program to run")
	}
	if len(p.Seccomp)%8 != 0 || len(p.Seccomp) > 4096*8 {
		return nil, fmt.Errorf("start plan: seccomp program of %d bytes", len(p.Seccomp))
	}
	b := []byte(planMagic)
	rec := func(tag uint32, body []byte) {
		b = binary.NativeEndian.AppendUint32(b, tag)
		b = binary.NativeEndian.AppendUint32(b, uint32(len(body)))
		b = append(b, body...)
	}
	var bad error
	cstr := func(s, what string) []byte {
		if strings.IndexByte(s, 0) >= 0 && bad == nil {
			bad = fmt.Errorf("start plan: %s %q holds a NUL byte", what, s)
		}
		return append([]byte(s), 0)
	}
	u32 := binary.NativeEndian.AppendUint32
	u64 := binary.NativeEndian.AppendUint64
	for _, r := range p.Rlimits {
		body := u32(nil, uint32(r.Resource))
		body = u64(u64(body, r.Soft), r.Hard)
		rec(recRlimit, append(body, cstr(r.Name, "rlimit")...))
	}
	if p.OOMScoreAdj != nil {
		rec(recOOM, u32(nil, uint32(int32(*p.OOMScoreAdj))))
	}
	if len(p.Seccomp) > 0 {
		early := uint32(0)
		if p.SeccompEarly {
			early = 1
		}
		rec(recSeccomp, append(u32(u32(nil, p.SeccompFlags), early), p.Seccomp...))
	}
	if p.Cwd != "" {
		rec(recCwd, cstr(p.Cwd, "cwd"))
	}
	user := u32(u32(u32(u32(nil, p.UID), p.GID), p.Umask), uint32(len(p.Groups)))
	for _, g := range p.Groups {
		user = u32(user, g)
	}
	rec(recUser, user)
	c := p.Caps
	if c == nil {
		c = &Caps{LastCap: 0}
	}
	drop := uint32(0)
	if c.DropBounding {
		drop = 1
	}
	caps := u32(u32(nil, drop), uint32(c.LastCap))
	for _, s := range []uint64{c.Bounding, c.Effective, c.Permitted, c.Inheritable, c.Ambient} {
		caps = u64(caps, s)
	}
	rec(recCaps, caps)
	if p.NoNewPrivs {
		rec(recNNP, nil)
	}
	for _, a := range p.Args {
		rec(recArg, cstr(a, "argument"))
	}
	for _, e := range p.Env {
		rec(recEnv, cstr(e, "environment variable"))
	}
	if p.FirstFD > 3 {
		rec(recFDs, u32(nil, uint32(p.FirstFD)))
	}
	if p.Console != nil {
		rec(recConsole, u32(u32(u32(nil, uint32(p.Console.FD)), p.Console.Width), p.Console.Height))
	}
	if bad != nil {
		return nil, bad
	}
	return b, nil
}
