package api

import (
	"net/http"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/moby/moby/api/types/swarm"
	mobysystem "github.com/moby/moby/api/types/system"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/engine"
)

// ping answers /_ping: "OK", with the headers clients negotiate by.
// Builder-Version 1: the classic build endpoint is what berth serves,
// so the docker CLI without buildx uses it.
func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Builder-Version", "1")
	h.Set("Docker-Experimental", "false")
	h.Set("Swarm", "inactive")
	h.Set("Cache-Control", "no-cache, no-store, must-revalidate")
	h.Set("Pragma", "no-cache")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	if r.Method == http.MethodHead {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte("OK")) // the client went away: nobody to tell
}

func kernelVersion() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

func (s *Server) versionInfo(w http.ResponseWriter, _ *http.Request) {
	v := mobysystem.VersionResponse{
		Platform: mobysystem.PlatformInfo{Name: "berth"}, Version: s.version, APIVersion: APIVersion, MinAPIVersion: MinAPIVersion,
		Os: "linux", Arch: goruntime.GOARCH, GoVersion: goruntime.Version(), KernelVersion: kernelVersion(),
		Components: []mobysystem.ComponentVersion{{Name: "Engine", Version: s.version,
			Details: map[string]string{"ApiVersion": APIVersion, "MinAPIVersion": MinAPIVersion, "Os": "linux", "Arch": goruntime.GOARCH, "GoVersion": goruntime.Version()}}},
	}
	writeJSON(w, http.StatusOK, v)
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

func (s *Server) info(w http.ResponseWriter, _ *http.Request) {
	cs, err := s.e.ContainerList(engine.ListOptions{All: true})
	if err != nil {
		writeError(w, err)
		return
	}
	// Every image, intermediate ones too, as Docker counts them.
	imgs, err := s.e.ImageList(engine.ImageListOptions{All: true})
	if err != nil {
		writeError(w, err)
		return
	}
	root, _ := s.e.Roots()
	host, _ := os.Hostname()
	in := mobysystem.Info{ID: "berth", Containers: len(cs), Images: len(imgs), Driver: "overlay2", LoggingDriver: "json-file",
		CgroupDriver: "cgroupfs", CgroupVersion: cgroupVersion(), KernelVersion: kernelVersion(), OperatingSystem: osName(),
		OSType: "linux", Architecture: goruntime.GOARCH, NCPU: goruntime.NumCPU(), MemTotal: memTotal(), DockerRootDir: root,
		Name: host, ServerVersion: s.version, DefaultRuntime: "berth-runtime", SystemTime: time.Now().Format(time.RFC3339Nano),
		MemoryLimit: true, SwapLimit: true, CPUCfsPeriod: true, CPUCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true,
		IPv4Forwarding: true, IndexServerAddress: "https://index.docker.io/v1/",
		Runtimes: map[string]mobysystem.RuntimeWithStatus{"berth-runtime": {Runtime: mobysystem.Runtime{Path: "berth-runtime"}}},
		Swarm:    swarm.Info{LocalNodeState: swarm.LocalNodeStateInactive}}
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
	writeJSON(w, http.StatusOK, in)
}

func cgroupVersion() string {
	var st unix.Statfs_t
	if unix.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return "2"
	}
	return "1"
}

func memTotal() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
