package container

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// Mount is one user mount: -v, --mount, --tmpfs, or an image VOLUME.
type Mount struct {
	Type     string   `json:"type"`             // bind, volume or tmpfs
	Source   string   `json:"source,omitempty"` // host path or volume name
	Target   string   `json:"target"`
	ReadOnly bool     `json:"readOnly,omitempty"`
	Options  []string `json:"options,omitempty"` // tmpfs options
	// NoCopy keeps a new volume empty instead of filling it from the
	// image's content at the target.
	NoCopy bool `json:"noCopy,omitempty"`
	// Anonymous volumes are removed with their container by rm -v and
	// --rm.
	Anonymous bool `json:"anonymous,omitempty"`
	// Propagation is a bind's mount propagation: rprivate (""), private,
	// rshared, shared, rslave or slave.
	Propagation string `json:"propagation,omitempty"`
	// CreateSource makes a missing bind source directory, as -v does
	// (--mount type=bind refuses one).
	CreateSource bool `json:"createSource,omitempty"`
}

// propagations are the bind propagation modes Docker takes.
var propagations = []string{"private", "rprivate", "shared", "rshared", "slave", "rslave"}

// ParseVolume reads -v: HOST-PATH:TARGET[:OPTS] binds a host path,
// NAME:TARGET[:OPTS] mounts a named volume, TARGET alone an anonymous
// one. OPTS are ro, rw, nocopy and SELinux's z/Z (no effect here).
func ParseVolume(s string) (Mount, error) {
	parts := strings.Split(s, ":")
	if len(parts) > 3 || s == "" {
		return Mount{}, fmt.Errorf("-v %q: want [SOURCE:]TARGET[:OPTIONS]", s)
	}
	if slices.Contains(parts, "") {
		return Mount{}, fmt.Errorf("invalid spec: %s: empty section between colons", s)
	}
	var m Mount
	switch len(parts) {
	case 1:
		m = Mount{Type: "volume", Target: parts[0], Anonymous: true}
	default:
		m = Mount{Type: "volume", Source: parts[0], Target: parts[1]}
		if filepath.IsAbs(parts[0]) {
			m.Type, m.CreateSource = "bind", true
		}
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw", "z", "Z":
			case "nocopy":
				m.NoCopy = true
			default:
				if !slices.Contains(propagations, o) || m.Type != "bind" {
					return Mount{}, fmt.Errorf("-v %q: unknown option %q (ro, rw, nocopy, and a bind's propagation: %s)", s, o, strings.Join(propagations, ", "))
				}
				m.Propagation = o
			}
		}
	}
	return m, m.check("-v " + strconv.Quote(s))
}

// ParseMount reads --mount type=bind|volume|tmpfs,source=…,target=…
// with readonly, volume-nocopy, tmpfs-size and tmpfs-mode, as Docker.
func ParseMount(s string) (Mount, error) {
	m := Mount{Type: "volume"}
	for _, kv := range strings.Split(s, ",") {
		k, v, hasV := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "type":
			m.Type = v
		case "source", "src":
			m.Source = v
		case "target", "destination", "dst":
			m.Target = v
		case "readonly", "ro":
			b, err := strconv.ParseBool(v)
			if !hasV {
				b, err = true, nil
			}
			if err != nil {
				return Mount{}, fmt.Errorf("--mount %q: invalid readonly value %q", s, v)
			}
			m.ReadOnly = b
		case "volume-nocopy":
			m.NoCopy = !hasV || v == "true" || v == "1"
		case "tmpfs-size":
			n, err := ParseBytes(v)
			if err != nil {
				return Mount{}, fmt.Errorf("--mount %q: tmpfs-size: %w", s, err)
			}
			m.Options = append(m.Options, "size="+strconv.FormatInt(n, 10))
		case "tmpfs-mode":
			if _, err := strconv.ParseUint(v, 8, 32); err != nil {
				return Mount{}, fmt.Errorf("--mount %q: invalid tmpfs-mode %q", s, v)
			}
			m.Options = append(m.Options, "mode="+v)
		case "bind-propagation":
			if !slices.Contains(propagations, v) {
				return Mount{}, fmt.Errorf("--mount %q: invalid bind-propagation %q (%s)", s, v, strings.Join(propagations, ", "))
			}
			m.Propagation = v
		case "consistency", "volume-driver":
			// One consistency and one driver (local) here.
		default:
			return Mount{}, fmt.Errorf("--mount %q: unknown field %q", s, k)
		}
	}
	switch m.Type {
	case "bind", "tmpfs":
	case "volume":
		m.Anonymous = m.Source == ""
	default:
		return Mount{}, fmt.Errorf("--mount %q: unknown type %q (bind, volume, tmpfs)", s, m.Type)
	}
	if m.Type == "tmpfs" && m.Source != "" {
		return Mount{}, fmt.Errorf("--mount %q: a tmpfs mount takes no source", s)
	}
	return m, m.check("--mount " + strconv.Quote(s))
}

