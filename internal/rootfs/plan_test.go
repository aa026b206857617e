package rootfs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/nsenter"
)

func stepsSpec(t *testing.T) (Config, string) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "hosts")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	spec := &specs.Spec{
		Root: &specs.Root{Path: "rootfs", Readonly: true},
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "ro"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec"}},
			{Destination: "/run", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid"}},
			{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"ro"}},
			{Destination: "/etc/hosts", Type: "bind", Source: "hosts", Options: []string{"rbind", "ro", "rprivate"}},
			{Destination: "/data", Type: "bind", Source: dir, Options: []string{"rbind", "rro"}},
		},
		Linux: &specs.Linux{
			Sysctl:        map[string]string{"net.ipv4.ip_forward": "1", "kernel.shm_rmid_forced": "1"},
			MaskedPaths:   []string{"/proc/kcore"},
			ReadonlyPaths: []string{"/proc/sys"},
			Namespaces:    []specs.LinuxNamespace{{Type: specs.MountNamespace}},
		},
	}
	return Config{Spec: spec, Rootfs: filepath.Join(dir, "rootfs"), Bundle: dir,
		CgroupPaths: map[string]string{"memory": "/sys/fs/cgroup/memory/x", "cpu,cpuacct": "/sys/fs/cgroup/cpu,cpuacct/x"}}, dir
}

// TestStepsFollowPrepare checks the compiled steps do what Prepare,
// PivotRoot and Finish do, in their order.
func TestStepsFollowPrepare(t *testing.T) {
	cfg, dir := stepsSpec(t)
	steps, err := Steps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, s := range steps {
		lines = append(lines, strings.TrimSpace(strings.Join([]string{
			map[uint32]string{nsenter.StepMount: "mount", nsenter.StepSetattr: "setattr", nsenter.StepRoot: "root", nsenter.StepMknod: "mknod",
				nsenter.StepSymlink: "symlink", nsenter.StepPivot: "pivot", nsenter.StepWrite: "write", nsenter.StepReadonly: "readonly", nsenter.StepMask: "mask"}[s.Op],
			s.Path, s.FSType, s.Data}, " ")))
	}
	got := strings.Join(lines, "\n")
	for _, want := range []string{
		"mount /", "root " + cfg.Rootfs,
		"mount /proc proc", "mount /dev tmpfs mode=755", "mount /dev/pts devpts", "mount /run tmpfs",
		"mount /sys/fs/cgroup tmpfs mode=755", "mount /sys/fs/cgroup/cpu,cpuacct", "mount /sys/fs/cgroup/memory",
		"mount /etc/hosts", "setattr /data", "mknod /dev/null", "symlink /dev/ptmx", "pivot " + cfg.Rootfs,
		"write /proc/sys/kernel/shm_rmid_forced", "write /proc/sys/net/ipv4/ip_forward",
		"readonly /proc/sys", "mask /proc/kcore", "mount /dev  mode=755", "mount /",
	} {
		i := strings.Index(got, want)
		if i < 0 {
			t.Fatalf("no %q step, or out of order, in\n%s", want, got)
		}
		got = got[i+len(want):]
	}
	find := func(op uint32, path string) []nsenter.Step {
		var out []nsenter.Step
		for _, s := range steps {
			if s.Op == op && s.Path == path {
				out = append(out, s)
			}
		}
		return out
	}
	// A file bind gets a file made for it, and its flags by a remount;
	// the propagation option comes after.
	hosts := find(nsenter.StepMount, "/etc/hosts")
	if len(hosts) != 3 || hosts[0].Target != nsenter.TargetFile || hosts[0].Src != filepath.Join(dir, "hosts") ||
		hosts[1].Flags != unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY || hosts[2].Flags != unix.MS_PRIVATE|unix.MS_REC {
		t.Fatalf("/etc/hosts steps: %+v", hosts)
	}
	if d := find(nsenter.StepMount, "/data"); len(d) != 1 || d[0].Target != nsenter.TargetDir {
		t.Fatalf("/data steps: %+v", d)
	}
	// A read-only /dev is filled first and made read-only at the end.
	dev := find(nsenter.StepMount, "/dev")
	if len(dev) != 2 || dev[0].Flags&unix.MS_RDONLY != 0 || dev[1].Flags&(unix.MS_RDONLY|unix.MS_REMOUNT) != unix.MS_RDONLY|unix.MS_REMOUNT {
		t.Fatalf("/dev steps: %+v", dev)
	}
	if p := find(nsenter.StepMount, "/proc"); len(p) != 1 || p[0].Opts&nsenter.OptDirOnly == 0 {
		t.Fatalf("/proc must be mounted on a directory: %+v", p)
	}
	if r := find(nsenter.StepMount, "/run"); len(r) != 1 || r[0].Opts&nsenter.OptTmpfsMode == 0 {
		t.Fatalf("a tmpfs without mode takes the covered directory's: %+v", r)
	}
	if r := find(nsenter.StepMount, "/"); len(r) < 2 || r[len(r)-1].Opts&nsenter.OptLocked == 0 || r[len(r)-1].Flags&unix.MS_RDONLY == 0 {
		t.Fatalf("read-only root: %+v", r)
	}
	// Seven devices by default, and the links.
	n := 0
	for _, s := range steps {
		if s.Op == nsenter.StepMknod {
			n++
		}
	}
	if n != len(DefaultDevices) {
		t.Fatalf("%d device nodes, want %d", n, len(DefaultDevices))
	}
}

