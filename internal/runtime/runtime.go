// Package runtime turns an OCI bundle into a running, isolated process and
// manages its life, one file per operation: create, start, state, kill,
// delete, run. It is a library: cmd/berth-runtime only parses flags, and
// the engine calls it in-process.
//
// Set-up never happens inside an already-running Go program: create
// clones a child with the new namespaces that re-executes /proc/self/exe
// as the container's init stage (package initproc), and the two talk over
// a socketpair (package syncproto). Namespaces that must be joined from a
// single thread are joined before Go starts (package nsenter).
package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/state"

	"github.com/berth-project/berth/internal/seccomp"
)

// Status is a container's lifecycle state, as the runtime spec names it.
type Status string

// The statuses of the runtime spec.
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Stopped  Status = "stopped"
)

// InitArg0 is argv[0] of the init stage; the binaries' main functions
// dispatch on it, and ps shows it as the process's role.
const InitArg0 = "berth:[init]"

// DefaultRoot is where state lives when --root is not given.
const DefaultRoot = "/run/berth"

// Runtime is a state root and the operations on its containers.
type Runtime struct {
	Root string
	// Warnf reports a problem that does not fail the operation (a
	// failed poststart hook, an unsupported field); nil discards them.
	Warnf func(format string, args ...any)
	// Debugf reports the steps of a create (--debug); nil discards them.
	Debugf func(format string, args ...any)
}

// New returns a runtime that keeps its state under root.
func New(root string) *Runtime {
	if root == "" {
		root = DefaultRoot
	}
	return &Runtime{Root: root}
}

func (r *Runtime) store() state.Store { return state.Store{Root: r.Root} }

func (r *Runtime) warnf(format string, args ...any) {
	if r.Warnf != nil {
		r.Warnf(format, args...)
	}
}

func (r *Runtime) debugf(format string, args ...any) {
	if r.Debugf != nil {
		r.Debugf(format, args...)
	}
}

// ErrNotExist is wrapped by every error about an unknown container id.
var ErrNotExist = state.ErrNotExist

// load reads a container's state and reports an unknown id in the words
// runc users know.
func (r *Runtime) load(id string) (*state.Container, error) {
	c, err := r.store().Load(id)
	if errors.Is(err, state.ErrNotExist) {
		return nil, fmt.Errorf("container %s does not exist: %w", id, ErrNotExist)
	}
	return c, err
}

// lockAndLoad takes the lock of one container for a mutation and reads
// its state under it; the caller releases the lock.
func (r *Runtime) lockAndLoad(id string) (*state.Container, func(), error) {
	unlock, err := r.store().LockContainer(id)
	if errors.Is(err, ErrNotExist) {
		return nil, nil, fmt.Errorf("container %s does not exist: %w", id, ErrNotExist)
	}
	if err != nil {
		return nil, nil, err
	}
	c, err := r.load(id)
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return c, unlock, nil
}

// status works out where c is in its lifecycle from the process and the
// exec fifo: a live init with the fifo present is waiting for start.
func (r *Runtime) status(c *state.Container) Status {
	alive := state.Alive(c.Pid, c.StartTime)
	switch {
	case c.Creating && alive:
		return Creating
	case !alive:
		return Stopped
	}
	if _, err := os.Lstat(filepath.Join(r.store().Dir(c.ID), state.FifoFile)); err == nil {
		return Created
	}
	if cg, err := r.cgroupOfContainer(c); err == nil {
		if frozen, _ := cg.Frozen(); frozen {
			return Paused
		}
	}
	return Running
}

// specState renders the state the spec defines, for `state` and hooks.
func specState(c *state.Container, st Status) specs.State {
	s := specs.State{
		Version: specs.Version,
		ID:      c.ID,
		Status:  specs.ContainerState(st),
		Bundle:  c.Bundle,
	}
	// Like runc, keep the last pid for a stopped container: hooks and
	// callers correlate by it.
	s.Pid = c.Pid
	if c.Config != nil {
		s.Annotations = c.Config.Annotations
	}
	return s
}

// seccompProgram compiles a container's filter, through the cache under
// the state root (a name no container id can take).
func (r *Runtime) seccompProgram(spec *specs.Spec) (*seccomp.Program, error) {
	if spec.Linux == nil {
		return nil, nil
	}
	return seccomp.CompileCached(spec.Linux.Seccomp, filepath.Join(r.Root, "seccomp@cache"))
}

// withoutSeccomp is spec without its seccomp section, for the bootstrap:
// init gets the compiled filter, and decoding Docker's profile as JSON
// in init would cost more than the rest of its set-up.
func withoutSeccomp(spec *specs.Spec) *specs.Spec {
	if spec.Linux == nil || spec.Linux.Seccomp == nil {
		return spec
	}
	s, l := *spec, *spec.Linux
	l.Seccomp = nil
	s.Linux = &l
	return &s
}
