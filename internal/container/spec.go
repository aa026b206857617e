package container

import (
	"bufio"
	"errors"
	"fmt"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/cdi"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/seccomp/profile"
)

// SpecInput is what a spec is made from besides the container.
type SpecInput struct {
	Rootfs string // the mounted root filesystem
	// EtcDir holds the generated hostname, hosts and resolv.conf.
	EtcDir string
	// HostNofile is the host's hard RLIMIT_NOFILE (0: read it).
	HostNofile uint64
	// HostCaps are the capabilities this host can grant (nil: ask caps).
	HostCaps []string
	// Joins are the namespace paths of container:NAME modes.
	Joins map[specs.LinuxNamespaceType]string
	// Volumes resolves volume names to host directories.
	Volumes VolumePath
	// InitBinary is mounted at InitPath with --init.
	InitBinary string
	// LinkEnv are the variables of the container's legacy links
	// (ALIAS_NAME, ALIAS_PORT_…, ALIAS_ENV_…): its own Env wins.
	LinkEnv []string
	// CDI resolves the container's CDI devices (nil: it has none).
	CDI *cdi.Registry
}

// InitPath is where --init's init is mounted: /dev is the container's
// own tmpfs, so the image is not touched.
const InitPath = "/dev/init"

// namespacesFor lists the container's namespaces: new ones, none for a
// "host" mode, and joined ones for "container:NAME" (paths in joins).
func namespacesFor(h Host, joins map[specs.LinuxNamespaceType]string) ([]specs.LinuxNamespace, error) {
	modes := map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: h.PidMode, specs.IPCNamespace: h.IpcMode, specs.UTSNamespace: h.UTSMode, specs.NetworkNamespace: h.NetworkMode,
	}
	modes[specs.CgroupNamespace] = h.CgroupnsMode
	var out []specs.LinuxNamespace
	for _, t := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.IPCNamespace, specs.UTSNamespace, specs.MountNamespace, specs.CgroupNamespace, specs.NetworkNamespace} {
		mode := modes[t]
		switch {
		case mode == "host":
		case strings.HasPrefix(mode, "container:"):
			p := joins[t]
			if p == "" {
				return nil, fmt.Errorf("%s namespace of %s: not resolved", t, strings.TrimPrefix(mode, "container:"))
			}
			out = append(out, specs.LinuxNamespace{Type: t, Path: p})
		default:
			out = append(out, specs.LinuxNamespace{Type: t})
		}
	}
	return out, nil
}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// defaultNofile is the file limit containers get, clamped to the host's
// hard limit: Podman's 1048576 fails on hosts whose hard limit is lower.
const defaultNofile = 1048576