func TestStepsRefuseWhatPrepareRefuses(t *testing.T) {
	cfg, _ := stepsSpec(t)
	cfg.Spec.Mounts = append(cfg.Spec.Mounts, specs.Mount{Destination: "/x", Type: "bind", Source: "/nonexistent/source"})
	if _, err := Steps(cfg); err == nil || !strings.Contains(err.Error(), "bind mount source /nonexistent/source") {
		t.Fatalf("missing bind source: %v", err)
	}
	cfg, _ = stepsSpec(t)
	cfg.Spec.Linux.RootfsPropagation = "sideways"
	if _, err := Steps(cfg); err == nil || !strings.Contains(err.Error(), "rootfsPropagation") {
		t.Fatalf("bad propagation: %v", err)
	}
	cfg, _ = stepsSpec(t)
	cfg.Spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/x", Type: "q"}}
	if _, err := Steps(cfg); err == nil || !strings.Contains(err.Error(), "unknown device type") {
		t.Fatalf("bad device: %v", err)
	}
}

func TestStepsInAUserNamespace(t *testing.T) {
	cfg, dir := stepsSpec(t)
	cfg.InUserNS = true
	cfg.Spec.Mounts = append(cfg.Spec.Mounts, specs.Mount{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "ro"}})
	// The runtime opened /data's source: it checks its own fd, init
	// mounts through its.
	f, err := os.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cfg.Sources = map[int]string{6: fmt.Sprintf("/proc/self/fd/%d", f.Fd())}
	cfg.ChildSources = map[int]string{6: "/proc/self/fd/40"}
	steps, err := Steps(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var devBinds, sysfs, devpts, retries, data int
	for _, s := range steps {
		switch {
		case s.Op == nsenter.StepMknod:
			t.Fatalf("mknod in a user namespace: %+v", s)
		case s.Op == nsenter.StepMount && strings.HasPrefix(s.What, "create device ") && s.Src == s.Path && s.Target == nsenter.TargetFile:
			devBinds++
		case s.Op == nsenter.StepMount && s.FSType == "sysfs":
			if s.Opts&nsenter.OptSysfsBind != 0 && s.B&unix.MS_RDONLY != 0 {
				sysfs++
			}
		case s.Op == nsenter.StepMount && s.FSType == "devpts" && s.Opts&nsenter.OptDevptsNoGid != 0:
			devpts++
		case s.Op == nsenter.StepMount && s.Flags&unix.MS_REMOUNT != 0 && s.Opts&nsenter.OptLockedRetry != 0:
			retries++
		case s.Op == nsenter.StepMount && s.Path == "/data":
			if s.Src != "/proc/self/fd/40" || s.Target != nsenter.TargetDir {
				t.Fatalf("/data from %q", s.Src)
			}
			data++
		}
	}
	if devBinds != len(DefaultDevices) || sysfs != 1 || devpts != 1 || retries == 0 || data != 1 {
		t.Fatalf("devices %d, sysfs %d, devpts %d, remounts that retry %d, /data %d", devBinds, sysfs, devpts, retries, data)
	}
}
