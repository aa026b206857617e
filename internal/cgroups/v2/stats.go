package v2

import (
	"strings"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// Stats reads the container's usage.
func (m *Manager) Stats() (*fscommon.Stats, error) {
	d := m.dir()
	s := &fscommon.Stats{}
	cpu := fscommon.ReadKeyed(d, "cpu.stat")
	s.CPU.Usage = fscommon.CPUUsage{Total: cpu["usage_usec"] * 1000, User: cpu["user_usec"] * 1000, Kernel: cpu["system_usec"] * 1000}
	s.CPU.Throttling = fscommon.Throttling{Periods: cpu["nr_periods"], ThrottledPeriods: cpu["nr_throttled"], ThrottledTime: cpu["throttled_usec"] * 1000}
	events := fscommon.ReadKeyed(d, "memory.events")
	s.Memory.Usage = fscommon.MemoryEntry{Usage: fscommon.ReadUint(d, "memory.current"), Max: fscommon.ReadUint(d, "memory.peak"),
		Limit: fscommon.ReadUint(d, "memory.max"), Failcnt: events["max"]}
	s.Memory.Swap = fscommon.MemoryEntry{Usage: fscommon.ReadUint(d, "memory.swap.current"), Limit: fscommon.ReadUint(d, "memory.swap.max")}
	s.Memory.Raw = fscommon.ReadKeyed(d, "memory.stat")
	s.Memory.Cache = s.Memory.Raw["file"]
	s.Pids = fscommon.PidsStats{Current: fscommon.ReadUint(d, "pids.current"), Limit: fscommon.ReadUint(d, "pids.max")}
	if data, err := fscommon.ReadFile(d, "io.stat"); err == nil {
		for _, l := range strings.Split(data, "\n") {
			f := strings.Fields(l)
			if len(f) < 2 {
				continue
			}
			maj, min, ok := fscommon.ParseDev(f[0])
			if !ok {
				continue
			}
			kv := fscommon.ParseKV(f[1:])
			s.Blkio.IoServiceBytesRecursive = append(s.Blkio.IoServiceBytesRecursive,
				fscommon.BlkioEntry{Major: maj, Minor: min, Op: "Read", Value: kv["rbytes"]},
				fscommon.BlkioEntry{Major: maj, Minor: min, Op: "Write", Value: kv["wbytes"]})
			s.Blkio.IoServicedRecursive = append(s.Blkio.IoServicedRecursive,
				fscommon.BlkioEntry{Major: maj, Minor: min, Op: "Read", Value: kv["rios"]},
				fscommon.BlkioEntry{Major: maj, Minor: min, Op: "Write", Value: kv["wios"]})
		}
	}
	s.Hugetlb = fscommon.Hugetlb2(d)
	return s, nil
}

// OOMKills counts the container's processes killed by the OOM killer.
func (m *Manager) OOMKills() (uint64, error) {
	return fscommon.ReadKeyed(m.dir(), "memory.events")["oom_kill"], nil
}
