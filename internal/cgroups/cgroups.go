// Package cgroups owns the container's control groups: it detects what
// kind of host this is (cgroup v1, v2, or hybrid — v1 controllers beside a
// cgroup2 mount), and hands out one Manager interface implemented for each
// (v1/ and v2/). Resource limits arrive with the cgroups issue; this layer
// creates, joins, lists and removes.
package cgroups

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	v1 "github.com/berth-project/berth/internal/cgroups/v1"
	v2 "github.com/berth-project/berth/internal/cgroups/v2"
)

// Manager is one container's cgroup on this host.
type Manager interface {
	// Create makes the container's cgroup directories.
	Create() error
	// Join moves pid into the container's cgroups.
	Join(pid int) error
	// JoinSub moves pid into cgroups below the container's (runc's exec
	// --cgroup): sub maps a controller to a relative path, "" to the
	// path for the others. The paths are checked by the caller.
	JoinSub(pid int, sub map[string]string) error
	// CloneFD returns a directory fd for clone3's CLONE_INTO_CGROUP into
	// the cgroup2 hierarchy (v2, or the unified one of a hybrid host), so
	// the child is born there; ok is false on a v1-only host. The caller
	// closes the fd.
	CloneFD() (fd int, ok bool, err error)
	// SelfJoinFiles lists the v1 "tasks" files through which a thread
	// moves itself (by writing "0") into the container's v1 cgroups.
	// Moving one thread, the caller, takes no global lock; moving a
	// process through cgroup.procs waits for an RCU grace period, which
	// on an idle machine costs 5-20 ms. The init stage uses this from the
	// thread that will execve, so the whole process ends up there.
	SelfJoinFiles() []string
	// Paths maps hierarchy names to the container's directories.
	Paths() map[string]string
	// Pids lists the processes in the container's cgroup.
	Pids() ([]int, error)
	// Set writes the resource limits. Knobs the host lacks or the
	// hierarchy has no equivalent for come back as warnings, one line
	// each; anything that cannot be enforced as asked is an error.
	Set(r *specs.LinuxResources) (warnings []string, err error)
	// Freeze stops every process of the container (true) or lets them go
	// on (false), and returns once the kernel says it is done.
	Freeze(frozen bool) error
	// Frozen reports whether the container is frozen.
	Frozen() (bool, error)
	// Stats reads the container's resource usage.
	Stats() (*Stats, error)
	// OOMKills counts the container's processes the OOM killer ended.
	OOMKills() (uint64, error)
	// Destroy removes the container's directories (and the parents that
	// Create made), waiting briefly for exiting processes to leave.
	Destroy() error
	// Created lists the directories, relative to a hierarchy root, that
	// Create made, parents first; saved in State to rebuild the manager.
	Created() []string
}

// State is a Manager's persistent form.
type State struct {
	Path string `json:"path"`
	// Created lists the directories, relative to a hierarchy root, that
	// Create made (parents first), so Destroy removes only those.
	Created []string `json:"created,omitempty"`
}

// Mode is the kind of cgroup host.
type Mode int

// The kinds of host.
const (
	ModeV1 Mode = iota
	ModeHybrid
	ModeV2
)

func (m Mode) String() string {
	return [...]string{"v1", "hybrid", "v2"}[m]
}

// Host describes the cgroup mounts of this machine.
type Host struct {
	Mode Mode
	// V1 maps a hierarchy name (its mount point's base name: "memory",
	// "cpu,cpuacct", "systemd") to its mount point.
	V1 map[string]string
	// Unified is the cgroup2 mount point, if any.
	Unified string
}

var detected struct {
	sync.Once
	host *Host
	err  error
}

// DetectHost reads /proc/self/mountinfo, once per process: the runtime
// asks in several places per operation, and mounts of cgroupfs do not
// change under it.
func DetectHost() (*Host, error) {
	detected.Do(func() { detected.host, detected.err = detectHost() })
	return detected.host, detected.err
}

func detectHost() (*Host, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	defer f.Close() // read only
	h := &Host{V1: map[string]string{}}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, " - ")
		if i < 0 {
			continue
		}
		pre, post := strings.Fields(line[:i]), strings.Fields(line[i+3:])
		if len(pre) < 5 || len(post) < 1 {
			continue
		}
		mp := pre[4]
		switch post[0] {
		case "cgroup2":
			if h.Unified == "" || mp == "/sys/fs/cgroup" {
				h.Unified = mp
			}
		case "cgroup":
			if _, dup := h.V1[filepath.Base(mp)]; !dup {
				h.V1[filepath.Base(mp)] = mp
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("detect cgroups: %w", err)
	}
	switch {
	case len(h.V1) == 0 && h.Unified != "":
		h.Mode = ModeV2
	case len(h.V1) > 0 && h.Unified != "":
		h.Mode = ModeHybrid
	case len(h.V1) > 0:
		h.Mode = ModeV1
	default:
		return nil, fmt.Errorf("detect cgroups: no cgroup filesystem is mounted")
	}
	return h, nil
}

// DefaultParent holds the cgroups of containers without a cgroupsPath. It
// stays when its containers are gone, as Docker's /docker does: making and
// removing it in every hierarchy on each run costs a millisecond.
const DefaultParent = "/berth"

// CleanPath turns a spec cgroupsPath into an absolute path below each
// hierarchy root; ".." cannot climb above it. An empty path gets the
// default /berth/ID. Relative paths are placed under /berth too.
func CleanPath(cgroupsPath, id string) string {
	if cgroupsPath == "" {
		return filepath.Join(DefaultParent, id)
	}
	if !filepath.IsAbs(cgroupsPath) {
		return filepath.Join(DefaultParent, filepath.Clean("/"+cgroupsPath))
	}
	return filepath.Clean(cgroupsPath)
}

// Missing lists the directories of path (parents first) that do not
// exist yet, judged by one hierarchy: what Create is about to make. It is
// recorded before Create runs, so that a crash in between leaves delete
// enough to clean up.
func Missing(h *Host, path string) []string {
	root := h.Unified
	for _, mp := range h.V1 {
		root = mp
		break
	}
	var missing []string
	cur := "/"
	for _, p := range strings.Split(strings.Trim(path, "/"), "/") {
		if p == "" {
			continue
		}
		cur = filepath.Join(cur, p)
		if _, err := os.Stat(filepath.Join(root, cur)); err != nil {
			missing = append(missing, cur)
		}
	}
	return missing
}

// New returns the manager for st on host h.
func New(h *Host, st State) Manager {
	if len(st.Created) > 0 && st.Created[0] == DefaultParent {
		st.Created = st.Created[1:] // it stays: see DefaultParent
	}
	if h.Mode == ModeV2 {
		return v2.New(h.Unified, st.Path, st.Created)
	}
	roots := map[string]string{}
	for n, mp := range h.V1 {
		roots[n] = mp
	}
	if h.Mode == ModeHybrid {
		roots["unified"] = h.Unified
	}
	return v1.New(roots, st.Path, st.Created)
}
