// Package v2 manages a container's cgroup on a unified (cgroup v2) host:
// one directory, entered at clone time through CLONE_INTO_CGROUP.
package v2

import (
	"fmt"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// Manager is one container's cgroup in the unified hierarchy.
type Manager struct {
	root, path string
	created    []string
}

// New returns a manager for path under the cgroup2 mount root.
func New(root, path string, created []string) *Manager {
	return &Manager{root: root, path: path, created: created}
}

func (m *Manager) dir() string { return filepath.Join(m.root, m.path) }

// Create makes the directory and its parents.
func (m *Manager) Create() error {
	created, err := fscommon.MkdirChain(m.root, m.path)
	m.created = created
	return err
}

// Join writes pid into cgroup.procs.
func (m *Manager) Join(pid int) error { return fscommon.WritePid(m.dir(), pid) }

// JoinSub moves pid into a cgroup below the container's: one hierarchy,
// so one path, the "" one; a controller name has no hierarchy here.
func (m *Manager) JoinSub(pid int, sub map[string]string) error {
	for c := range sub {
		if c != "" {
			return fmt.Errorf("unknown controller %q: cgroup v2 has one hierarchy, give the path alone", c)
		}
	}
	if err := fscommon.WritePid(filepath.Join(m.dir(), sub[""]), pid); err != nil {
		return fmt.Errorf("adding pid %d to the sub-cgroup: %w", pid, err)
	}
	return nil
}

// CloneFD opens the directory for CLONE_INTO_CGROUP.
func (m *Manager) CloneFD() (int, bool, error) {
	fd, err := unix.Open(m.dir(), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, false, fmt.Errorf("open cgroup %s: %w", m.dir(), err)
	}
	return fd, true, nil
}

// SelfJoinFiles: a v2 host needs none, init is born in its cgroup.
func (m *Manager) SelfJoinFiles() []string { return nil }

// Paths maps "" (the one hierarchy) to the directory.
func (m *Manager) Paths() map[string]string { return map[string]string{"": m.dir()} }

// Pids lists cgroup.procs.
func (m *Manager) Pids() ([]int, error) { return fscommon.ReadPids(m.dir()) }

// Destroy removes the directory and the parents Create made.
func (m *Manager) Destroy() error { return fscommon.RemoveChain(m.root, m.path, m.created) }

// Created lists the directories Create made, parents first.
func (m *Manager) Created() []string { return m.created }
