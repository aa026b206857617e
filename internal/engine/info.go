package engine

import (
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	mobysystem "github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups"
	"github.com/berth-project/berth/internal/rootless"
	"github.com/berth-project/berth/internal/snapshot"
)

// SystemInfo describes the engine and its host as Docker's info does:
// the containers by state, the images (intermediate ones too), the
// storage and cgroup drivers, the kernel, the OS and the machine.
func (e *Engine) SystemInfo() (mobysystem.Info, error) {
	cs, err := e.ContainerList(ListOptions{All: true})
	if err != nil {
		return mobysystem.Info{}, err
	}
	imgs, err := e.ImageList(ImageListOptions{All: true})
	if err != nil {
		return mobysystem.Info{}, err
	}
	host, _ := os.Hostname() // "" when it cannot be read: info still answers
	in := mobysystem.Info{ID: "berth", Containers: len(cs), Images: len(imgs), Driver: "overlay2", LoggingDriver: "json-file",
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion(), KernelVersion: KernelVersion(), OperatingSystem: osName(),
		OSType: "linux", Architecture: goruntime.GOARCH, NCPU: goruntime.NumCPU(), MemTotal: int64(hostMemory()), DockerRootDir: e.paths.Root,
		Name: host, ServerVersion: Version, DefaultRuntime: "berth-runtime", SystemTime: time.Now().Format(time.RFC3339Nano),
		MemoryLimit: true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
		IPv4Forwarding: true, IndexServerAddress: "https://index.docker.io/v1/",
		SecurityOptions: []string{"name=seccomp,profile=builtin", "name=cgroupns"},
		Runtimes:        map[string]mobysystem.RuntimeWithStatus{"berth-runtime": {Runtime: mobysystem.Runtime{Path: "berth-runtime"}}},
		Swarm:           swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}}
	if rootless.Active() {
		e.rootlessInfo(&in)
	}
	for _, c := range cs {
		switch c.State {
		case "running":
			in.ContainersRunning++
		case "paused":
			in.ContainersPaused++
		default:
			in.ContainersStopped++
		}
	}
	return in, nil
}

// KernelVersion is the host kernel's release, "" if unreadable.
func KernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// osName is the host's PRETTY_NAME, as docker info shows it.
func osName() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return "Linux"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "PRETTY_NAME="); ok {
			return strings.Trim(v, `"`)
		}
	}
	return "Linux"
}

// cgroupVersion is "2" on a pure cgroup v2 host, else "1" (hybrid too).
func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

// rootlessInfo says how a rootless engine runs, and why, as Docker's
// rootless info does: a rootless security option, the cgroup driver
// (none without delegation, and then no limit), the storage and the
// networks it has.
func (e *Engine) rootlessInfo(in *mobysystem.Info) {
	in.SecurityOptions = append(in.SecurityOptions, "name=rootless")
	if host, err := cgroups.DetectHost(); err != nil || !cgroups.Writable(host, "berth") {
		in.CgroupDriver = "none"
		in.MemoryLimit, in.SwapLimit, in.CPUCfsPeriod, in.CPUCfsQuota, in.CPUShares, in.CPUSet, in.PidsLimit = false, false, false, false, false, false, false
		in.Warnings = append(in.Warnings, "rootless: no cgroup is delegated to this user: containers run without one, and resource limits are refused")
	}
	storage := "rootless: storage is native overlayfs in the user namespace (its ids mapped by newuidmap from /etc/subuid); fuse-overlayfs only where the kernel refuses it"
	if os.Getenv(StorageDriverEnv) == snapshot.FuseOverlayfs {
		storage = "rootless: storage is fuse-overlayfs, as " + StorageDriverEnv + " asks"
		if err := snapshot.FuseUsable(); err != nil {
			storage += ", which cannot mount here: " + err.Error()
		}
	}
	in.Warnings = append(in.Warnings, storage,
		"rootless: the default network is user-mode (slirp4netns, ports forwarded by berth); none and host work; user-defined networks need root")
}
