package v1

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/cgroups/fscommon"
)

// Freeze stops (or lets go on) every process of the container, through
// the v1 freezer, or the cgroup2 side of a hybrid host when the freezer
// controller is not mounted.
func (m *Manager) Freeze(frozen bool) error {
	if d, ok := m.dir("freezer"); ok {
		want := "THAWED"
		if frozen {
			want = "FROZEN"
		}
		if err := fscommon.WriteFile(d, "freezer.state", want); err != nil {
			return err
		}
		return fscommon.WaitFor(d, "freezer.state", func(s string) bool { return s == want })
	}
	if root, ok := m.roots[unified]; ok {
		return fscommon.Freeze2(filepath.Join(root, m.path), frozen)
	}
	return fmt.Errorf("pause: no freezer on this host (neither the v1 freezer nor cgroup2)")
}

// Frozen reports whether the container is frozen.
func (m *Manager) Frozen() (bool, error) {
	if d, ok := m.dir("freezer"); ok {
		s, err := fscommon.ReadFile(d, "freezer.state")
		if err != nil {
			return false, err
		}
		return strings.TrimSpace(s) == "FROZEN", nil
	}
	if root, ok := m.roots[unified]; ok {
		return fscommon.Frozen2(filepath.Join(root, m.path))
	}
	return false, nil
}
