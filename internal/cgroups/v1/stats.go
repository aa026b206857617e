package v1

import (
	"path/filepath"
	"strconv"
	"strings"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// userHZ is the unit of cpuacct.stat.
const userHZ = 100

// Stats reads the container's usage from every mounted controller.
func (m *Manager) Stats() (*fscommon.Stats, error) {
	s := &fscommon.Stats{}
	if d, ok := m.dir("cpuacct"); ok {
		s.CPU.Usage.Total = fscommon.ReadUint(d, "cpuacct.usage")
		if pc, err := fscommon.ReadFile(d, "cpuacct.usage_percpu"); err == nil {
			for _, f := range strings.Fields(pc) {
				v, _ := strconv.ParseUint(f, 10, 64)
				s.CPU.Usage.Percpu = append(s.CPU.Usage.Percpu, v)
			}
		}
		st := fscommon.ReadKeyed(d, "cpuacct.stat")
		s.CPU.Usage.User = st["user"] * (1e9 / userHZ)
		s.CPU.Usage.Kernel = st["system"] * (1e9 / userHZ)
	}
	if d, ok := m.dir("cpu"); ok {
		st := fscommon.ReadKeyed(d, "cpu.stat")
		s.CPU.Throttling = fscommon.Throttling{Periods: st["nr_periods"], ThrottledPeriods: st["nr_throttled"], ThrottledTime: st["throttled_time"]}
	}
	if d, ok := m.dir("memory"); ok {
		entry := func(prefix string) fscommon.MemoryEntry {
			return fscommon.MemoryEntry{
				Limit: fscommon.ReadUint(d, prefix+"limit_in_bytes"), Usage: fscommon.ReadUint(d, prefix+"usage_in_bytes"),
				Max: fscommon.ReadUint(d, prefix+"max_usage_in_bytes"), Failcnt: fscommon.ReadUint(d, prefix+"failcnt"),
			}
		}
		s.Memory.Usage = entry("memory.")
		s.Memory.Swap = entry("memory.memsw.")
		s.Memory.Kernel = entry("memory.kmem.")
		s.Memory.Raw = fscommon.ReadKeyed(d, "memory.stat")
		s.Memory.Cache = s.Memory.Raw["total_cache"]
	}
	if d, ok := m.dir("pids"); ok {
		s.Pids = fscommon.PidsStats{Current: fscommon.ReadUint(d, "pids.current"), Limit: fscommon.ReadUint(d, "pids.max")}
	}
	if d, ok := m.dir("blkio"); ok {
		s.Blkio.IoServiceBytesRecursive = blkioEntries(d, "blkio.throttle.io_service_bytes_recursive")
		s.Blkio.IoServicedRecursive = blkioEntries(d, "blkio.throttle.io_serviced_recursive")
	}
	if root, ok := m.roots[unified]; ok {
		s.Hugetlb = fscommon.Hugetlb2(filepath.Join(root, m.path))
	}
	return s, nil
}

// blkioEntries parses "maj:min Op value" lines.
func blkioEntries(dir, file string) []fscommon.BlkioEntry {
	data, err := fscommon.ReadFile(dir, file)
	if err != nil {
		return nil
	}
	var out []fscommon.BlkioEntry
	for _, l := range strings.Split(data, "\n") {
		f := strings.Fields(l)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := fscommon.ParseDev(f[0])
		v, err := strconv.ParseUint(f[2], 10, 64)
		if ok && err == nil {
			out = append(out, fscommon.BlkioEntry{Major: maj, Minor: min, Op: f[1], Value: v})
		}
	}
	return out
}

// OOMKills counts the container's processes killed by the OOM killer.
func (m *Manager) OOMKills() (uint64, error) {
	d, ok := m.dir("memory")
	if !ok {
		return 0, nil
	}
	return fscommon.ReadKeyed(d, "memory.oom_control")["oom_kill"], nil
}
