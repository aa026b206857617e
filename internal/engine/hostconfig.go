package engine

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/disk"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/monitor/stdio"
	"github.com/berth-project/berth/internal/network"
)

// The parsers below read Docker's command-line forms into Docker's API
// types, so that a command line and the API's JSON give the engine the
// same values. Their errors are ErrInvalid.

// ParseRestartPolicy reads --restart: no, on-failure[:N], always,
// unless-stopped.
func ParseRestartPolicy(s string) (mobycontainer.RestartPolicy, error) {
	p, err := container.ParseRestart(s)
	if err != nil {
		return mobycontainer.RestartPolicy{}, invalid(err)
	}
	return mobycontainer.RestartPolicy{Name: mobycontainer.RestartPolicyMode(orDefault(p.Name, "no")), MaximumRetryCount: p.MaxRetries}, nil
}

// ParseBytes reads a size as Docker's flags write it (64m, 1g, 512).
func ParseBytes(s string) (int64, error) {
	n, err := container.ParseBytes(s)
	return n, invalid(err)
}

// ParseIDMap reads --uidmap CONTAINER-ID:HOST-ID:SIZE.
func ParseIDMap(s string) (IDRange, error) {
	r, err := idmap.ParseMap(s)
	return r, invalid(err)
}

// IDRange is a host ID range a container's user namespace maps to.
type IDRange = idmap.Range

// ParsePortBindings reads -p flags ([IP:][HOST-PORT:]CONTAINER-PORT
// [/PROTO], with ranges) into Docker's port map.
// ParseExpose reads --expose: a port or a range, with /tcp (the
// default) or /udp.
func ParseExpose(s string) ([]mobynetwork.Port, error) {
	pr, err := mobynetwork.ParsePortRange(s)
	if err != nil {
		return nil, invalid(fmt.Errorf("--expose %q: %w", s, err))
	}
	var out []mobynetwork.Port
	for n := int(pr.Start()); n <= int(pr.End()); n++ {
		p, ok := mobynetwork.PortFrom(uint16(n), pr.Proto())
		if !ok {
			return nil, invalid(fmt.Errorf("--expose %q: invalid port", s))
		}
		out = append(out, p)
	}
	return out, nil
}

func ParsePortBindings(flags []string) (mobynetwork.PortMap, error) {
	out := mobynetwork.PortMap{}
	for _, f := range flags {
		specs, err := network.ParsePublish(f)
		if err != nil {
			return nil, invalid(err)
		}
		for _, ps := range specs {
			k, err := mobynetwork.ParsePort(strconv.Itoa(int(ps.ContainerPort)) + "/" + ps.Proto)
			if err != nil {
				return nil, invalid(fmt.Errorf("-p %q: %w", f, err))
			}
			b := mobynetwork.PortBinding{HostIP: ps.HostIP}
			if ps.HostPort != 0 {
				b.HostPort = strconv.Itoa(int(ps.HostPort))
			}
			out[k] = append(out[k], b)
		}
	}
	return out, nil
}

