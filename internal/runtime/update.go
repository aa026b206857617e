package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the resources of a created, running or paused container:
// the fields set in u replace the container's, the result is written to
// its cgroups and remembered in its state.
func (r *Runtime) Update(id string, u *specs.LinuxResources) error {
	c, unlock, err := r.lockAndLoad(id)
	if err != nil {
		return err
	}
	defer unlock()
	if st := r.status(c); st == Stopped || st == Creating {
		return fmt.Errorf("cannot update container %s: it is %s", id, st)
	}
	cur := c.Config.Linux.Resources
	if cur == nil {
		cur = &specs.LinuxResources{}
	}
	// Unlimited memory with swap left as it was is unlimited swap too,
	// as runc reads it: the kernel refuses a memory limit above the
	// swap limit set before.
	if u != nil && u.Memory != nil && u.Memory.Limit != nil && *u.Memory.Limit == -1 && u.Memory.Swap == nil && cur.Memory != nil && cur.Memory.Swap != nil {
		cp, m, unlimited := *u, *u.Memory, int64(-1)
		m.Swap = &unlimited
		cp.Memory = &m
		u = &cp
	}
	merged := MergeResources(*cur, u)
	cg, err := r.cgroupOfContainer(c)
	if err != nil {
		return err
	}
	warnings, err := cg.Set(u)
	for _, w := range warnings {
		r.warnf("%s", w)
	}
	if err != nil {
		return fmt.Errorf("update container %s: %w", id, err)
	}
	c.Config.Linux.Resources = &merged
	return r.store().Save(c)
}

// setIf replaces *dst with v when v is set.
func setIf[T any](dst **T, v *T) {
	if v != nil {
		*dst = v
	}
}

// MergeResources returns cur with every field that u sets replaced.
func MergeResources(cur specs.LinuxResources, u *specs.LinuxResources) specs.LinuxResources {
	if u == nil {
		return cur
	}
	if u.Memory != nil {
		m := specs.LinuxMemory{}
		if cur.Memory != nil {
			m = *cur.Memory
		}
		setIf(&m.Limit, u.Memory.Limit)
		setIf(&m.Reservation, u.Memory.Reservation)
		setIf(&m.Swap, u.Memory.Swap)
		setIf(&m.Kernel, u.Memory.Kernel)
		setIf(&m.KernelTCP, u.Memory.KernelTCP)
		setIf(&m.Swappiness, u.Memory.Swappiness)
		setIf(&m.DisableOOMKiller, u.Memory.DisableOOMKiller)
		cur.Memory = &m
	}
	if u.CPU != nil {
		c := specs.LinuxCPU{}
		if cur.CPU != nil {
			c = *cur.CPU
		}
		setIf(&c.Shares, u.CPU.Shares)
		setIf(&c.Quota, u.CPU.Quota)
		setIf(&c.Burst, u.CPU.Burst)
		setIf(&c.Period, u.CPU.Period)
		setIf(&c.RealtimeRuntime, u.CPU.RealtimeRuntime)
		setIf(&c.RealtimePeriod, u.CPU.RealtimePeriod)
		setIf(&c.Idle, u.CPU.Idle)
		if u.CPU.Cpus != "" {
			c.Cpus = u.CPU.Cpus
		}
		if u.CPU.Mems != "" {
			c.Mems = u.CPU.Mems
		}
		cur.CPU = &c
	}
	setIf(&cur.Pids, u.Pids)
	setIf(&cur.BlockIO, u.BlockIO)
	setIf(&cur.Network, u.Network)
	if u.HugepageLimits != nil {
		cur.HugepageLimits = u.HugepageLimits
	}
	if u.Devices != nil {
		cur.Devices = append(cur.Devices, u.Devices...)
	}
	if u.Unified != nil {
		if cur.Unified == nil {
			cur.Unified = map[string]string{}
		}
		for k, v := range u.Unified {
			cur.Unified[k] = v
		}
	}
	return cur
}