// Spec makes the OCI runtime spec for c, with Docker's defaults: its
// mounts, masked and read-only paths, 14 capabilities, seccomp profile
// and namespaces.
func Spec(c *Container, in SpecInput) (*specs.Spec, error) {
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	if len(args) == 0 {
		return nil, fmt.Errorf("no command specified: the image has no CMD or ENTRYPOINT and none was given")
	}
	user, err := ResolveUser(in.Rootfs, c.Config.User)
	if err != nil {
		return nil, err
	}
	for _, g := range c.Host.GroupAdd {
		gid, err := ResolveGroup(in.Rootfs, g)
		if err != nil {
			return nil, err
		}
		user.AdditionalGids = append(user.AdditionalGids, gid)
	}
	env := mergeEnv(c, in.LinkEnv)
	capList, err := capabilities(c.Host, in.HostCaps)
	if err != nil {
		return nil, err
	}
	nofile := in.HostNofile
	if nofile == 0 {
		var rl unix.Rlimit
		if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil {
			nofile = rl.Max
		}
	}
	nofile = min(nofile, defaultNofile)
	cwd := c.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	rl, err := rlimits(c.Host, nofile)
	if err != nil {
		return nil, err
	}
	namespaces, err := namespacesFor(c.Host, in.Joins)
	if err != nil {
		return nil, err
	}
	hostname := c.Config.Hostname
	if c.Host.UTSMode != "" && c.Host.UTSMode != "private" {
		hostname = "" // the host's or another container's: not ours to set
	}
	if c.Host.Init {
		if in.InitBinary == "" {
			return nil, fmt.Errorf("--init: no init binary")
		}
		// A command that is the init itself (a pod's pause: init
		// --pause) runs as given.
		if len(args) == 0 || args[0] != InitPath {
			args = append([]string{InitPath, "--"}, args...)
		}
	}
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: in.Rootfs, Readonly: c.Host.ReadonlyRootfs},
		Hostname: hostname,
		Process: &specs.Process{
			Terminal: c.Config.Tty, Args: args, Env: env, Cwd: cwd, User: user,
			Capabilities: &specs.LinuxCapabilities{Bounding: capList, Effective: capList, Permitted: capList},
			Rlimits:      rl,
		},
		Mounts: defaultMounts(in.EtcDir, c.Host.ShmSize),
		Linux: &specs.Linux{
			CgroupsPath: cgroupPath(c),
			Namespaces:  namespaces,
			Resources:   Resources(c.Host),
		},
	}
	if c.Host.OomScoreAdj != 0 {
		adj := c.Host.OomScoreAdj
		s.Process.OOMScoreAdj = &adj
	}
	if len(c.Host.Sysctls) > 0 {
		s.Linux.Sysctl = maps.Clone(c.Host.Sysctls)
	}
	if len(c.Host.Annotations) > 0 {
		s.Annotations = maps.Clone(c.Host.Annotations)
	}
	if m := c.Host.IDMap; m != nil && in.Joins[specs.UserNamespace] != "" {
		// Joined: the namespace's maps are the ones it has.
		s.Linux.Namespaces = append([]specs.LinuxNamespace{{Type: specs.UserNamespace, Path: in.Joins[specs.UserNamespace]}}, s.Linux.Namespaces...)
	} else if m != nil {
		s.Linux.Namespaces = append([]specs.LinuxNamespace{{Type: specs.UserNamespace}}, s.Linux.Namespaces...)
		uids, gids := m.Map()
		s.Linux.UIDMappings, s.Linux.GIDMappings = specMap(uids), specMap(gids)
	}
	if c.Host.Init {
		s.Mounts = append(s.Mounts, specs.Mount{Destination: InitPath, Type: "bind", Source: in.InitBinary, Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	userMnts, err := userMounts(c.Host, in.Volumes)
	if err != nil {
		return nil, err
	}
	s.Mounts = append(s.Mounts, userMnts...)
	// A shared bind propagates both ways only under a shared root, a
	// slave one under a slave root at least, as Docker sets them.
	for _, m := range c.Host.Mounts {
		switch {
		case m.Type != "bind":
		case m.Propagation == "shared" || m.Propagation == "rshared":
			s.Linux.RootfsPropagation = "rshared"
		case (m.Propagation == "slave" || m.Propagation == "rslave") && s.Linux.RootfsPropagation == "":
			s.Linux.RootfsPropagation = "rslave"
		}
	}
	nodes, rules, err := devices(c.Host)
	if err != nil {
		return nil, err
	}
	s.Linux.Devices = nodes
	if c.Host.Privileged {
		s.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	} else {
		s.Linux.Resources.Devices = append(defaultDeviceRules(), rules...)
		for _, r := range c.Host.DeviceCgroupRules {
			dr, err := ParseDeviceCgroupRule(r)
			if err != nil {
				return nil, err
			}
			s.Linux.Resources.Devices = append(s.Linux.Resources.Devices, dr)
		}
	}
	if len(c.Host.CDIDevices) > 0 {
		if in.CDI == nil {
			return nil, errors.New("CDI devices, but no CDI registry")
		}
		if err := in.CDI.Inject(s, c.Host.CDIDevices); err != nil {
			return nil, err
		}
	}
	s.Linux.MaskedPaths, s.Linux.ReadonlyPaths = MaskedPaths(c.Host.Privileged), ReadonlyPaths(c.Host.Privileged)
	if c.Host.MaskedPaths != nil {
		s.Linux.MaskedPaths = c.Host.MaskedPaths
	}
	if c.Host.ReadonlyPaths != nil {
		s.Linux.ReadonlyPaths = c.Host.ReadonlyPaths
	}
	if err := applySecurityOpts(s, c.Host, capList); err != nil {
		return nil, err
	}
	return s, nil
}

func defaultMounts(etc string, shmSize int64) []specs.Mount {
	if shmSize <= 0 {
		shmSize = 64 << 20
	}
	m := []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=" + strconv.FormatInt(shmSize, 10)}},
	}
	if etc != "" {
		for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
			m = append(m, specs.Mount{Destination: "/etc/" + f, Type: "bind", Source: filepath.Join(etc, f), Options: []string{"rbind", "rprivate"}})
		}
	}
	return m
}

// mergeEnv is the image's environment with the user's on top, a PATH if
// neither has one, and HOSTNAME (and TERM with a tty) as Docker sets.
func mergeEnv(c *Container, linkEnv []string) []string {
	env := []string{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		env = slices.DeleteFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
		env = append(env, kv)
	}
	set(defaultPath)
	set("HOSTNAME=" + c.Config.Hostname)
	if c.Config.Tty {
		set("TERM=xterm")
	}
	for _, kv := range linkEnv {
		set(kv)
	}
	for _, kv := range c.Config.Env {
		set(kv)
	}
	return env
}

