package fscommon

import (
	"bufio"
	"path/filepath"
	"strconv"
	"strings"
)

// Stats is a container's resource usage, shaped as runc's events data so
// that tools reading runc's output read berth's.
type Stats struct {
	CPU     CPUStats           `json:"cpu"`
	Memory  MemoryStats        `json:"memory"`
	Pids    PidsStats          `json:"pids"`
	Blkio   BlkioStats         `json:"blkio"`
	Hugetlb map[string]Hugetlb `json:"hugetlb,omitempty"`
}

// CPUStats: times in nanoseconds.
type CPUStats struct {
	Usage      CPUUsage   `json:"usage"`
	Throttling Throttling `json:"throttling"`
}

// CPUUsage: times in nanoseconds.
type CPUUsage struct {
	Total  uint64   `json:"total"`
	Percpu []uint64 `json:"percpu,omitempty"`
	Kernel uint64   `json:"kernel"`
	User   uint64   `json:"user"`
}

// Throttling counts CFS periods and the time spent throttled (ns).
type Throttling struct {
	Periods          uint64 `json:"periods,omitempty"`
	ThrottledPeriods uint64 `json:"throttledPeriods,omitempty"`
	ThrottledTime    uint64 `json:"throttledTime,omitempty"`
}

// MemoryStats: bytes.
type MemoryStats struct {
	Cache  uint64            `json:"cache,omitempty"`
	Usage  MemoryEntry       `json:"usage"`
	Swap   MemoryEntry       `json:"swap"`
	Kernel MemoryEntry       `json:"kernel"`
	Raw    map[string]uint64 `json:"raw,omitempty"`
}

// MemoryEntry is one memory counter with its limit.
type MemoryEntry struct {
	Limit   uint64 `json:"limit"`
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// PidsStats counts tasks.
type PidsStats struct {
	Current uint64 `json:"current,omitempty"`
	Limit   uint64 `json:"limit,omitempty"`
}

// BlkioStats lists bytes and operations per device.
type BlkioStats struct {
	IoServiceBytesRecursive []BlkioEntry `json:"ioServiceBytesRecursive,omitempty"`
	IoServicedRecursive     []BlkioEntry `json:"ioServicedRecursive,omitempty"`
}

// BlkioEntry is one device's counter for one operation.
type BlkioEntry struct {
	Major uint64 `json:"major,omitempty"`
	Minor uint64 `json:"minor,omitempty"`
	Op    string `json:"op,omitempty"`
	Value uint64 `json:"value,omitempty"`
}

// Hugetlb is one page size's usage.
type Hugetlb struct {
	Usage   uint64 `json:"usage,omitempty"`
	Max     uint64 `json:"max,omitempty"`
	Failcnt uint64 `json:"failcnt"`
}

// ReadUint reads a file holding one number; "max" and missing files read
// as 0 (no limit, or not offered by this host).
func ReadUint(dir, file string) uint64 {
	s, err := ReadFile(dir, file)
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	return v
}

// ReadKeyed parses "key value" lines (memory.stat, cpu.stat, ...).
func ReadKeyed(dir, file string) map[string]uint64 {
	s, err := ReadFile(dir, file)
	if err != nil {
		return nil
	}
	m := map[string]uint64{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			if v, err := strconv.ParseUint(f[1], 10, 64); err == nil {
				m[f[0]] = v
			}
		}
	}
	return m
}

// ParseDev reads "maj:min".
func ParseDev(s string) (uint64, uint64, bool) {
	a, b, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}

// ParseKV reads "key=value" fields (io.stat).
func ParseKV(fields []string) map[string]uint64 {
	m := map[string]uint64{}
	for _, f := range fields {
		if k, v, ok := strings.Cut(f, "="); ok {
			n, _ := strconv.ParseUint(v, 10, 64)
			m[k] = n
		}
	}
	return m
}

// Hugetlb2 reads the hugetlb.<size>.* files of a cgroup2 directory.
func Hugetlb2(dir string) map[string]Hugetlb {
	out := map[string]Hugetlb{}
	ents, _ := filepath.Glob(filepath.Join(dir, "hugetlb.*.current"))
	for _, e := range ents {
		size := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(e), "hugetlb."), ".current")
		ev := ReadKeyed(dir, "hugetlb."+size+".events")
		out[size] = Hugetlb{Usage: ReadUint(dir, "hugetlb."+size+".current"), Max: ReadUint(dir, "hugetlb."+size+".max"), Failcnt: ev["max"]}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