// ParseNetworkFlag reads run's --network: a name (or host, none,
// container:NAME), or Docker's long form, a CSV of name=, alias=,
// ip=, ip6=, mac-address=, link-local-ip=, driver-opt=NAME=VALUE and
// gw-priority=. The settings are nil for a bare name.
func ParseNetworkFlag(s string) (string, *mobynetwork.EndpointSettings, error) {
	if !strings.Contains(s, "=") {
		return s, nil, nil
	}
	fields, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return "", nil, invalid(fmt.Errorf("--network %q: %w", s, err))
	}
	name, es := "", &mobynetwork.EndpointSettings{}
	ipam := func() *mobynetwork.EndpointIPAMConfig {
		if es.IPAMConfig == nil {
			es.IPAMConfig = &mobynetwork.EndpointIPAMConfig{}
		}
		return es.IPAMConfig
	}
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return "", nil, invalid(fmt.Errorf("--network %q: invalid field %q: want KEY=VALUE", s, f))
		}
		switch k {
		case "name":
			name = v
		case "alias":
			es.Aliases = append(es.Aliases, v)
		case "ip":
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is4() {
				return "", nil, invalid(fmt.Errorf("--network %q: ip %q: not an IPv4 address", s, v))
			}
			ipam().IPv4Address = a
		case "link-local-ip":
			a, err := netip.ParseAddr(v)
			if err != nil {
				return "", nil, invalid(fmt.Errorf("--network %q: link-local-ip %q: not an IP address", s, v))
			}
			ipam().LinkLocalIPs = append(ipam().LinkLocalIPs, a)
		case "mac-address":
			hw, err := net.ParseMAC(v)
			if err != nil {
				return "", nil, invalid(fmt.Errorf("--network %q: mac-address %q: not a MAC address", s, v))
			}
			es.MacAddress = mobynetwork.HardwareAddr(hw)
		case "driver-opt":
			ok, ov, _ := strings.Cut(v, "=")
			if es.DriverOpts == nil {
				es.DriverOpts = map[string]string{}
			}
			es.DriverOpts[ok] = ov
		case "gw-priority":
			if es.GwPriority, err = strconv.Atoi(v); err != nil {
				return "", nil, invalid(fmt.Errorf("--network %q: gw-priority %q: not a number", s, v))
			}
		case "ip6":
			a, err := netip.ParseAddr(v)
			if err != nil || !a.Is6() {
				return "", nil, invalid(fmt.Errorf("--network %q: ip6 %q: not an IPv6 address", s, v))
			}
			ipam().IPv6Address = a
		default:
			return "", nil, invalid(fmt.Errorf("--network %q: invalid field key %q", s, k))
		}
	}
	if name == "" {
		return "", nil, invalid(fmt.Errorf("--network %q: no name= given", s))
	}
	return name, es, nil
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMISSIONS].
func ParseDevice(s string) (mobycontainer.DeviceMapping, error) {
	host, ctr, perms, err := container.ParseDevice(s)
	if err != nil {
		return mobycontainer.DeviceMapping{}, invalid(err)
	}
	return mobycontainer.DeviceMapping{PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms}, nil
}

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] (-1 or unlimited for no
// limit).
func ParseUlimit(s string) (*units.Ulimit, error) {
	rl, err := container.ParseUlimit(s)
	if err != nil {
		return nil, invalid(err)
	}
	name, _, _ := strings.Cut(s, "=")
	lim := func(v uint64) int64 {
		if v > math.MaxInt64 {
			return -1
		}
		return int64(v)
	}
	return &units.Ulimit{Name: name, Soft: lim(rl.Soft), Hard: lim(rl.Hard)}, nil
}

// ParseMount reads --mount type=bind|volume|tmpfs,source=…,target=…
// with readonly, volume-nocopy, tmpfs-size and tmpfs-mode.
func ParseMount(s string) (mount.Mount, error) {
	m, err := container.ParseMount(s)
	if err != nil {
		return mount.Mount{}, invalid(err)
	}
	out := mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	if m.NoCopy {
		out.VolumeOptions = &mount.VolumeOptions{NoCopy: true}
	}
	for _, o := range m.Options {
		k, v, _ := strings.Cut(o, "=")
		if out.TmpfsOptions == nil {
			out.TmpfsOptions = &mount.TmpfsOptions{}
		}
		switch k {
		case "size":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return mount.Mount{}, invalid(fmt.Errorf("--mount %q: tmpfs size: %w", s, err))
			}
			out.TmpfsOptions.SizeBytes = n
		case "mode":
			n, err := strconv.ParseUint(v, 8, 32)
			if err != nil {
				return mount.Mount{}, invalid(fmt.Errorf("--mount %q: tmpfs mode: %w", s, err))
			}
			out.TmpfsOptions.Mode = os.FileMode(n)
		}
	}
	return out, nil
}