// capabilities is Docker's default set with --cap-add/--cap-drop, or
// everything this host grants with --privileged.
func capabilities(h Host, hostCaps []string) ([]string, error) {
	if hostCaps == nil {
		all := caps.Known()
		missing := caps.Unavailable(&specs.LinuxCapabilities{Bounding: all})
		hostCaps = slices.DeleteFunc(all, func(c string) bool { return slices.Contains(missing, c) })
	}
	if h.Privileged {
		return hostCaps, nil
	}
	norm := func(c string) string {
		c = strings.ToUpper(c)
		if !strings.HasPrefix(c, "CAP_") && c != "ALL" {
			c = "CAP_" + c
		}
		return c
	}
	out := slices.Clone(caps.Default)
	for _, c := range h.CapDrop {
		if c = norm(c); c == "ALL" {
			out = nil
			continue
		}
		out = slices.DeleteFunc(out, func(x string) bool { return x == c })
	}
	for _, c := range h.CapAdd {
		if c = norm(c); c == "ALL" {
			out = slices.Clone(hostCaps)
			continue
		}
		if !slices.Contains(caps.Known(), c) {
			return nil, fmt.Errorf("unknown capability %q", c)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Resources are the cgroup limits of h: what the spec gets, and what
// an update writes to a running container.
func Resources(h Host) *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if h.Memory > 0 {
		r.Memory = &specs.LinuxMemory{Limit: &h.Memory}
		if h.MemorySwap != 0 {
			r.Memory.Swap = &h.MemorySwap
		}
	}
	if h.MemoryReservation > 0 || h.OomKillDisable || h.MemorySwappiness != nil {
		if r.Memory == nil {
			r.Memory = &specs.LinuxMemory{}
		}
		if h.MemoryReservation > 0 {
			r.Memory.Reservation = &h.MemoryReservation
		}
		if h.OomKillDisable {
			r.Memory.DisableOOMKiller = &h.OomKillDisable
		}
		r.Memory.Swappiness = h.MemorySwappiness
	}
	if h.CPUShares > 0 || h.CpusetCpus != "" || h.CpusetMems != "" {
		r.CPU = &specs.LinuxCPU{Cpus: h.CpusetCpus, Mems: h.CpusetMems}
		if h.CPUShares > 0 {
			r.CPU.Shares = &h.CPUShares
		}
	}
	if h.CPURealtimePeriod > 0 || h.CPURealtimeRuntime != 0 {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if h.CPURealtimePeriod > 0 {
			r.CPU.RealtimePeriod = &h.CPURealtimePeriod
		}
		if h.CPURealtimeRuntime != 0 {
			r.CPU.RealtimeRuntime = &h.CPURealtimeRuntime
		}
	}
	if h.CPUPeriod > 0 || h.CPUQuota != 0 {
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		if h.CPUPeriod > 0 {
			period := uint64(h.CPUPeriod)
			r.CPU.Period = &period
		}
		if h.CPUQuota != 0 {
			r.CPU.Quota = &h.CPUQuota
		}
	}
	if h.BlkioWeight > 0 {
		r.BlockIO = &specs.LinuxBlockIO{Weight: &h.BlkioWeight}
	}
	if len(h.BlkioDevices) > 0 {
		if r.BlockIO == nil {
			r.BlockIO = &specs.LinuxBlockIO{}
		}
		blkioDevices(r.BlockIO, h.BlkioDevices)
	}
	if h.PidsLimit != 0 { // below zero: no limit
		r.Pids = &specs.LinuxPids{Limit: &h.PidsLimit}
	}
	if h.NanoCPUs > 0 {
		period := uint64(100000)
		quota := h.NanoCPUs * int64(period) / 1e9
		if r.CPU == nil {
			r.CPU = &specs.LinuxCPU{}
		}
		r.CPU.Period, r.CPU.Quota = &period, &quota
	}
	return r
}

// cgroupPath is where the container's cgroup goes: under /berth, or
// under --cgroup-parent (taken from the root of each hierarchy, as
// Docker's cgroupfs driver takes it).
func cgroupPath(c *Container) string {
	parent := "/berth"
	if p := c.Host.CgroupParent; p != "" {
		parent = path.Join("/", p)
	}
	return path.Join(parent, c.ID)
}

// blkioDevices puts per-device weights and throttles into b: each
// PATH:VALUE's device numbers are the host device's now (one that is
// gone is left out; create checked that it was a device).
func blkioDevices(b *specs.LinuxBlockIO, byKind map[string][]string) {
	for kind, entries := range byKind {
		for _, e := range entries {
			i := strings.LastIndexByte(e, ':')
			if i < 0 {
				continue // create wrote PATH:VALUE
			}
			major, minor, err := DeviceNumbers(e[:i])
			if err != nil {
				continue
			}
			n, err := strconv.ParseUint(e[i+1:], 10, 64)
			if err != nil {
				continue // create wrote it from a number
			}
			dev := specs.LinuxBlockIODevice{Major: major, Minor: minor}
			switch kind {
			case "weight":
				w := uint16(n)
				b.WeightDevice = append(b.WeightDevice, specs.LinuxWeightDevice{LinuxBlockIODevice: dev, Weight: &w})
			case "read-bps":
				b.ThrottleReadBpsDevice = append(b.ThrottleReadBpsDevice, specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: n})
			case "write-bps":
				b.ThrottleWriteBpsDevice = append(b.ThrottleWriteBpsDevice, specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: n})
			case "read-iops":
				b.ThrottleReadIOPSDevice = append(b.ThrottleReadIOPSDevice, specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: n})
			case "write-iops":
				b.ThrottleWriteIOPSDevice = append(b.ThrottleWriteIOPSDevice, specs.LinuxThrottleDevice{LinuxBlockIODevice: dev, Rate: n})
			}
		}
	}
}

