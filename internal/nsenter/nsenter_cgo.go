//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
#include <stdlib.h>
#include "plan.h"
extern void berth_nsenter(void);
extern int berth_rootless_joined;
// Before any other constructor: the process may not be the one the
// constructors after it expect to run in.
void __attribute__((constructor)) berth_nsenter_init(void) { berth_nsenter(); }
*/
import "C"

import (
	"errors"
	"unsafe"
)

// Supported reports whether this binary can join namespaces by path.
func Supported() bool { return true }

// JoinedRootless reports whether the constructor moved this berth
// command into its user's rootless namespaces (rootless.c: only the
// berth CLI, and only when the namespaces' holder is up).
func JoinedRootless() bool { return C.berth_rootless_joined != 0 }

// decodePlan runs the C decoder over b and returns what it understood
// as a Plan, for the tests and the fuzzer of the decoder.
func decodePlan(b []byte) (*Plan, error) {
	buf := C.CBytes(b)
	defer C.free(buf)
	var pl C.struct_berth_plan
	var msg [256]C.char
	if C.berth_plan_decode((*C.uchar)(buf), C.size_t(len(b)), &pl, &msg[0], C.size_t(len(msg))) != 0 {
		return nil, errors.New(C.GoString(&msg[0]))
	}
	defer C.berth_plan_free(&pl)
	p := &Plan{UID: uint32(pl.uid), GID: uint32(pl.gid), Umask: uint32(pl.umask), FirstFD: int(pl.first_fd), NoNewPrivs: pl.no_new_privs != 0}
	if pl.cwd != nil {
		p.Cwd = C.GoString(pl.cwd)
	}
	p.Args = goStrings(pl.args, int(pl.nargs))
	p.Env = goStrings(pl.env, int(pl.nenv))
	for i := 0; i < int(pl.ngroups); i++ {
		g := C.GoBytes(unsafe.Add(unsafe.Pointer(pl.groups), 4*i), 4)
		p.Groups = append(p.Groups, *(*uint32)(unsafe.Pointer(&g[0])))
	}
	rl := unsafe.Slice(pl.rlimits, int(pl.nrlimits))
	for _, r := range rl {
		p.Rlimits = append(p.Rlimits, Rlimit{Resource: int(r.resource), Soft: uint64(r.soft), Hard: uint64(r.hard), Name: C.GoString(r.name)})
	}
	if pl.has_oom != 0 {
		v := int(pl.oom_score_adj)
		p.OOMScoreAdj = &v
	}
	if pl.bpf != nil {
		p.Seccomp = C.GoBytes(unsafe.Pointer(pl.bpf), C.int(pl.bpf_len*8))
		p.SeccompFlags, p.SeccompEarly = uint32(pl.seccomp_flags), pl.seccomp_early != 0
	}
	p.Caps = &Caps{DropBounding: pl.drop_bounding != 0, LastCap: int(pl.last_cap), Bounding: uint64(pl.bounding),
		Effective: uint64(pl.effective), Permitted: uint64(pl.permitted), Inheritable: uint64(pl.inheritable), Ambient: uint64(pl.ambient)}
	for _, st := range unsafe.Slice(pl.steps, int(pl.nsteps)) {
		p.Steps = append(p.Steps, Step{Op: uint32(st.op), Target: uint32(st.target), Opts: uint32(st.opts),
			Flags: uint64(st.flags), A: uint64(st.a), B: uint64(st.b), Src: C.GoString(st.src), Path: C.GoString(st.path),
			FSType: C.GoString(st.fstype), Data: C.GoString(st.data), What: C.GoString(st.what)})
	}
	p.FifoFD = int(pl.fifo_fd)
	p.Sources, p.SourcesFD = int(pl.sources), int(pl.sources_fd)
	if pl.console_fd >= 0 {
		p.Console = &Console{FD: int(pl.console_fd), Width: uint32(pl.console_width), Height: uint32(pl.console_height)}
	}
	return p, nil
}

func goStrings(arr **C.char, n int) []string {
	var out []string
	for _, s := range unsafe.Slice(arr, n) {
		out = append(out, C.GoString(s))
	}
	return out
}
