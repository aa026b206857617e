package v2

import "github.com/berth-project/berth/internal/cgroups/fscommon"

// Freeze stops (or lets go on) every process of the container.
func (m *Manager) Freeze(frozen bool) error { return fscommon.Freeze2(m.dir(), frozen) }

// Frozen reports whether the container is frozen.
func (m *Manager) Frozen() (bool, error) { return fscommon.Frozen2(m.dir()) }
