package engine

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/container"
)

// ContainerTop lists a running container's processes: UID, PID, PPID
// and CMD, as Docker's top shows by default.
func (e *Engine) ContainerTop(ref, psArgs string) (mobycontainer.TopResponse, error) {
	resp := mobycontainer.TopResponse{Titles: []string{"UID", "PID", "PPID", "CMD"}, Processes: [][]string{}}
	c, err := e.get(ref)
	if err != nil {
		return resp, err
	}
	if c.State.Status != container.Running {
		return resp, conflict(fmt.Errorf("container %s is not running", c.Name))
	}
	pids, err := e.rt.Pids(c.ID)
	if err != nil {
		return resp, err
	}
	if psArgs != "" {
		return psTop(psArgs, pids)
	}
	for _, pid := range pids {
		if row, ok := procRow(pid); ok {
			resp.Processes = append(resp.Processes, row)
		}
	}
	return resp, nil
}

// psTop is top with ps options (top CONTAINER aux), as Docker's: the
// host's ps with them, its lines kept for the container's processes,
// found by the header's PID column.
func psTop(psArgs string, pids []int) (mobycontainer.TopResponse, error) {
	resp := mobycontainer.TopResponse{Processes: [][]string{}}
	out, err := exec.Command("ps", strings.Fields(psArgs)...).Output()
	if err != nil {
		return resp, invalid(fmt.Errorf("ps %s: %w", psArgs, err))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	resp.Titles = strings.Fields(lines[0])
	col := slices.Index(resp.Titles, "PID")
	if col < 0 {
		return resp, invalid(fmt.Errorf("ps %s: its output has no PID column", psArgs))
	}
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !slices.Contains(pids, pid) {
			continue
		}
		// The last title takes the rest of the line (a command's args).
		if n := len(resp.Titles); len(f) > n {
			f = append(f[:n-1], strings.Join(f[n-1:], " "))
		}
		resp.Processes = append(resp.Processes, f)
	}
	return resp, nil
}

// procRow reads one process for top; false when it has ended meanwhile.
func procRow(pid int) ([]string, bool) {
	dir := "/proc/" + strconv.Itoa(pid)
	status, err := os.ReadFile(dir + "/status")
	if err != nil {
		return nil, false
	}
	uid, ppid := "", ""
	for _, l := range strings.Split(string(status), "\n") {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == "Uid:" {
			uid = f[1]
		}
		if len(f) >= 2 && f[0] == "PPid:" {
			ppid = f[1]
		}
	}
	cmd, err := os.ReadFile(dir + "/cmdline")
	if err != nil {
		return nil, false
	}
	return []string{uid, strconv.Itoa(pid), ppid, strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))}, true
}

// ContainerStats samples a running container's resource use, as
// Docker's stats API reports one sample: CPU time with the host's, for
// a percentage between two samples (CPUPercent); memory with its
// limit (the host's memory when unlimited); the process count.
func (e *Engine) ContainerStats(ref string) (mobycontainer.StatsResponse, error) {
	c, err := e.get(ref)
	if err != nil {
		return mobycontainer.StatsResponse{}, err
	}
	if c.State.Status != container.Running {
		return mobycontainer.StatsResponse{}, conflict(fmt.Errorf("container %s is not running", c.Name))
	}
	s, err := e.rt.Stats(c.ID)
	if err != nil {
		return mobycontainer.StatsResponse{}, fmt.Errorf("stats of %s: %w", c.Name, err)
	}
	out := mobycontainer.StatsResponse{ID: c.ID, Name: "/" + c.Name, OSType: "linux", Read: time.Now()}
	out.CPUStats.CPUUsage.TotalUsage = s.CPU.Usage.Total
	out.CPUStats.CPUUsage.UsageInKernelmode = s.CPU.Usage.Kernel
	out.CPUStats.CPUUsage.UsageInUsermode = s.CPU.Usage.User
	out.CPUStats.SystemUsage = systemCPU()
	out.CPUStats.OnlineCPUs = uint32(runtime.NumCPU())
	out.MemoryStats.Usage = s.Memory.Usage.Usage
	out.MemoryStats.MaxUsage = s.Memory.Usage.Max
	out.MemoryStats.Limit = s.Memory.Usage.Limit
	if out.MemoryStats.Limit == 0 || out.MemoryStats.Limit > 1<<62 {
		out.MemoryStats.Limit = hostMemory()
	}
	out.PidsStats.Current = s.Pids.Current
	out.PidsStats.Limit = s.Pids.Limit
	if c.Host.OwnNetworkNamespace() {
		out.Networks = netStats(c.State.Pid)
	}
	for _, b := range s.Blkio.IoServiceBytesRecursive {
		out.BlkioStats.IoServiceBytesRecursive = append(out.BlkioStats.IoServiceBytesRecursive,
			mobycontainer.BlkioStatEntry{Major: b.Major, Minor: b.Minor, Op: b.Op, Value: b.Value})
	}
	return out, nil
}

// netStats are the counters of a container's interfaces but lo, from
// /proc/PID/net/dev, which shows its init's network namespace; nil if
// unreadable (init just ended).
func netStats(pid int) map[string]mobycontainer.NetworkStats {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/dev")
	if err != nil {
		return nil
	}
	out := map[string]mobycontainer.NetworkStats{}
	for _, line := range strings.Split(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		f := strings.Fields(rest)
		if !ok || name == "lo" || len(f) < 16 {
			continue
		}
		n := make([]uint64, 16)
		for i := range n {
			n[i], _ = strconv.ParseUint(f[i], 10, 64) // the kernel writes numbers
		}
		out[name] = mobycontainer.NetworkStats{RxBytes: n[0], RxPackets: n[1], RxErrors: n[2], RxDropped: n[3],
			TxBytes: n[8], TxPackets: n[9], TxErrors: n[10], TxDropped: n[11]}
	}
	return out
}

// CPUPercent is the container's share of the host's CPUs between two
// samples, as Docker's CLI computes it (100% is one CPU busy).
func CPUPercent(prev, cur mobycontainer.StatsResponse) float64 {
	cpu := float64(cur.CPUStats.CPUUsage.TotalUsage) - float64(prev.CPUStats.CPUUsage.TotalUsage)
	sys := float64(cur.CPUStats.SystemUsage) - float64(prev.CPUStats.SystemUsage)
	if cpu <= 0 || sys <= 0 {
		return 0
	}
	return cpu / sys * float64(cur.CPUStats.OnlineCPUs) * 100
}

// systemCPU is the host's CPU time in nanoseconds, all CPUs, from
// /proc/stat (in clock ticks of 1/100 s on Linux); 0 if unreadable.
func systemCPU() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, v := range f[1:8] {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0
		}
		ticks += n
	}
	return ticks * (1e9 / 100)
}

// hostMemory is the host's memory in bytes, 0 if unreadable.
func hostMemory() uint64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) >= 2 {
		kb, err := strconv.ParseUint(f[1], 10, 64)
		if err == nil {
			return kb << 10
		}
	}
	return 0
}