// DeviceNumbers are the major and minor numbers of the block or
// character device at path.
func DeviceNumbers(path string) (major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, fmt.Errorf("device %s: %w", path, err)
	}
	if m := st.Mode & unix.S_IFMT; m != unix.S_IFBLK && m != unix.S_IFCHR {
		return 0, 0, fmt.Errorf("%s is not a device", path)
	}
	return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}

// applySecurityOpts applies --security-opt: no-new-privileges,
// seccomp=unconfined|PROFILE.json. Without seccomp=, a container gets
// Docker's default profile; a privileged one gets none, a profile it
// names included (checked all the same), as with Docker.
func applySecurityOpts(s *specs.Spec, h Host, capList []string) error {
	prof := profile.Default()
	unconfined := h.Privileged
	for _, o := range h.SecurityOpt {
		k, v, _ := strings.Cut(o, "=")
		if o == "no-new-privileges" || o == "no-new-privileges=true" || k == "no-new-privileges" && v == "true" {
			s.Process.NoNewPrivileges = true
			continue
		}
		switch k {
		case "no-new-privileges":
			if v != "false" {
				return fmt.Errorf("--security-opt %q: want no-new-privileges[=true|false]", o)
			}
		case "seccomp":
			if v == "unconfined" {
				unconfined = true
				continue
			}
			b, err := os.ReadFile(v)
			if err != nil {
				return fmt.Errorf("--security-opt seccomp: %w", err)
			}
			if prof, err = profile.Parse(b); err != nil {
				return fmt.Errorf("--security-opt seccomp=%s: %w", v, err)
			}
			unconfined = false
		case "label", "apparmor":
			// No LSM here; accepted as Docker accepts them without one.
		default:
			return fmt.Errorf("--security-opt %q: unknown option (no-new-privileges, seccomp=unconfined|PROFILE)", o)
		}
	}
	if !unconfined && !h.Privileged {
		s.Linux.Seccomp = prof.For(capList, profile.ThisHost())
	}
	return nil
}

// ResolveUser turns "name", "uid", "name:group" or "uid:gid" into ids,
// reading the container's /etc/passwd and /etc/group through an os.Root
// so a symlink in the image cannot point the lookup at the host.
func ResolveUser(rootfs, spec string) (specs.User, error) {
	if spec == "" || spec == "root" || spec == "0" {
		return specs.User{}, nil
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	var u specs.User
	var pwGid uint32
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		u.UID = uint32(id)
		if e, ok := lookup(rootfs, "etc/passwd", func(f []string) bool { return f[2] == name }); ok {
			pwGid = atou(e[3])
		}
	} else {
		e, ok := lookup(rootfs, "etc/passwd", func(f []string) bool { return f[0] == name })
		if !ok {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", name)
		}
		u.UID, pwGid = atou(e[2]), atou(e[3])
	}
	u.GID = pwGid
	if hasGroup {
		if id, err := strconv.ParseUint(group, 10, 32); err == nil {
			u.GID = uint32(id)
		} else {
			e, ok := lookup(rootfs, "etc/group", func(f []string) bool { return f[0] == group })
			if !ok {
				return u, fmt.Errorf("unable to find group %s: no matching entries in group file", group)
			}
			u.GID = atou(e[2])
		}
	}
	return u, nil
}

