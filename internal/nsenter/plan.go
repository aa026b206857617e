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
	recStep    = 12
	recFifo    = 13
	recSources = 14
)

// Step kinds: what a container's init does before its process's
// attributes, in order (see rootfs.Steps and the runtime's initPlan).
const (
	StepMount     = 1  // mount(2) Src on Path, FSType, Flags, Data
	StepSetattr   = 2  // mount_setattr(2) on Path, recursive: A set, B cleared
	StepRoot      = 3  // open Path as the root that in-root targets resolve in
	StepMknod     = 4  // a device node at Path in the root: A mode, Flags dev, B uid<<32|gid
	StepSymlink   = 5  // a symlink at Path in the root to Src
	StepPivot     = 6  // pivot_root to Path and detach the old root
	StepWrite     = 7  // write Src to the file at Path
	StepReadonly  = 8  // bind Path on itself read-only, if it exists
	StepMask      = 9  // cover Path: /dev/null on a file, an empty tmpfs on a directory
	StepHostname  = 10 // sethostname(Src)
	StepDomain    = 11 // setdomainname(Src)
	StepKeyring   = 12 // join a new session keyring named Src
	StepUnshare   = 13 // unshare(Flags)
	StepLoopback  = 14 // bring lo up
	StepLateOpen  = 15 // open Path to write "0" to at StepLateWrite
	StepLateWrite = 16 // write "0" to every file StepLateOpen opened
)

// Where a step's Path is.
const (
	TargetAbs      = 0 // as it is, in the process's own view
	TargetDir      = 1 // in the root, made as a directory (and parents) if missing
	TargetFile     = 2 // in the root, made as an empty file if missing
	TargetExisting = 3 // in the root, resolved again (a mount placed there is on top)
)

// Step options.
const (
	OptTmpfsMode = 1 << 0 // a tmpfs takes the mode of the directory it covers
	OptDirOnly   = 1 << 1 // the target must be a directory if it exists (proc, sysfs)
	OptLocked    = 1 << 2 // repeat the flags the mount already has (statfs)
	OptReplace   = 1 << 3 // remove what is at Path first
	// In a user namespace, where the kernel refuses some mounts:
	OptSysfsBind   = 1 << 4 // sysfs refused (EPERM): bind the host's /sys, remounted with B's flags
	OptDevptsNoGid = 1 << 5 // devpts refused (EINVAL): again without gid= (one gid mapped)
	OptLockedRetry = 1 << 6 // a remount refused (EPERM): again with the flags the mount has
)

// Step is one action of a container's init; What names it in errors.
type Step struct {
	Op, Target, Opts        uint32
	Flags, A, B             uint64
	Src, Path, FSType, Data string
	What                    string
}

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
	// Steps come first: a container's root filesystem and the rest of
	// its init's work.
	Steps []Step
	// FifoFD, for a container's init, is its O_PATH fd of the exec fifo:
	// after ready the process waits there for start. 0: none (exec).
	FifoFD int
	// Sources fds follow the plan on the sync socket, one SCM_RIGHTS
	// message each (syncproto.SendFd), and are placed at SourcesFD
	// onwards, where the steps name them (/proc/self/fd/N): bind
	// sources the runtime opened in init's mount namespace.
	Sources, SourcesFD int
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
	for _, st := range p.Steps {
		body := u32(u32(u32(u32(nil, st.Op), st.Target), st.Opts), 0)
		body = u64(u64(u64(body, st.Flags), st.A), st.B)
		for _, s := range []string{st.Src, st.Path, st.FSType, st.Data, st.What} {
			body = append(body, cstr(s, "step argument")...)
		}
		rec(recStep, body)
	}
	if p.FifoFD > 0 {
		rec(recFifo, u32(nil, uint32(p.FifoFD)))
	}
	if p.Sources > 0 {
		rec(recSources, u32(u32(nil, uint32(p.Sources)), uint32(p.SourcesFD)))
	}
	if bad != nil {
		return nil, bad
	}
	return b, nil
}
