package runtime

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/rootfs"
)

// exampleCapabilities are the capabilities of runc's template: few, and
// ambient too, with no inheritable set (CVE-2022-29162), so that only
// what both sets allow is raised.
var exampleCapabilities = []string{"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}

// ExampleSpec is what `spec` writes: runc's template (scripts and test
// suites written for runc edit it and expect its shape), a shell in a
// busybox-like rootfs with the namespaces, mounts and masks a container
// normally has, and every device denied but the ones a process always
// gets. With rootless, it maps the caller's ids to root and drops what
// an unprivileged user cannot do.
func ExampleSpec(rootless bool, uid, gid uint32) *specs.Spec {
	caps := append([]string(nil), exampleCapabilities...)
	s := &specs.Spec{
		Version:  specs.Version,
		Root:     &specs.Root{Path: "rootfs", Readonly: true},
		Hostname: "berth",
		Process: &specs.Process{
			Terminal: true,
			Args:     []string{"sh"},
			Env:      []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"},
			Cwd:      "/",
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps, Ambient: caps,
			},
			Rlimits:         []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 1024, Soft: 1024}},
			NoNewPrivileges: true,
		},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
		},
		Linux: &specs.Linux{
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.IPCNamespace},
				{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
			},
			Resources: &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{{Allow: false, Access: "rwm"}}},
			MaskedPaths: []string{
				"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
				"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
				"/proc/scsi", "/sys/devices/virtual/powercap",
			},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	if rootless {
		s.Linux.Namespaces = append(s.Linux.Namespaces, specs.LinuxNamespace{Type: specs.UserNamespace})
		s.Linux.UIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: uid, Size: 1}}
		s.Linux.GIDMappings = []specs.LinuxIDMapping{{ContainerID: 0, HostID: gid, Size: 1}}
		for i := range s.Mounts {
			if s.Mounts[i].Destination == "/sys" {
				s.Mounts[i] = specs.Mount{Destination: "/sys", Type: "none", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}}
			}
		}
		s.Linux.Resources = nil // an unprivileged user has no cgroups of its own to set
		// gid=5 does not exist in a single-id user namespace.
		s.Mounts[2].Options = []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}
	}
	return s
}

// Features describes what this runtime supports, in the shape of the
// runtime-spec's features document.
func Features() map[string]any {
	var ns []string
	for t := range namespaceTypes {
		ns = append(ns, string(t))
	}
	var mountOpts []string
	for o := range flagOptions() {
		mountOpts = append(mountOpts, o)
	}
	yes := true
	return map[string]any{
		"ociVersionMin": "1.0.0",
		"ociVersionMax": specs.Version,
		"hooks":         []string{"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"},
		"mountOptions":  mountOpts,
		"linux": map[string]any{
			"namespaces":   ns,
			"capabilities": capsKnown(),
			"cgroup":       map[string]any{"v1": yes, "v2": yes},
			"mountExtensions": map[string]any{
				"idmap": map[string]any{"enabled": false},
			},
		},
		"annotations": map[string]string{"io.github.berth-project.berth.version": Version},
	}
}

func flagOptions() map[string]bool { return rootfs.OptionNames() }
