// Package nsenter owns what runs before the Go runtime starts: joining
// existing namespaces, detaching a monitor, and a container process's
// start from a flat plan.
//
// setns(2) into a user or mount namespace (and into a time namespace)
// needs a single-threaded caller, and a Go program has several threads
// before main runs. So, as runc does, a C constructor runs first when the
// binary is re-executed as a container's init: it reads one small
// versioned instruction from the environment, opens every namespace path,
// calls setns in a fixed order (user first, so the others are joined with
// the privileges of the target user namespace; mount last, because after
// it the paths may no longer resolve), optionally unshares the namespaces
// that must be new and owned by the joined user namespace, and, when the
// process must land in a new or joined PID namespace, forks once and
// reports the child's pid. On failure it reports the reason over the sync
// socket, in internal/runtime/syncproto's frame, and exits.
//
// The constructor also detaches a process when _BERTH_DETACH_FD is set
// (see DetachEnv), and, with PlanEnv, starts the container's process
// itself from a flat plan, so that no Go runtime starts in it (see
// Plan). It is inert unless one of them is set. Builds without
// cgo (unit tests) have no constructor; Supported reports that, and the
// runtime refuses the joins that need it with a clear error.
package nsenter

import (
	"fmt"
	"strings"
)

// EnvVar carries the instruction to the constructor.
const EnvVar = "_BERTH_NSENTER"

// DetachEnv, set to a file descriptor, has the constructor detach the
// process before anything else: it forks, the parent writes the child's
// pid as a line to that descriptor and exits, and the child goes on,
// owned by nobody (re-parented to the host's init). Only a cgo build
// has the constructor (Supported).
const DetachEnv = "_BERTH_DETACH_FD"

// Join is one namespace to enter by path.
type Join struct {
	Type string // user, ipc, uts, net, pid, cgroup, time, mnt
	Path string
}

// Instruction is what the constructor does.
type Instruction struct {
	SyncFD  int     // where errors and the forked pid are reported; -1: stderr
	Unshare uintptr // CLONE_NEW* flags to unshare after joining
	Fork    bool    // fork once after joining and unsharing, report the pid
	// ForkWait forks once and waits, exiting with the child's status (for
	// ns enter, whose caller just waits for its child).
	ForkWait bool
	Joins    []Join
	// Tasks are v1 cgroup "tasks" files the process (the forked one, if
	// it forks) writes "0" to after joining: it moves itself into the
	// container's v1 cgroups before anything of the container runs.
	Tasks []string
}

// Encode renders the instruction for the environment:
// "1;SYNCFD;UNSHAREFLAGS;FORK;type=path;...;tasks=path;...". Paths may not hold ';'.
func (in Instruction) Encode() (string, error) {
	fork := 0
	switch {
	case in.Fork:
		fork = 1
	case in.ForkWait:
		fork = 2
	}
	var b strings.Builder
	fmt.Fprintf(&b, "1;%d;%d;%d", in.SyncFD, in.Unshare, fork)
	for _, j := range in.Joins {
		if strings.ContainsAny(j.Path, ";\x00") {
			return "", fmt.Errorf("namespace path %q: ';' is not allowed", j.Path)
		}
		fmt.Fprintf(&b, ";%s=%s", j.Type, j.Path)
	}
	for _, t := range in.Tasks {
		if strings.ContainsAny(t, ";\x00") {
			return "", fmt.Errorf("cgroup path %q: ';' is not allowed", t)
		}
		fmt.Fprintf(&b, ";tasks=%s", t)
	}
	return EnvVar + "=" + b.String(), nil
}