// ParseTmpfs reads --tmpfs TARGET[:OPTIONS].
func ParseTmpfs(s string) (Mount, error) {
	d, o, _ := strings.Cut(s, ":")
	m := Mount{Type: "tmpfs", Target: d}
	if o != "" {
		m.Options = strings.Split(o, ",")
	}
	return m, m.check("--tmpfs " + strconv.Quote(s))
}

func (m Mount) check(what string) error {
	if m.Target == "" {
		return fmt.Errorf("%s: no target", what)
	}
	if !filepath.IsAbs(m.Target) {
		return fmt.Errorf("%s: the container path must be absolute", what)
	}
	if filepath.Clean(m.Target) == "/" {
		return fmt.Errorf("%s: cannot mount over /", what)
	}
	switch m.Type {
	case "bind":
		if m.Source == "" || !filepath.IsAbs(m.Source) {
			return fmt.Errorf("%s: a bind source must be an absolute host path", what)
		}
		if _, err := os.Stat(m.Source); err != nil && !m.CreateSource {
			return fmt.Errorf("%s: bind source path does not exist: %s", what, m.Source)
		}
	case "volume":
		if m.Source != "" && !nameRE.MatchString(m.Source) {
			return fmt.Errorf("%s: invalid volume name %q", what, m.Source)
		}
	}
	return nil
}

// ParseBytes reads a size: 512, 64k, 64m, 1g, 1gb.
func ParseBytes(s string) (int64, error) {
	if s == "" {
		return 0, nil
	}
	t := strings.TrimSuffix(strings.ToLower(s), "b")
	mult := int64(1)
	if t != "" {
		switch t[len(t)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
	}
	if mult != 1 {
		t = t[:len(t)-1]
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("invalid size %q", s)
	}
	return n * mult, nil
}

// VolumePath maps a volume name to its directory on the host.
type VolumePath func(name string) (string, error)

// userMounts turns the container's mounts into OCI mounts, resolving
// volumes through vol.
func userMounts(h Host, vol VolumePath) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, m := range h.Mounts {
		var sm specs.Mount
		switch m.Type {
		case "bind":
			sm = specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: []string{"rbind", orPrivate(m.Propagation)}}
		case "volume":
			if vol == nil {
				return nil, fmt.Errorf("volume %s: no volume store", m.Source)
			}
			src, err := vol(m.Source)
			if err != nil {
				return nil, err
			}
			sm = specs.Mount{Destination: m.Target, Type: "bind", Source: src, Options: []string{"rbind", "rprivate"}}
		case "tmpfs":
			sm = specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs", Options: append([]string{"nosuid", "nodev", "noexec"}, m.Options...)}
		default:
			return nil, fmt.Errorf("mount on %s: unknown type %q", m.Target, m.Type)
		}
		if m.ReadOnly {
			sm.Options = append(sm.Options, "ro")
		}
		out = append(out, sm)
	}
	return out, nil
}

func orPrivate(p string) string {
	if p == "" {
		return "rprivate"
	}
	return p
}

// checkMounts refuses two mounts on one target.
func checkMounts(ms []Mount) error {
	seen := map[string]bool{}
	for _, m := range ms {
		t := filepath.Clean(m.Target)
		if seen[t] {
			return fmt.Errorf("duplicate mount point: %s", t)
		}
		seen[t] = true
	}
	return nil
}

// ParseDevice reads --device HOST[:CONTAINER][:PERMISSIONS].
func ParseDevice(s string) (host, ctr, perms string, err error) {
	parts := strings.Split(s, ":")
	host, ctr, perms = parts[0], parts[0], "rwm"
	switch len(parts) {
	case 1:
	case 2:
		if validPerms(parts[1]) {
			perms = parts[1]
		} else {
			ctr = parts[1]
		}
	case 3:
		ctr, perms = parts[1], parts[2]
	default:
		return "", "", "", fmt.Errorf("--device %q: want HOST[:CONTAINER][:rwm]", s)
	}
	if !filepath.IsAbs(host) || !filepath.IsAbs(ctr) {
		return "", "", "", fmt.Errorf("--device %q: paths must be absolute", s)
	}
	if !validPerms(perms) {
		return "", "", "", fmt.Errorf("--device %q: invalid permissions %q (a combination of r, w, m)", s, perms)
	}
	return host, ctr, perms, nil
}

func validPerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if !strings.ContainsRune("rwm", c) {
			return false
		}
	}
	return true
}

// devices turns --device into device nodes and cgroup rules. The host
// node is read when the container starts, so a device that appeared or
// changed since create is what the container gets.
func devices(h Host) ([]specs.LinuxDevice, []specs.LinuxDeviceCgroup, error) {
	var nodes []specs.LinuxDevice
	var rules []specs.LinuxDeviceCgroup
	for _, d := range h.Devices {
		host, ctr, perms, err := ParseDevice(d)
		if err != nil {
			return nil, nil, err
		}
		var st unix.Stat_t
		if err := unix.Stat(host, &st); err != nil {
			return nil, nil, fmt.Errorf("--device %s: %w", host, err)
		}
		typ := ""
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil, nil, fmt.Errorf("--device %s: not a device node", host)
		}
		major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		mode := os.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		nodes = append(nodes, specs.LinuxDevice{Path: ctr, Type: typ, Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid})
		rules = append(rules, specs.LinuxDeviceCgroup{Allow: true, Type: typ, Major: &major, Minor: &minor, Access: perms})
	}
	return nodes, rules, nil
}

// defaultDeviceRules are Docker's: nothing but the standard nodes, the
// pty devices, and mknod (which alone opens nothing).
func defaultDeviceRules() []specs.LinuxDeviceCgroup {
	n := func(v int64) *int64 { return &v }
	any := n(-1)
	r := []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: any, Minor: any, Access: "m"},
		{Allow: true, Type: "b", Major: any, Minor: any, Access: "m"},
	}
	for _, d := range [][2]int64{{1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}} {
		r = append(r, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(d[0]), Minor: n(d[1]), Access: "rwm"})
	}
	return append(r, specs.LinuxDeviceCgroup{Allow: true, Type: "c", Major: n(136), Minor: any, Access: "rwm"})
}

// ulimitNames are --ulimit's names and their rlimits.
var ulimitNames = map[string]string{
	"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE", "nice": "RLIMIT_NICE",
	"nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO",
	"rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}

var rlimitNums = map[string]int{
	"RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE,
	"RLIMIT_LOCKS": 10, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS, "RLIMIT_RTPRIO": 14,
	"RLIMIT_RTTIME": 15, "RLIMIT_SIGPENDING": 11, "RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_AS": unix.RLIMIT_AS,
}

// ParseUlimit reads --ulimit NAME=SOFT[:HARD] (-1 is unlimited) and
// refuses a hard limit above the host's: without CAP_SYS_RESOURCE the
// container could not be started with it.
func ParseUlimit(s string) (specs.POSIXRlimit, error) {
	name, val, ok := strings.Cut(s, "=")
	typ := ulimitNames[name]
	if !ok || typ == "" {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: want NAME=SOFT[:HARD] with NAME one of nofile, nproc, core, memlock, stack, …", s)
	}
	num := func(v string) (uint64, error) {
		if v == "-1" || v == "unlimited" {
			return unix.RLIM_INFINITY, nil
		}
		return strconv.ParseUint(v, 10, 64)
	}
	softS, hardS, hasHard := strings.Cut(val, ":")
	soft, err := num(softS)
	if err != nil {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: invalid soft limit", s)
	}
	hard := soft
	if hasHard {
		if hard, err = num(hardS); err != nil {
			return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: invalid hard limit", s)
		}
	}
	if soft > hard {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: soft limit %d is above the hard limit %d", s, soft, hard)
	}
	var rl unix.Rlimit
	if unix.Getrlimit(rlimitNums[typ], &rl) == nil && hard > rl.Max {
		return specs.POSIXRlimit{}, fmt.Errorf("--ulimit %q: hard limit above the host's (%d)", s, rl.Max)
	}
	return specs.POSIXRlimit{Type: typ, Soft: soft, Hard: hard}, nil
}

// rlimits is the default NOFILE limit with --ulimit on top.
func rlimits(h Host, nofile uint64) ([]specs.POSIXRlimit, error) {
	out := []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: nofile, Soft: nofile}}
	for _, u := range h.Ulimits {
		rl, err := ParseUlimit(u)
		if err != nil {
			return nil, err
		}
		out = slices.DeleteFunc(out, func(x specs.POSIXRlimit) bool { return x.Type == rl.Type })
		out = append(out, rl)
	}
	return out, nil
}