// mountOf is a Docker mount as the container model keeps it.
func mountOf(m mount.Mount) (container.Mount, error) {
	out := container.Mount{Type: string(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly}
	switch m.Type {
	case mount.TypeBind, mount.TypeTmpfs:
	case mount.TypeVolume, "":
		out.Type, out.Anonymous = "volume", m.Source == ""
	default:
		return container.Mount{}, invalid(fmt.Errorf("mount type %q: want bind, volume or tmpfs", m.Type))
	}
	if m.Type == mount.TypeTmpfs && m.Source != "" {
		return container.Mount{}, invalid(fmt.Errorf("mount %s: a tmpfs mount takes no source", m.Target))
	}
	if m.VolumeOptions != nil && m.VolumeOptions.NoCopy {
		out.NoCopy = true
	}
	if b := m.BindOptions; b != nil && b.Propagation != "" {
		if !slices.Contains([]mount.Propagation{mount.PropagationPrivate, mount.PropagationRPrivate, mount.PropagationShared,
			mount.PropagationRShared, mount.PropagationSlave, mount.PropagationRSlave}, b.Propagation) {
			return container.Mount{}, invalid(fmt.Errorf("mount %s: invalid propagation %q", m.Target, b.Propagation))
		}
		out.Propagation = string(b.Propagation)
	}
	if t := m.TmpfsOptions; t != nil {
		if t.SizeBytes > 0 {
			out.Options = append(out.Options, "size="+strconv.FormatInt(t.SizeBytes, 10))
		}
		if t.Mode != 0 {
			out.Options = append(out.Options, "mode="+strconv.FormatUint(uint64(t.Mode)&0o7777, 8)) // raw bits, as Docker's CLI parsed them
		}
	}
	return out, nil
}

// blkioDevicesOf are the per-device block IO settings of r, as the
// container model keeps them, each path checked to be a device.
func blkioDevicesOf(r mobycontainer.Resources) (map[string][]string, error) {
	out := map[string][]string{}
	add := func(kind, flag, path string, v uint64) error {
		if _, _, err := container.DeviceNumbers(path); err != nil {
			return invalid(fmt.Errorf("--%s %s: %w", flag, path, err))
		}
		out[kind] = append(out[kind], path+":"+strconv.FormatUint(v, 10))
		return nil
	}
	for _, w := range r.BlkioWeightDevice {
		if w == nil {
			continue
		}
		if w.Weight != 0 && (w.Weight < 10 || w.Weight > 1000) {
			return nil, invalid(fmt.Errorf("--blkio-weight-device %s: the weight is from 10 to 1000", w.Path))
		}
		if err := add("weight", "blkio-weight-device", w.Path, uint64(w.Weight)); err != nil {
			return nil, err
		}
	}
	for _, t := range []struct {
		kind, flag string
		devs       []*blkiodev.ThrottleDevice
	}{
		{"read-bps", "device-read-bps", r.BlkioDeviceReadBps}, {"write-bps", "device-write-bps", r.BlkioDeviceWriteBps},
		{"read-iops", "device-read-iops", r.BlkioDeviceReadIOps}, {"write-iops", "device-write-iops", r.BlkioDeviceWriteIOps},
	} {
		for _, d := range t.devs {
			if d == nil {
				continue
			}
			if err := add(t.kind, t.flag, d.Path, d.Rate); err != nil {
				return nil, err
			}
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// hostnameRE is a host or domain name: labels of letters, digits and
// hyphens (underscores too, as resolvers take them), dot-separated.
var hostnameRE = regexp.MustCompile(`^[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62})(\.[a-zA-Z0-9_]([a-zA-Z0-9_-]{0,62}))*\.?$`)

// checkNames refuses a hostname or domain name that is no name (Docker:
// "invalid hostname format"), before it reaches a file or the kernel.
func checkNames(hostname, domainname string) error {
	if hostname != "" && (len(hostname) > 253 || !hostnameRE.MatchString(hostname)) {
		return invalid(fmt.Errorf("invalid hostname format: %s", hostname))
	}
	if domainname != "" && (len(domainname) > 253 || !hostnameRE.MatchString(domainname)) {
		return invalid(fmt.Errorf("invalid domainname format: %s", domainname))
	}
	return nil
}

// checkResources refuses what Docker refuses of the options the model
// keeps as given.
func checkResources(hc mobycontainer.HostConfig) error {
	switch {
	case hc.NanoCPUs > 0 && hc.CPUPeriod > 0:
		return invalid(errors.New("conflicting options: Nano CPUs and CPU Period cannot both be set"))
	case hc.NanoCPUs > 0 && hc.CPUQuota > 0:
		return invalid(errors.New("conflicting options: Nano CPUs and CPU Quota cannot both be set"))
	case hc.CPUPeriod != 0 && (hc.CPUPeriod < 1000 || hc.CPUPeriod > 1000000):
		return invalid(errors.New("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"))
	case hc.CPUQuota > 0 && hc.CPUQuota < 1000:
		return invalid(errors.New("CPU cfs quota can not be less than 1ms (i.e. 1000)"))
	case hc.OomScoreAdj < -1000 || hc.OomScoreAdj > 1000:
		return invalid(fmt.Errorf("invalid value %d, range for oom score adj is [-1000, 1000]", hc.OomScoreAdj))
	case hc.BlkioWeight != 0 && (hc.BlkioWeight < 10 || hc.BlkioWeight > 1000):
		return invalid(errors.New("range of blkio weight is from 10 to 1000"))
	case hc.ShmSize < 0:
		return invalid(errors.New("SHM size can not be less than 0"))
	case hc.MemoryReservation < 0 || hc.Memory > 0 && hc.MemoryReservation > hc.Memory:
		return invalid(errors.New("minimum memory limit can not be less than memory reservation limit, see usage"))
	case hc.Memory > 0 && hc.Memory < 6<<20:
		return invalid(errors.New("Minimum memory limit allowed is 6MB"))
	case hc.NanoCPUs < 0 || hc.NanoCPUs > int64(goruntime.NumCPU())*1e9:
		return invalid(fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", goruntime.NumCPU(), goruntime.NumCPU()))
	}
	// What lands in /etc/hosts and resolv.conf is one token each: a
	// newline would add a line of the caller's (a name server).
	for _, s := range hc.DNSSearch {
		if s != "." && !hostnameRE.MatchString(s) {
			return invalid(fmt.Errorf("%s is not a valid domain", s))
		}
	}
	for _, o := range hc.DNSOptions {
		if o == "" || strings.ContainsAny(o, " \t\r\n#;") {
			return invalid(fmt.Errorf("invalid DNS option %q", o))
		}
	}
	for _, h := range hc.ExtraHosts {
		name, _, _ := strings.Cut(h, ":")
		if !hostnameRE.MatchString(name) {
			return invalid(fmt.Errorf("invalid argument %q for \"--add-host\" flag: invalid hostname %q", h, name))
		}
	}
	switch hc.CgroupnsMode {
	case "", mobycontainer.CgroupnsModePrivate, mobycontainer.CgroupnsModeHost:
	default:
		return invalid(fmt.Errorf("invalid cgroup namespace mode: %s", hc.CgroupnsMode))
	}
	for k := range hc.Sysctls {
		if !namespacedSysctl(k) {
			return invalid(fmt.Errorf("sysctl '%s' is not allowed: only namespaced ones (net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)", k))
		}
		if strings.HasPrefix(k, "net.") && hc.NetworkMode == "host" {
			return invalid(fmt.Errorf("sysctl '%s' is not allowed in the host network namespace", k))
		}
	}
	return nil
}

// namespacedSysctl reports a kernel parameter that belongs to one of
// the container's namespaces, the ones Docker lets a container set.
func namespacedSysctl(k string) bool {
	switch {
	case k == "kernel.sem", k == "kernel.domainname", k == "kernel.hostname":
		return true
	case strings.HasPrefix(k, "kernel.shm"), strings.HasPrefix(k, "kernel.msg"), strings.HasPrefix(k, "fs.mqueue."), strings.HasPrefix(k, "net."):
		return true
	}
	return false
}

// storageSizeOf reads --storage-opt: size=N (bytes, or with a unit, as
// Docker takes it), the one option of berth's storage.
func storageSizeOf(opts map[string]string) (int64, error) {
	var size int64
	for k, v := range opts {
		if k != "size" {
			return 0, invalid(fmt.Errorf("--storage-opt %s: unknown option (berth's storage takes size)", k))
		}
		n, err := units.RAMInBytes(v)
		if err != nil || n < disk.MinSize {
			return 0, invalid(fmt.Errorf("--storage-opt size=%s: not a size of %d MiB or more", v, disk.MinSize>>20))
		}
		size = n
	}
	return size, nil
}

// hostOf is the container model's host options from Docker's
// HostConfig (the networks' endpoint settings are endpointsOf's). The
// forms the model keeps as Docker's command line
// writes them (-p, --device, --ulimit) are written back so.
func hostOf(hc mobycontainer.HostConfig) (h container.Host, mounts []container.Mount, err error) {
	switch t := hc.LogConfig.Type; t {
	case "", stdio.JSONFile:
	case stdio.NoLog, stdio.CRI:
		h.LogDriver = t
	default:
		return h, nil, invalid(fmt.Errorf("logger: no log driver named '%s' is registered", t))
	}
	storageSize, err := storageSizeOf(hc.StorageOpt)
	if err != nil {
		return h, nil, err
	}
	switch hc.Runtime {
	case "", "runc", "berth", "berth-runtime":
	default:
		return h, nil, invalid(fmt.Errorf("unknown or invalid runtime name: %s", hc.Runtime))
	}
	h = container.Host{LogDriver: h.LogDriver,
		AutoRemove: hc.AutoRemove, ReadonlyRootfs: hc.ReadonlyRootfs, Privileged: hc.Privileged, CapAdd: hc.CapAdd, CapDrop: hc.CapDrop,
		SecurityOpt: hc.SecurityOpt, NetworkMode: string(hc.NetworkMode), Memory: hc.Memory, MemorySwap: hc.MemorySwap,
		NanoCPUs: hc.NanoCPUs, CpusetCpus: hc.CpusetCpus, Binds: hc.Binds, Tmpfs: hc.Tmpfs,
		PidMode: string(hc.PidMode), IpcMode: string(hc.IpcMode), UTSMode: string(hc.UTSMode), UsernsMode: string(hc.UsernsMode),
		PublishAll: hc.PublishAllPorts, DNSSearch: hc.DNSSearch, DNSOptions: hc.DNSOptions, ExtraHosts: hc.ExtraHosts,
		Restart:  container.RestartPolicy{Name: string(hc.RestartPolicy.Name), MaxRetries: hc.RestartPolicy.MaximumRetryCount},
		GroupAdd: hc.GroupAdd, DeviceCgroupRules: hc.DeviceCgroupRules, VolumesFrom: hc.VolumesFrom,
		Runtime: hc.Runtime, Isolation: string(hc.Isolation), VolumeDriver: hc.VolumeDriver,
		CPUPeriod: hc.CPUPeriod, CPUQuota: hc.CPUQuota, CpusetMems: hc.CpusetMems, MemoryReservation: hc.MemoryReservation,
		BlkioWeight: hc.BlkioWeight, OomScoreAdj: hc.OomScoreAdj, ShmSize: hc.ShmSize, StorageSize: storageSize, Sysctls: hc.Sysctls,
		CgroupnsMode: string(hc.CgroupnsMode), Annotations: hc.Annotations, CgroupParent: hc.CgroupParent,
	}
	if hc.OomKillDisable != nil {
		h.OomKillDisable = *hc.OomKillDisable
	}
	if s := hc.MemorySwappiness; s != nil && *s != -1 {
		if *s < 0 || *s > 100 {
			return h, nil, invalid(fmt.Errorf("invalid value: %d, valid memory swappiness range is 0-100", *s))
		}
		v := uint64(*s)
		h.MemorySwappiness = &v
	}
	if hc.CPURealtimePeriod < 0 || hc.CPURealtimeRuntime < 0 && hc.CPURealtimeRuntime != -1 {
		return h, nil, invalid(errors.New("the realtime period and runtime cannot be negative"))
	}
	if hc.CPURealtimePeriod > 0 && hc.CPURealtimeRuntime > hc.CPURealtimePeriod {
		return h, nil, invalid(errors.New("cpu real-time runtime cannot be higher than cpu real-time period"))
	}
	h.CPURealtimePeriod, h.CPURealtimeRuntime = uint64(hc.CPURealtimePeriod), hc.CPURealtimeRuntime
	if strings.Contains(hc.CgroupParent, "..") || strings.HasSuffix(hc.CgroupParent, ".slice") {
		return h, nil, invalid(fmt.Errorf("--cgroup-parent %q: a cgroupfs path (no .., no systemd slice: berth drives cgroupfs)", hc.CgroupParent))
	}
	switch hc.Isolation {
	case "", "default":
	default:
		return h, nil, invalid(fmt.Errorf("invalid isolation: %s (on Linux, default is the only one)", hc.Isolation))
	}
	// A volume driver matters only to the volumes the container makes:
	// as with Docker, one that is not there fails only then.
	if d := hc.VolumeDriver; d != "" && d != "local" && (len(hc.Binds) > 0 || len(hc.Mounts) > 0) {
		for _, b := range hc.Binds {
			if src, _, ok := strings.Cut(b, ":"); !ok || !strings.HasPrefix(src, "/") {
				return h, nil, invalid(fmt.Errorf("volume driver %q: no such plugin (berth has the local driver only)", d))
			}
		}
		for _, m := range hc.Mounts {
			if m.Type == mount.TypeVolume {
				return h, nil, invalid(fmt.Errorf("volume driver %q: no such plugin (berth has the local driver only)", d))
			}
		}
	}
	if err := checkResources(hc); err != nil {
		return h, nil, err
	}
	if h.BlkioDevices, err = blkioDevicesOf(hc.Resources); err != nil {
		return h, nil, err
	}
	if h.Restart.Name == "no" {
		h.Restart.Name = ""
	}
	if h.Links, err = parseLinks(hc.Links); err != nil {
		return h, nil, err
	}
	if h.Restart.Name != "" && h.Restart.Name != "on-failure" && h.Restart.MaxRetries != 0 {
		return h, nil, invalid(fmt.Errorf("restart policy %s: only on-failure takes a retry count", h.Restart.Name))
	}
	if _, err := container.ParseRestart(h.Restart.Name); err != nil {
		return h, nil, invalid(err)
	}
	if hc.CPUShares < 0 {
		return h, nil, invalid(fmt.Errorf("CPU shares must not be negative"))
	}
	h.CPUShares = uint64(hc.CPUShares)
	if hc.MemorySwap > 0 && (hc.Memory == 0 || hc.MemorySwap < hc.Memory) {
		return h, nil, invalid(fmt.Errorf("--memory-swap must be at least --memory, which it needs"))
	}
	if hc.PidsLimit != nil {
		h.PidsLimit = *hc.PidsLimit
	}
	if hc.Init != nil {
		h.Init = *hc.Init
	}
	for k, v := range hc.LogConfig.Config {
		switch k {
		case "max-size":
			n, err := container.ParseBytes(v)
			if err != nil || n == 0 {
				return h, nil, invalid(fmt.Errorf("log option max-size=%s: invalid size", v))
			}
			h.LogMaxSize = n
		case "max-file":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return h, nil, invalid(fmt.Errorf("log option max-file=%s: want a count of at least 1", v))
			}
			h.LogMaxFiles = n
		case "path":
			if h.LogDriver != stdio.CRI || !filepath.IsAbs(v) {
				return h, nil, invalid(fmt.Errorf("log option path=%s: an absolute path, for the cri driver", v))
			}
			h.LogPath = v
		default:
			return h, nil, invalid(fmt.Errorf("log option %q: unknown (max-size, max-file, path)", k))
		}
	}
	for _, a := range hc.DNS {
		h.DNS = append(h.DNS, a.String())
	}
	for _, d := range hc.Devices {
		if IsCDIDevice(d.PathOnHost) {
			continue // deviceRequestsOf takes it
		}
		s := d.PathOnHost + ":" + orDefault(d.PathInContainer, d.PathOnHost) + ":" + orDefault(d.CgroupPermissions, "rwm")
		h.Devices = append(h.Devices, s)
	}
	if err := deviceRequestsOf(hc, &h); err != nil {
		return h, nil, err
	}
	h.MaskedPaths, h.ReadonlyPaths = hc.MaskedPaths, hc.ReadonlyPaths
	for _, u := range hc.Ulimits {
		if u != nil {
			h.Ulimits = append(h.Ulimits, fmt.Sprintf("%s=%d:%d", u.Name, u.Soft, u.Hard))
		}
	}
	h.Publish = publishFlags(hc.PortBindings)
	for _, m := range hc.Mounts {
		cm, err := mountOf(m)
		if err != nil {
			return h, nil, err
		}
		mounts = append(mounts, cm)
	}
	return h, mounts, nil
}

// endpointsOf are a create's networks: the one NetworkMode names first,
// with its endpoint settings (address, aliases, MAC), then the others
// the networking config names, as API 1.44 connects them all. A default
// mode with one endpoint is that endpoint's network, as moby has it.
func endpointsOf(mode string, nc mobynetwork.NetworkingConfig) (string, container.NetworkAttachment, []container.NetworkAttachment, error) {
	attachment := func(name string, es *mobynetwork.EndpointSettings) (container.NetworkAttachment, error) {
		a := container.NetworkAttachment{Name: name}
		if es == nil {
			return a, nil
		}
		if es.IPAMConfig != nil {
			if es.IPAMConfig.IPv4Address.IsValid() {
				a.IP = es.IPAMConfig.IPv4Address.String()
			}
			if es.IPAMConfig.IPv6Address.IsValid() {
				a.IP6 = es.IPAMConfig.IPv6Address.String()
			}
			for _, ll := range es.IPAMConfig.LinkLocalIPs {
				a.LinkLocalIPs = append(a.LinkLocalIPs, ll.String())
			}
		}
		a.Aliases, a.DriverOpts, a.GwPriority = es.Aliases, es.DriverOpts, es.GwPriority
		var err error
		if a.Links, err = parseLinks(es.Links); err != nil {
			return a, err
		}
		if len(es.MacAddress) > 0 {
			if len(es.MacAddress) != 6 {
				return a, invalid(fmt.Errorf("invalid MAC address %s for network %s", es.MacAddress, name))
			}
			a.MAC = net.HardwareAddr(es.MacAddress).String()
		}
		return a, nil
	}
	// "default" is the default bridge, in the mode and as an endpoint's
	// name (the docker CLI sends both).
	orBridge := func(n string) string {
		if n == "" || n == "default" {
			return network.DefaultName
		}
		return n
	}
	names := slices.Sorted(maps.Keys(nc.EndpointsConfig))
	if (mode == "" || mode == "default") && len(names) == 1 {
		mode = names[0]
	}
	mode = orBridge(mode)
	primary := container.NetworkAttachment{Name: mode}
	var extras []container.NetworkAttachment
	for _, key := range names {
		name := orBridge(key)
		a, err := attachment(name, nc.EndpointsConfig[key])
		if err != nil {
			return mode, primary, nil, err
		}
		if name == mode {
			primary = a
			continue
		}
		extras = append(extras, a)
	}
	return mode, primary, extras, nil
}

// publishFlags writes a port map back as -p values, in a stable order.
func publishFlags(pm mobynetwork.PortMap) []string {
	keys := make([]mobynetwork.Port, 0, len(pm))
	for k := range pm {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b mobynetwork.Port) int { return strings.Compare(a.String(), b.String()) })
	var out []string
	for _, k := range keys {
		bs := pm[k]
		if len(bs) == 0 {
			bs = []mobynetwork.PortBinding{{}}
		}
		for _, b := range bs {
			s := k.String()
			switch {
			case b.HostIP.IsValid() && b.HostIP != netip.IPv4Unspecified():
				s = b.HostIP.String() + ":" + b.HostPort + ":" + s
			case b.HostPort != "":
				s = b.HostPort + ":" + s
			}
			out = append(out, s)
		}
	}
	return out
}
