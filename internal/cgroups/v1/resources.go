package v1

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// dir returns the container's directory in the hierarchy holding
// controller, and whether it is mounted.
func (m *Manager) dir(controller string) (string, bool) {
	for n, root := range m.roots {
		for _, c := range strings.Split(n, ",") {
			if c == controller {
				return filepath.Join(root, m.path), true
			}
		}
	}
	return "", false
}

// Set writes r into the container's cgroups. Knobs the kernel dropped or
// the host does not mount come back as warnings; anything else fails.
func (m *Manager) Set(r *specs.LinuxResources) ([]string, error) {
	var w fscommon.Warnings
	if r == nil {
		return nil, nil
	}
	for _, step := range []func(*specs.LinuxResources, *fscommon.Warnings) error{
		m.setMemory, m.setCPU, m.setPids, m.setBlkio, m.setDevices, m.setHugetlb, m.setNetwork, m.setUnified,
	} {
		if err := step(r, &w); err != nil {
			return w, err
		}
	}
	return w, nil
}

// need returns the controller's directory or an error naming what the
// config asked for.
func (m *Manager) need(controller, what string) (string, error) {
	d, ok := m.dir(controller)
	if !ok {
		return "", fmt.Errorf("%s: the %s cgroup controller is not mounted on this host", what, controller)
	}
	return d, nil
}

