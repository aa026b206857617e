package runtime

// Pids lists the processes in a container's cgroup, as the host sees them.
func (r *Runtime) Pids(id string) ([]int, error) {
	c, err := r.load(id)
	if err != nil {
		return nil, err
	}
	cg, err := r.cgroupOf(c)
	if err != nil {
		return nil, err
	}
	return cg.Pids()
}