// ResolveGroup is a --group-add: a number, or a name of the
// container's /etc/group.
func ResolveGroup(rootfs, g string) (uint32, error) {
	if id, err := strconv.ParseUint(g, 10, 32); err == nil {
		return uint32(id), nil
	}
	e, ok := lookup(rootfs, "etc/group", func(f []string) bool { return f[0] == g })
	if !ok {
		return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", g)
	}
	return atou(e[2]), nil
}

// ParseDeviceCgroupRule reads --device-cgroup-rule: "TYPE MAJOR:MINOR
// ACCESS", TYPE a, b or c, MAJOR and MINOR numbers or *, ACCESS of rwm.
func ParseDeviceCgroupRule(s string) (specs.LinuxDeviceCgroup, error) {
	bad := func() (specs.LinuxDeviceCgroup, error) {
		return specs.LinuxDeviceCgroup{}, fmt.Errorf("invalid device cgroup rule %q: want TYPE MAJOR:MINOR ACCESS, as \"c 1:3 mr\"", s)
	}
	f := strings.Fields(s)
	if len(f) != 3 || len(f[0]) != 1 || !strings.Contains("abc", f[0]) || f[2] == "" || strings.Trim(f[2], "rwm") != "" {
		return bad()
	}
	r := specs.LinuxDeviceCgroup{Allow: true, Type: f[0], Access: f[2]}
	maj, mnr, ok := strings.Cut(f[1], ":")
	if !ok {
		return bad()
	}
	for _, p := range []struct {
		v   string
		dst **int64
	}{{maj, &r.Major}, {mnr, &r.Minor}} {
		if p.v == "*" {
			continue
		}
		n, err := strconv.ParseInt(p.v, 10, 64)
		if err != nil || n < 0 {
			return bad()
		}
		*p.dst = &n
	}
	return r, nil
}

func atou(s string) uint32 {
	n, _ := strconv.ParseUint(s, 10, 32)
	return uint32(n)
}

func lookup(rootfs, file string, match func([]string) bool) ([]string, bool) {
	if rootfs == "" {
		return nil, false
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return nil, false
	}
	defer root.Close() // a directory handle, read through
	f, err := root.Open(file)
	if err != nil {
		return nil, false
	}
	defer f.Close() // read only
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) >= 4 && match(fields) || len(fields) >= 3 && file == "etc/group" && match(fields) {
			return fields, true
		}
	}
	return nil, false
}

// ValidateHost checks the host options create takes, so a bad -v or
// --tmpfs fails create and leaves nothing.
func ValidateHost(h Host) error {
	if h.AutoRemove && h.Restart.Name != "" && h.Restart.Name != "no" {
		return fmt.Errorf("conflicting options: --restart and --rm")
	}
	if err := checkMounts(h.Mounts); err != nil {
		return err
	}
	for _, d := range h.Devices {
		if _, _, _, err := ParseDevice(d); err != nil {
			return err
		}
	}
	for _, r := range h.DeviceCgroupRules {
		if _, err := ParseDeviceCgroupRule(r); err != nil {
			return err
		}
	}
	for _, u := range h.Ulimits {
		if _, err := ParseUlimit(u); err != nil {
			return err
		}
	}
	for flag, mode := range map[string]string{"--pid": h.PidMode, "--ipc": h.IpcMode, "--uts": h.UTSMode} {
		if mode != "" && mode != "host" && mode != "private" && mode != "shareable" && !strings.HasPrefix(mode, "container:") {
			return fmt.Errorf("%s %q: want host or container:NAME", flag, mode)
		}
	}
	if h.UTSMode == "host" && h.NetworkMode != "host" {
		// Docker allows it; the host name is then the host's.
		return nil
	}
	return nil
}

// MaskedPaths are Docker's paths hidden from a container (none when
// privileged).
func MaskedPaths(privileged bool) []string {
	if privileged {
		return nil
	}
	return []string{"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", "/sys/devices/virtual/powercap"}
}

// ReadonlyPaths are Docker's paths a container sees read-only (none
// when privileged).
func ReadonlyPaths(privileged bool) []string {
	if privileged {
		return nil
	}
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

func specMap(segs []idmap.Segment) []specs.LinuxIDMapping {
	out := make([]specs.LinuxIDMapping, len(segs))
	for i, g := range segs {
		out[i] = specs.LinuxIDMapping{ContainerID: g.Container, HostID: g.Host, Size: g.Size}
	}
	return out
}
