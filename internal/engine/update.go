package engine

import (
	"errors"
	"fmt"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
)

// ContainerUpdate changes a container's limits and restart policy, as
// docker update does: in its record, for its next starts, and in its
// cgroups at once while it runs. Fields left zero keep their values.
func (e *Engine) ContainerUpdate(ref string, u mobycontainer.UpdateConfig) (mobycontainer.UpdateResponse, error) {
	c, err := e.get(ref)
	if err != nil {
		return mobycontainer.UpdateResponse{}, err
	}
	h, err := updated(c.Host, u)
	if err != nil {
		return mobycontainer.UpdateResponse{}, err
	}
	if c.State.Status == container.Running {
		if err := e.rt.Update(c.ID, container.Resources(h)); err != nil {
			return mobycontainer.UpdateResponse{}, fmt.Errorf("update %s: %w", c.Name, err)
		}
	}
	if _, err := e.containers.Update(c.ID, func(cur *container.Container) error {
		cur.Host = h
		return nil
	}); err != nil {
		return mobycontainer.UpdateResponse{}, err
	}
	return mobycontainer.UpdateResponse{Warnings: []string{}}, nil
}

// updated is h with u applied, checked as create checks them.
func updated(h container.Host, u mobycontainer.UpdateConfig) (container.Host, error) {
	r := u.Resources
	if r.Memory != 0 {
		if r.Memory < minMemory {
			return h, invalid(errors.New("Minimum memory limit allowed is 6MB"))
		}
		h.Memory = r.Memory
	}
	if r.MemorySwap != 0 {
		h.MemorySwap = r.MemorySwap
	}
	if h.MemorySwap > 0 && h.MemorySwap < h.Memory {
		return h, invalid(errors.New("Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time"))
	}
	if r.CPUShares < 0 {
		return h, invalid(errors.New("CPU shares must not be negative"))
	}
	if r.CPUShares != 0 {
		h.CPUShares = uint64(r.CPUShares)
	}
	if r.NanoCPUs != 0 {
		h.NanoCPUs = r.NanoCPUs
	}
	if r.CpusetCpus != "" {
		h.CpusetCpus = r.CpusetCpus
	}
	if r.PidsLimit != nil {
		h.PidsLimit = *r.PidsLimit
	}
	if r.CPUPeriod != 0 {
		h.CPUPeriod = r.CPUPeriod
	}
	if r.CPUQuota != 0 {
		h.CPUQuota = r.CPUQuota
	}
	if r.CpusetMems != "" {
		h.CpusetMems = r.CpusetMems
	}
	if r.MemoryReservation != 0 {
		h.MemoryReservation = r.MemoryReservation
	}
	if r.BlkioWeight != 0 {
		h.BlkioWeight = r.BlkioWeight
	}
	if r.CPURealtimePeriod > 0 {
		h.CPURealtimePeriod = uint64(r.CPURealtimePeriod)
	}
	if r.CPURealtimeRuntime != 0 {
		h.CPURealtimeRuntime = r.CPURealtimeRuntime
	}
	if h.CPURealtimePeriod > 0 && h.CPURealtimeRuntime > int64(h.CPURealtimePeriod) {
		return h, invalid(errors.New("cpu real-time runtime cannot be higher than cpu real-time period"))
	}
	if err := checkResources(mobycontainer.HostConfig{Resources: mobycontainer.Resources{NanoCPUs: h.NanoCPUs, CPUPeriod: h.CPUPeriod,
		CPUQuota: h.CPUQuota, BlkioWeight: h.BlkioWeight, Memory: h.Memory, MemoryReservation: h.MemoryReservation}}); err != nil {
		return h, err
	}
	if p := u.RestartPolicy; p.Name != "" {
		if h.AutoRemove && p.Name != "no" {
			return h, invalid(errors.New("Restart policy cannot be updated because AutoRemove is enabled for the container"))
		}
		name := string(p.Name)
		if name == "no" {
			name = ""
		}
		if name != "on-failure" && p.MaximumRetryCount != 0 {
			return h, invalid(fmt.Errorf("restart policy %s: only on-failure takes a retry count", p.Name))
		}
		if _, err := container.ParseRestart(name); err != nil {
			return h, invalid(err)
		}
		h.Restart = container.RestartPolicy{Name: name, MaxRetries: p.MaximumRetryCount}
	}
	return h, nil
}

// minMemory is the least memory limit Docker accepts.
const minMemory = 6 << 20
