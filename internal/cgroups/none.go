package cgroups

import (
	"errors"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ErrNoCgroup is what None says to what needs a cgroup.
var ErrNoCgroup = errors.New("the container has no cgroup: none is delegated to this user")

// None is the manager of a container without a cgroup: a rootless
// runtime's where no cgroup is delegated to the user. Its processes stay
// in the caller's cgroup; nothing is limited, counted or frozen.
type None struct{}

func (None) Create() error                                 { return nil }
func (None) Join(int) error                                { return nil }
func (None) JoinSub(int, map[string]string) error          { return ErrNoCgroup }
func (None) CloneFD() (int, bool, error)                   { return -1, false, nil }
func (None) SelfJoinFiles() []string                       { return nil }
func (None) Paths() map[string]string                      { return map[string]string{} }
func (None) Pids() ([]int, error)                          { return nil, nil }
func (None) Freeze(bool) error                             { return ErrNoCgroup }
func (None) Frozen() (bool, error)                         { return false, nil }
func (None) Stats() (*Stats, error)                        { return &Stats{}, nil }
func (None) OOMKills() (uint64, error)                     { return 0, nil }
func (None) Destroy() error                                { return nil }
func (None) Set(r *specs.LinuxResources) ([]string, error) { return nil, checkNoLimits(r) }

// checkNoLimits refuses resources that would need a cgroup to enforce.
func checkNoLimits(r *specs.LinuxResources) error {
	if HasLimits(r) {
		return errors.New("resource limits cannot be applied: no cgroup is delegated to this user (run without limits, or with a delegated cgroup v2 subtree)")
	}
	return nil
}

// HasLimits reports whether r asks for any limit (device rules aside,
// which the container's own /dev already bounds).
func HasLimits(r *specs.LinuxResources) bool {
	if r == nil {
		return false
	}
	if m := r.Memory; m != nil && (m.Limit != nil || m.Reservation != nil || m.Swap != nil || m.Kernel != nil || m.KernelTCP != nil || m.Swappiness != nil) {
		return true
	}
	if c := r.CPU; c != nil && (c.Shares != nil || c.Quota != nil || c.Period != nil || c.RealtimeRuntime != nil || c.Cpus != "" || c.Mems != "" || c.Idle != nil) {
		return true
	}
	if r.Pids != nil && r.Pids.Limit != nil && *r.Pids.Limit > 0 {
		return true
	}
	if b := r.BlockIO; b != nil && (b.Weight != nil || b.LeafWeight != nil || len(b.WeightDevice) > 0 || len(b.ThrottleReadBpsDevice) > 0 ||
		len(b.ThrottleWriteBpsDevice) > 0 || len(b.ThrottleReadIOPSDevice) > 0 || len(b.ThrottleWriteIOPSDevice) > 0) {
		return true
	}
	return len(r.HugepageLimits) > 0 || len(r.Unified) > 0 || r.Network != nil || len(r.Rdma) > 0
}

// Writable reports whether a cgroup at path (cleaned, as CleanPath
// makes it) could be made: the caller may write the nearest existing
// directory on its way in every hierarchy of the host.
func Writable(h *Host, path string) bool {
	roots := []string{}
	if h.Mode == ModeV2 {
		roots = append(roots, h.Unified)
	} else {
		for _, mp := range h.V1 {
			roots = append(roots, mp)
		}
	}
	for _, root := range roots {
		dir := filepath.Join(root, path)
		for dir != root && !exists(dir) {
			dir = filepath.Dir(dir)
		}
		if unix.Access(dir, unix.W_OK) != nil {
			return false
		}
	}
	return len(roots) > 0
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
func (None) Created() []string { return nil }