func (m *Manager) setMemory(r *specs.LinuxResources, w *fscommon.Warnings) error {
	mem := r.Memory
	if mem == nil {
		return nil
	}
	d, err := m.need("memory", "memory limits")
	if err != nil {
		return err
	}
	write := func(file string, v *int64) error {
		if v == nil {
			return nil
		}
		return fscommon.WriteFile(d, file, strconv.FormatInt(*v, 10))
	}
	// memsw must stay >= limit at every step: memsw goes first only
	// when it grows past the current limit (an update raising both); a
	// new cgroup's limit is "max", so there the limit goes first.
	limitFirst := true
	if mem.Limit != nil && mem.Swap != nil {
		raw, err := fscommon.ReadFile(d, "memory.limit_in_bytes")
		cur, perr := strconv.ParseInt(strings.TrimSpace(raw), 10, 64)
		if *mem.Swap == -1 || err == nil && perr == nil && cur < *mem.Swap {
			limitFirst = false
		}
	}
	order := []func() error{
		func() error { return write("memory.limit_in_bytes", mem.Limit) },
		func() error {
			return w.Soft(write("memory.memsw.limit_in_bytes", mem.Swap), "memory.swap (no swap accounting)")
		},
	}
	if !limitFirst {
		order[0], order[1] = order[1], order[0]
	}
	for _, f := range order {
		if err := f(); err != nil {
			return err
		}
	}
	if err := write("memory.soft_limit_in_bytes", mem.Reservation); err != nil {
		return err
	}
	// Kernel memory limits are deprecated: recent kernels refuse the write
	// or accept it and keep no limit, which only reading back shows.
	if err := w.Soft(write("memory.kmem.limit_in_bytes", mem.Kernel), "memory.kernel (deprecated)"); err != nil {
		return err
	}
	if mem.Kernel != nil && *mem.Kernel > 0 {
		if got := fscommon.ReadUint(d, "memory.kmem.limit_in_bytes"); got != 0 && got != uint64(*mem.Kernel) {
			*w = append(*w, "memory.kernel (deprecated) not applied: this kernel ignores kernel memory limits")
		}
	}
	if err := w.Soft(write("memory.kmem.tcp.limit_in_bytes", mem.KernelTCP), "memory.kernelTCP (deprecated)"); err != nil {
		return err
	}
	if mem.Swappiness != nil {
		if err := fscommon.WriteFile(d, "memory.swappiness", strconv.FormatUint(*mem.Swappiness, 10)); err != nil {
			return err
		}
	}
	if mem.DisableOOMKiller != nil && *mem.DisableOOMKiller {
		if err := fscommon.WriteFile(d, "memory.oom_control", "1"); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setCPU(r *specs.LinuxResources, w *fscommon.Warnings) error {
	c := r.CPU
	if c == nil {
		return nil
	}
	if c.Cpus != "" || c.Mems != "" {
		d, err := m.need("cpuset", "cpu.cpus/mems")
		if err != nil {
			return err
		}
		if c.Cpus != "" {
			if err := fscommon.WriteFile(d, "cpuset.cpus", c.Cpus); err != nil {
				return err
			}
		}
		if c.Mems != "" {
			if err := fscommon.WriteFile(d, "cpuset.mems", c.Mems); err != nil {
				return err
			}
		}
	}
	if c.Shares == nil && c.Quota == nil && c.Period == nil && c.Burst == nil &&
		c.RealtimeRuntime == nil && c.RealtimePeriod == nil && c.Idle == nil {
		return nil
	}
	d, err := m.need("cpu", "cpu limits")
	if err != nil {
		return err
	}
	type kv struct {
		file string
		val  string
		soft string
	}
	var writes []kv
	if c.Shares != nil {
		writes = append(writes, kv{"cpu.shares", strconv.FormatUint(*c.Shares, 10), ""})
	}
	// The period first: a quota is checked against it.
	if c.Period != nil {
		writes = append(writes, kv{"cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10), ""})
	}
	if c.Quota != nil {
		writes = append(writes, kv{"cpu.cfs_quota_us", strconv.FormatInt(*c.Quota, 10), ""})
	}
	if c.Burst != nil {
		writes = append(writes, kv{"cpu.cfs_burst_us", strconv.FormatUint(*c.Burst, 10), "cpu.burst"})
	}
	if c.RealtimePeriod != nil {
		writes = append(writes, kv{"cpu.rt_period_us", strconv.FormatUint(*c.RealtimePeriod, 10), "cpu.realtimePeriod (no RT group scheduling)"})
	}
	if c.RealtimeRuntime != nil {
		writes = append(writes, kv{"cpu.rt_runtime_us", strconv.FormatInt(*c.RealtimeRuntime, 10), "cpu.realtimeRuntime (no RT group scheduling)"})
	}
	if c.Idle != nil {
		writes = append(writes, kv{"cpu.idle", strconv.FormatInt(*c.Idle, 10), "cpu.idle"})
	}
	retryPeriod := false
	for _, x := range writes {
		err := fscommon.WriteFile(d, x.file, x.val)
		if x.soft != "" {
			err = w.Soft(err, x.soft)
		}
		// A shorter period can be refused while the old quota over it
		// exceeds the parent's limit: it goes again after the new quota.
		if err != nil && x.file == "cpu.cfs_period_us" && c.Quota != nil && errors.Is(err, unix.EINVAL) {
			retryPeriod = true
			continue
		}
		if err != nil {
			return err
		}
	}
	if retryPeriod {
		return fscommon.WriteFile(d, "cpu.cfs_period_us", strconv.FormatUint(*c.Period, 10))
	}
	return nil
}

func (m *Manager) setPids(r *specs.LinuxResources, _ *fscommon.Warnings) error {
	if r.Pids == nil || r.Pids.Limit == nil {
		return nil
	}
	d, err := m.need("pids", "pids.limit")
	if err != nil {
		return err
	}
	limit := *r.Pids.Limit
	if limit == 0 {
		limit = -1 // the spec: 0 or -1 mean no limit
	}
	return fscommon.WriteFile(d, "pids.max", fscommon.Max(limit))
}

func (m *Manager) setBlkio(r *specs.LinuxResources, w *fscommon.Warnings) error {
	b := r.BlockIO
	if b == nil {
		return nil
	}
	d, err := m.need("blkio", "blockIO")
	if err != nil {
		return err
	}
	// CFQ is gone; BFQ exposes blkio.bfq.weight when it is the scheduler.
	weightFile := func(plain string) string {
		if _, err := fscommon.ReadFile(d, plain); err == nil {
			return plain
		}
		return strings.Replace(plain, "blkio.", "blkio.bfq.", 1)
	}
	// A zero weight is unset, as runc reads it: Docker sends one for
	// every container.
	if b.Weight != nil && *b.Weight != 0 {
		if err := w.Soft(fscommon.WriteFile(d, weightFile("blkio.weight"), strconv.Itoa(int(*b.Weight))), "blockIO.weight (no proportional IO scheduler)"); err != nil {
			return err
		}
	}
	if b.LeafWeight != nil && *b.LeafWeight != 0 {
		if err := w.Soft(fscommon.WriteFile(d, "blkio.leaf_weight", strconv.Itoa(int(*b.LeafWeight))), "blockIO.leafWeight (removed with CFQ)"); err != nil {
			return err
		}
	}
	for _, wd := range b.WeightDevice {
		if wd.Weight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.Weight)
			if err := w.Soft(fscommon.WriteFile(d, weightFile("blkio.weight_device"), v), "blockIO.weightDevice"); err != nil {
				return err
			}
		}
		if wd.LeafWeight != nil {
			v := fmt.Sprintf("%d:%d %d", wd.Major, wd.Minor, *wd.LeafWeight)
			if err := w.Soft(fscommon.WriteFile(d, "blkio.leaf_weight_device", v), "blockIO.weightDevice leafWeight (removed with CFQ)"); err != nil {
				return err
			}
		}
	}
	for _, t := range []struct {
		file string
		devs []specs.LinuxThrottleDevice
	}{
		{"blkio.throttle.read_bps_device", b.ThrottleReadBpsDevice},
		{"blkio.throttle.write_bps_device", b.ThrottleWriteBpsDevice},
		{"blkio.throttle.read_iops_device", b.ThrottleReadIOPSDevice},
		{"blkio.throttle.write_iops_device", b.ThrottleWriteIOPSDevice},
	} {
		for _, td := range t.devs {
			v := fmt.Sprintf("%d:%d %d", td.Major, td.Minor, td.Rate)
			if err := w.Soft(fscommon.WriteFile(d, t.file, v), "blockIO throttle "+v); err != nil {
				return err
			}
		}
	}
	return nil
}

// setDevices applies the rules: only the difference when the cgroup's
// list of allowed devices is to become another such list (see
// devices.go), else by replaying them in order (a new cgroup starts from
// its parent's list, often "allow all", so a config normally begins
// with "deny all").
func (m *Manager) setDevices(r *specs.LinuxResources, _ *fscommon.Warnings) error {
	if len(r.Devices) == 0 {
		return nil
	}
	d, err := m.need("devices", "device rules")
	if err != nil {
		return err
	}
	if list, err := fscommon.ReadFile(d, "devices.list"); err == nil {
		if cur, ok := parseDeviceList(list); ok {
			if want, ok := cur.apply(r.Devices); ok {
				allow, deny := deviceWrites(cur, want)
				for _, a := range allow {
					if err := fscommon.WriteFile(d, "devices.allow", a); err != nil {
						return err
					}
				}
				for _, x := range deny {
					if err := fscommon.WriteFile(d, "devices.deny", x); err != nil {
						return err
					}
				}
				return nil
			}
		}
	}
	for _, rule := range r.Devices {
		file := "devices.deny"
		if rule.Allow {
			file = "devices.allow"
		}
		if err := fscommon.WriteFile(d, file, DeviceRule(rule)); err != nil {
			return err
		}
	}
	return nil
}

// DeviceRule renders a spec device rule in the v1 devices syntax.
func DeviceRule(r specs.LinuxDeviceCgroup) string {
	typ := r.Type
	if typ == "" {
		typ = "a"
	}
	num := func(p *int64) string {
		if p == nil || *p < 0 {
			return "*"
		}
		return strconv.FormatInt(*p, 10)
	}
	access := r.Access
	if access == "" {
		access = "rwm"
	}
	if typ == "a" {
		return "a *:* " + access
	}
	return fmt.Sprintf("%s %s:%s %s", typ, num(r.Major), num(r.Minor), access)
}

// setHugetlb writes hugetlb limits to the v1 hugetlb hierarchy or, on a
// hybrid host where hugetlb lives on the cgroup2 side, to that one.
func (m *Manager) setHugetlb(r *specs.LinuxResources, _ *fscommon.Warnings) error {
	if len(r.HugepageLimits) == 0 {
		return nil
	}
	if d, ok := m.dir("hugetlb"); ok {
		for _, h := range r.HugepageLimits {
			if err := fscommon.WriteFile(d, "hugetlb."+h.Pagesize+".limit_in_bytes", strconv.FormatUint(h.Limit, 10)); err != nil {
				return err
			}
		}
		return nil
	}
	root, ok := m.roots[unified]
	if !ok {
		return fmt.Errorf("hugepageLimits: the hugetlb cgroup controller is not mounted on this host")
	}
	if err := fscommon.EnableControllers(root, m.path, "hugetlb"); err != nil {
		return err
	}
	d := filepath.Join(root, m.path)
	for _, h := range r.HugepageLimits {
		if err := fscommon.WriteFile(d, "hugetlb."+h.Pagesize+".max", strconv.FormatUint(h.Limit, 10)); err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) setNetwork(r *specs.LinuxResources, w *fscommon.Warnings) error {
	n := r.Network
	if n == nil {
		return nil
	}
	if n.ClassID != nil {
		d, ok := m.dir("net_cls")
		if !ok {
			*w = append(*w, "network.classID not applied: the net_cls controller is not mounted on this host")
		} else if err := fscommon.WriteFile(d, "net_cls.classid", strconv.FormatUint(uint64(*n.ClassID), 10)); err != nil {
			return err
		}
	}
	if len(n.Priorities) > 0 {
		d, ok := m.dir("net_prio")
		if !ok {
			*w = append(*w, "network.priorities not applied: the net_prio controller is not mounted on this host")
			return nil
		}
		for _, p := range n.Priorities {
			if err := fscommon.WriteFile(d, "net_prio.ifpriomap", fmt.Sprintf("%s %d", p.Name, p.Priority)); err != nil {
				return err
			}
		}
	}
	return nil
}

// setUnified writes raw cgroup2 keys to a hybrid host's cgroup2 side.
func (m *Manager) setUnified(r *specs.LinuxResources, _ *fscommon.Warnings) error {
	if len(r.Unified) == 0 {
		return nil
	}
	// A hybrid host's cgroup2 hierarchy takes what its files offer;
	// anything else is the configuration error runc reports for unified
	// resources on cgroup v1.
	root, ok := m.roots[unified]
	if !ok {
		return fmt.Errorf("invalid configuration: unified resources on cgroup v1: this host has no cgroup2 hierarchy")
	}
	if err := fscommon.WriteUnified(filepath.Join(root, m.path), r.Unified); err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	return nil
}
