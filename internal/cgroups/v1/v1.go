// Package v1 manages a container's cgroups on a host with cgroup v1
// hierarchies (one directory per controller, or per co-mounted group). On
// a hybrid host the cgroup2 mount is treated as one more hierarchy named
// "unified".
package v1

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// Manager is one container's cgroup in every hierarchy.
type Manager struct {
	roots   map[string]string // hierarchy name -> mount point
	path    string
	created []string
}

// New returns a manager for path under each of roots.
func New(roots map[string]string, path string, created []string) *Manager {
	return &Manager{roots: roots, path: path, created: created}
}

func (m *Manager) names() []string {
	n := make([]string, 0, len(m.roots))
	for k := range m.roots {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Create makes the directories. All hierarchies share one path, so the
// created list from the first is the same for all.
func (m *Manager) Create() error {
	for _, n := range m.names() {
		root := m.roots[n]
		created, err := fscommon.MkdirChain(root, m.path)
		if len(created) > len(m.created) {
			m.created = created
		}
		if err != nil {
			return err
		}
		if strings.Contains(n, "cpuset") {
			if err := fillCpusets(root, m.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillCpusets gives every cpuset cgroup on the way to path, the ones
// made by others included (a pod's), its parent's cpus and mems where
// it has none: v1 leaves a new cpuset empty, and an empty one refuses
// tasks ("no space left on device").
func fillCpusets(root, path string) error {
	dir := root
	for _, part := range strings.Split(strings.Trim(filepath.Clean("/"+path), "/"), "/") {
		if part == "" {
			continue
		}
		parent := dir
		dir = filepath.Join(dir, part)
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			cur, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				return fmt.Errorf("read %s of %s: %w", f, dir, err)
			}
			if strings.TrimSpace(string(cur)) != "" {
				continue
			}
			data, err := os.ReadFile(filepath.Join(parent, f))
			if err != nil {
				return fmt.Errorf("read parent %s of %s: %w", f, dir, err)
			}
			if err := os.WriteFile(filepath.Join(dir, f), data, 0); err != nil {
				return fmt.Errorf("write %s of %s: %w", f, dir, err)
			}
		}
	}
	return nil
}

// Join writes pid into every hierarchy.
func (m *Manager) Join(pid int) error {
	for _, n := range m.names() {
		if err := fscommon.WritePid(filepath.Join(m.roots[n], m.path), pid); err != nil {
			return err
		}
	}
	return nil
}

// JoinSub moves pid into sub-cgroups: each hierarchy takes the path of
// one of its controllers ("cpu,cpuacct" takes cpu's or cpuacct's), else
// the "" one. The unified hierarchy of a hybrid host takes the "" one.
func (m *Manager) JoinSub(pid int, sub map[string]string) error {
	known := map[string]bool{}
	for _, n := range m.names() {
		for _, c := range strings.Split(n, ",") {
			known[c] = true
		}
	}
	for c := range sub {
		if c != "" && !known[c] {
			return fmt.Errorf("unknown controller %q", c)
		}
	}
	for _, n := range m.names() {
		rel := sub[""]
		for _, c := range strings.Split(n, ",") {
			if p, ok := sub[c]; ok {
				rel = p
			}
		}
		if err := fscommon.WritePid(filepath.Join(m.roots[n], m.path, rel), pid); err != nil {
			return fmt.Errorf("adding pid %d to the sub-cgroup: %w", pid, err)
		}
	}
	return nil
}

// unified is the name of a hybrid host's cgroup2 hierarchy among roots.
const unified = "unified"

// CloneFD opens the container's directory in a hybrid host's cgroup2
// hierarchy; v1 controllers cannot be entered at clone time.
func (m *Manager) CloneFD() (int, bool, error) {
	root, ok := m.roots[unified]
	if !ok {
		return -1, false, nil
	}
	dir := filepath.Join(root, m.path)
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	return fd, true, nil
}

// SelfJoinFiles lists the tasks file of every v1 hierarchy.
func (m *Manager) SelfJoinFiles() []string {
	var files []string
	for _, n := range m.names() {
		if n != unified {
			files = append(files, filepath.Join(m.roots[n], m.path, "tasks"))
		}
	}
	return files
}

// Paths maps hierarchy names to the container's directories.
func (m *Manager) Paths() map[string]string {
	p := make(map[string]string, len(m.roots))
	for n, r := range m.roots {
		p[n] = filepath.Join(r, m.path)
	}
	return p
}

// Pids lists the container's processes from the pids hierarchy (or any
// other when that is not mounted).
func (m *Manager) Pids() ([]int, error) {
	for _, pref := range []string{"pids", "freezer", "memory"} {
		if r, ok := m.roots[pref]; ok {
			return fscommon.ReadPids(filepath.Join(r, m.path))
		}
	}
	for _, n := range m.names() {
		return fscommon.ReadPids(filepath.Join(m.roots[n], m.path))
	}
	return nil, nil
}

// Destroy removes the container's directory from every hierarchy; it goes
// on past a failure so one busy hierarchy does not leak all the others.
func (m *Manager) Destroy() error {
	var first error
	for _, n := range m.names() {
		if err := fscommon.RemoveChain(m.roots[n], m.path, m.created); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Created lists the directories Create made, parents first.
func (m *Manager) Created() []string { return m.created }
