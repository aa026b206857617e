package runtime

import (
	"github.com/berth-project/berth/internal/cgroups"
	"github.com/berth-project/berth/internal/state"
)

// Pids lists the processes in a container's cgroup, as the host sees them.
func (r *Runtime) Pids(id string) ([]int, error) {
	_, cg, err := r.withCgroup(id)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}

// withCgroup loads a container and its cgroup manager.
func (r *Runtime) withCgroup(id string) (*state.Container, cgroups.Manager, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, nil, err
	}
	cg, err := r.cgroupOfContainer(c)
	if err != nil {
		return nil, nil, err
	}
	return c, cg, nil
}

// OOMKills counts the container's processes the OOM killer ended; the
// engine's monitor asks before it deletes the container.
func (r *Runtime) OOMKills(id string) (uint64, error) {
	_, cg, err := r.withCgroup(id)
	if err != nil {
		return 0, err
	}
	return cg.OOMKills()
}
