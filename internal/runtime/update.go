package runtime

import (
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Update changes the resources of a created, running or paused container:
// the fields set in u replace the container's, the result is written to
// its cgroups and remembered in its state.
func (r *Runtime) Update(id string, u *specs.LinuxResources) error {
	unlock, err := r.store().Lock()
	if err != nil {
		return err
	}
	defer unlock()
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(c); st == Stopped || st == Creating {
		return fmt.Errorf("cannot update container %s: it is %s", id, st)
	}
	cur := c.Config.Linux.Resources
	if cur == nil {
		cur = &specs.LinuxResources{}
	}
	merged := MergeResources(*cur, u)
	cg, err := r.cgroupOf(c)
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
		set := func(dst **int64, v *int64) {
			if v != nil {
				*dst = v
			}
		}
		set(&m.Limit, u.Memory.Limit)
		set(&m.Reservation, u.Memory.Reservation)
		set(&m.Swap, u.Memory.Swap)
		set(&m.Kernel, u.Memory.Kernel)
		set(&m.KernelTCP, u.Memory.KernelTCP)
		if u.Memory.Swappiness != nil {
			m.Swappiness = u.Memory.Swappiness
		}
		if u.Memory.DisableOOMKiller != nil {
			m.DisableOOMKiller = u.Memory.DisableOOMKiller
		}
		cur.Memory = &m
	}
	if u.CPU != nil {
		c := specs.LinuxCPU{}
		if cur.CPU != nil {
			c = *cur.CPU
		}
		if u.CPU.Shares != nil {
			c.Shares = u.CPU.Shares
		}
		if u.CPU.Quota != nil {
			c.Quota = u.CPU.Quota
		}
		if u.CPU.Burst != nil {
			c.Burst = u.CPU.Burst
		}
		if u.CPU.Period != nil {
			c.Period = u.CPU.Period
		}
		if u.CPU.RealtimeRuntime != nil {
			c.RealtimeRuntime = u.CPU.RealtimeRuntime
		}
		if u.CPU.RealtimePeriod != nil {
			c.RealtimePeriod = u.CPU.RealtimePeriod
		}
		if u.CPU.Cpus != "" {
			c.Cpus = u.CPU.Cpus
		}
		if u.CPU.Mems != "" {
			c.Mems = u.CPU.Mems
		}
		if u.CPU.Idle != nil {
			c.Idle = u.CPU.Idle
		}
		cur.CPU = &c
	}
	if u.Pids != nil {
		cur.Pids = u.Pids
	}
	if u.BlockIO != nil {
		cur.BlockIO = u.BlockIO
	}
	if u.HugepageLimits != nil {
		cur.HugepageLimits = u.HugepageLimits
	}
	if u.Network != nil {
		cur.Network = u.Network
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
