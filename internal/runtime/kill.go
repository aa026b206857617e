package runtime

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups"
	"github.com/berth-project/berth/internal/state"
)

// ParseSignal accepts "TERM", "SIGTERM", "term" or "15"; 0 checks that
// the process is there and sends nothing, as kill(2) does.
func ParseSignal(s string) (unix.Signal, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal %q", s)
		}
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig, nil
	}
	return 0, fmt.Errorf("invalid signal %q", s)
}

// Kill sends sig to the container's init, or with all to every process in
// its cgroup.
func (r *Runtime) Kill(id string, sig unix.Signal, all bool) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	st := r.status(c)
	if st == Stopped && !all {
		return fmt.Errorf("cannot kill container %s: it is not running", id)
	}
	if all {
		return r.signalAll(c, sig)
	}
	return signalInit(c, sig)
}

// signalInit signals init through a pidfd opened after checking its start
// time, so a recycled pid is never hit.
func signalInit(c *state.Container, sig unix.Signal) error {
	pfd, err := unix.PidfdOpen(c.Pid, 0)
	if err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("signal container %s: %w", c.ID, err)
	}
	defer unix.Close(pfd) // a descriptor of ours: close fails only on a bad one
	if !state.Alive(c.Pid, c.StartTime) {
		return nil
	}
	if err := unix.PidfdSendSignal(pfd, sig, nil, 0); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("signal container %s: %w", c.ID, err)
	}
	return nil
}

func (r *Runtime) cgroupOfContainer(c *state.Container) (cgroups.Manager, error) {
	if c.NoCgroup {
		return cgroups.None{}, nil
	}
	host, err := cgroups.DetectHost()
	if err != nil {
		return nil, err
	}
	return r.cgroupOf(host, c), nil
}

// cgroupOf is the manager of c's cgroup on host (None without one).
func (r *Runtime) cgroupOf(host *cgroups.Host, c *state.Container) cgroups.Manager {
	if c.NoCgroup {
		return cgroups.None{}
	}
	return cgroups.New(host, cgroups.State{Path: c.Cgroup, Created: c.CgroupCreated})
}

func (r *Runtime) signalAll(c *state.Container, sig unix.Signal) error {
	if c.NoCgroup {
		// Nothing lists the container's processes: init gets the
		// signal, and a SIGKILL of the PID namespace's init ends them all.
		return signalInit(c, sig)
	}
	cg, err := r.cgroupOfContainer(c)
	if err != nil {
		return err
	}
	pids, err := cg.Pids()
	if err != nil {
		return err
	}
	for _, p := range pids {
		if err := unix.Kill(p, sig); err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal pid %d of container %s: %w", p, c.ID, err)
		}
	}
	return nil
}

// killAndWait kills everything in the container and waits until init and
// the cgroup's processes are gone (a zombie counts as gone).
func (r *Runtime) killAndWait(c *state.Container) error {
	if err := signalInit(c, unix.SIGKILL); err != nil {
		return err
	}
	if err := r.signalAll(c, unix.SIGKILL); err != nil {
		r.warnf("%v", err)
	}
	// Frozen processes die only once thawed.
	if cg, err := r.cgroupOfContainer(c); err == nil {
		if frozen, _ := cg.Frozen(); frozen {
			if err := cg.Freeze(false); err != nil {
				r.warnf("thaw container %s to kill it: %v", c.ID, err)
			}
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for wait := 50 * time.Microsecond; state.Alive(c.Pid, c.StartTime); {
		if time.Now().After(deadline) {
			return fmt.Errorf("container %s: init %d did not die after SIGKILL", c.ID, c.Pid)
		}
		time.Sleep(wait)
		if wait < 10*time.Millisecond {
			wait *= 2
		}
	}
	return nil
}
