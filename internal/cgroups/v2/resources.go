package v2

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// Set writes r into the container's cgroup. What cgroup v2 has no
// equivalent for (swappiness, kernel memory, the OOM killer switch, leaf
// weights, net_cls/net_prio) comes back as warnings. Device rules become
// an eBPF program attached to the cgroup (devices.go).
func (m *Manager) Set(r *specs.LinuxResources) ([]string, error) {
	var w fscommon.Warnings
	if r == nil {
		return nil, nil
	}
	d := m.dir()
	if err := m.enable(r); err != nil {
		return w, err
	}
	if mem := r.Memory; mem != nil {
		if mem.Limit != nil {
			if err := fscommon.WriteFile(d, "memory.max", fscommon.Max(*mem.Limit)); err != nil {
				return w, err
			}
		}
		if mem.Reservation != nil {
			if err := fscommon.WriteFile(d, "memory.low", fscommon.Max(*mem.Reservation)); err != nil {
				return w, err
			}
		}
		if mem.Swap != nil {
			v, err := SwapMax(mem.Swap, mem.Limit)
			if err != nil {
				return w, err
			}
			if err := w.Soft(fscommon.WriteFile(d, "memory.swap.max", v), "memory.swap"); err != nil {
				return w, err
			}
		}
		if mem.Swappiness != nil {
			w = append(w, "memory.swappiness not applied: cgroup v2 has no per-cgroup swappiness")
		}
		if mem.Kernel != nil || mem.KernelTCP != nil {
			w = append(w, "memory.kernel/kernelTCP not applied: cgroup v2 accounts kernel memory in memory.max")
		}
		if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
			w = append(w, "memory.disableOOMKiller not applied: cgroup v2 cannot disable the OOM killer")
		}
	}
	if c := r.CPU; c != nil {
		if c.Shares != nil {
			if err := fscommon.WriteFile(d, "cpu.weight", strconv.FormatUint(SharesToWeight(*c.Shares), 10)); err != nil {
				return w, err
			}
		}
		if c.Quota != nil || c.Period != nil {
			if err := fscommon.WriteFile(d, "cpu.max", CPUMax(c.Quota, c.Period)); err != nil {
				return w, err
			}
		}
		if c.Burst != nil {
			if err := w.Soft(fscommon.WriteFile(d, "cpu.max.burst", strconv.FormatUint(*c.Burst, 10)), "cpu.burst"); err != nil {
				return w, err
			}
		}
		if c.Idle != nil {
			if err := w.Soft(fscommon.WriteFile(d, "cpu.idle", strconv.FormatInt(*c.Idle, 10)), "cpu.idle"); err != nil {
				return w, err
			}
		}
		if c.RealtimePeriod != nil || c.RealtimeRuntime != nil {
			w = append(w, "cpu.realtimePeriod/Runtime not applied: cgroup v2 has no RT group scheduling")
		}
		if c.Cpus != "" {
			if err := fscommon.WriteFile(d, "cpuset.cpus", c.Cpus); err != nil {
				return w, err
			}
		}
		if c.Mems != "" {
			if err := fscommon.WriteFile(d, "cpuset.mems", c.Mems); err != nil {
				return w, err
			}
		}
	}
	if r.Pids != nil && r.Pids.Limit != nil {
		limit := *r.Pids.Limit
		if limit == 0 {
			limit = -1
		}
		if err := fscommon.WriteFile(d, "pids.max", fscommon.Max(limit)); err != nil {
			return w, err
		}
	}
	if b := r.BlockIO; b != nil {
		if err := setIO(d, b, &w); err != nil {
			return w, err
		}
	}
	for _, h := range r.HugepageLimits {
		if err := fscommon.WriteFile(d, "hugetlb."+h.Pagesize+".max", strconv.FormatUint(h.Limit, 10)); err != nil {
			return w, err
		}
	}
	if n := r.Network; n != nil && (n.ClassID != nil || len(n.Priorities) > 0) {
		w = append(w, "network.classID/priorities not applied: net_cls and net_prio exist only in cgroup v1")
	}
	if len(r.Devices) > 0 && !allowsAll(r.Devices) {
		if err := attachDeviceFilter(d, r.Devices); err != nil {
			return w, fmt.Errorf("linux.resources.devices: %w", err)
		}
	}
	if err := fscommon.WriteUnified(d, r.Unified); err != nil {
		return w, err
	}
	return w, nil
}

