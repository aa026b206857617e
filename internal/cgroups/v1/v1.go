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
		var init func(string) error
		if strings.Contains(n, "cpuset") {
			init = inheritCpuset
		}
		created, err := fscommon.MkdirChain(root, m.path, init)
		if len(created) > len(m.created) {
			m.created = created
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// inheritCpuset fills a new v1 cpuset cgroup's cpus and mems from its
// parent: v1 leaves them empty, and an empty cpuset refuses tasks.
func inheritCpuset(dir string) error {
	for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
		data, err := os.ReadFile(filepath.Join(filepath.Dir(dir), f))
		if err != nil {
			return fmt.Errorf("read parent %s of %s: %w", f, dir, err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0); err != nil {
			return fmt.Errorf("write %s of %s: %w", f, dir, err)
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