// allowsAll reports whether rules end up allowing every device, which
// needs no program at all.
func allowsAll(rules []specs.LinuxDeviceCgroup) bool {
	last := rules[len(rules)-1]
	return last.Allow && (last.Type == "" || last.Type == "a") && last.Major == nil && last.Minor == nil
}

// enable turns on, in every ancestor's subtree_control, the controllers
// that r needs and the host offers.
func (m *Manager) enable(r *specs.LinuxResources) error {
	avail, _ := os.ReadFile(m.root + "/cgroup.controllers")
	var want []string
	need := map[string]bool{
		"memory": r.Memory != nil, "cpu": r.CPU != nil && (r.CPU.Shares != nil || r.CPU.Quota != nil || r.CPU.Period != nil || r.CPU.Burst != nil || r.CPU.Idle != nil),
		"cpuset": r.CPU != nil && (r.CPU.Cpus != "" || r.CPU.Mems != ""), "pids": r.Pids != nil,
		"io": r.BlockIO != nil, "hugetlb": len(r.HugepageLimits) > 0,
	}
	have := map[string]bool{}
	for _, c := range strings.Fields(string(avail)) {
		have[c] = true
	}
	for _, c := range []string{"cpuset", "cpu", "io", "memory", "hugetlb", "pids"} {
		if !need[c] {
			continue
		}
		if !have[c] {
			return fmt.Errorf("the %s cgroup controller is not available on this host", c)
		}
		want = append(want, c)
	}
	if len(want) == 0 {
		return nil
	}
	return fscommon.EnableControllers(m.root, m.path, want...)
}

func setIO(d string, b *specs.LinuxBlockIO, w *fscommon.Warnings) error {
	if b.Weight != nil && *b.Weight != 0 { // zero is unset, as runc reads it
		// io.weight is 1..10000; blkio.weight was 10..1000.
		v := "default " + strconv.FormatUint(BlkioToIOWeight(uint64(*b.Weight)), 10)
		if err := fscommon.WriteFile(d, "io.weight", v); err != nil {
			if err := w.Soft(fscommon.WriteFile(d, "io.bfq.weight", strconv.Itoa(int(*b.Weight))), "blockIO.weight (no proportional IO control)"); err != nil {
				return err
			}
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		*w = append(*w, "blockIO.leafWeight not applied: cgroup v2 has no leaf weights")
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, BlkioToIOWeight(uint64(*wd.Weight)))
			if err := w.Soft(fscommon.WriteFile(d, "io.weight", v), "blockIO.weightDevice"); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		key  string
		devs []specs.LinuxThrottleDevice
	}{
		{"rbps", b.ThrottleReadBpsDevice}, {"wbps", b.ThrottleWriteBpsDevice},
		{"riops", b.ThrottleReadIOPSDevice}, {"wiops", b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.devs {
			if err := fscommon.WriteFile(d, "io.max", fmt.Sprintf("%d:%d %s=%d", td.Major, td.Minor, t.key, td.Rate)); err != nil {
				return err
			}
		}
	}
	return nil
}

// SharesToWeight converts cgroup v1 cpu.shares (2..262144) to v2
// cpu.weight (1..10000), the mapping runc and crun use.
func SharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 100
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// BlkioToIOWeight maps a v1 blkio weight (10..1000) to io.weight (1..10000).
func BlkioToIOWeight(w uint64) uint64 {
	if w == 0 {
		return 100
	}
	return 1 + (w-10)*9999/990
}

// CPUMax renders cpu.max from a quota and period (microseconds).
func CPUMax(quota *int64, period *uint64) string {
	q := "max"
	if quota != nil && *quota > 0 {
		q = strconv.FormatInt(*quota, 10)
	}
	p := uint64(100000)
	if period != nil && *period > 0 {
		p = *period
	}
	return q + " " + strconv.FormatUint(p, 10)
}

// SwapMax converts the spec's memory+swap total to v2's swap-only limit.
func SwapMax(swap, limit *int64) (string, error) {
	switch {
	case *swap == -1:
		return "max", nil
	case limit == nil || *limit == -1:
		return "", fmt.Errorf("memory.swap %d needs a memory.limit on cgroup v2", *swap)
	case *swap < *limit:
		return "", fmt.Errorf("memory.swap %d must not be below memory.limit %d", *swap, *limit)
	}
	return strconv.FormatInt(*swap-*limit, 10), nil
}
