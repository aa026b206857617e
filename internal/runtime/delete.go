package runtime

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/berth-project/berth/internal/hooks"
)

// Delete removes a stopped (or, as runc does, a created) container: its
// cgroups and state, then runs the poststop hooks. A running container
// needs force, which kills it first.
func (r *Runtime) Delete(id string, force bool) error {
	c, unlock, err := r.lockAndLoad(id)
	if err != nil {
		return err
	}
	defer unlock()
	switch st := r.status(c); st {
	case Running, Paused, Created, Creating:
		if !force {
			return fmt.Errorf("cannot delete container %s that is not stopped: %s (use --force)", id, st)
		}
		if err := r.killAndWait(c); err != nil {
			return err
		}
	case Stopped:
		// Processes outside a PID namespace may outlive init.
		if err := r.signalAll(c, 9); err != nil {
			r.warnf("%v", err)
		}
	}
	trace("delete: killed")
	cg, err := r.cgroupOfContainer(c)
	if err != nil {
		return err
	}
	trace("delete: cgroup host detected")
	if err := cg.Destroy(); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	trace("delete: cgroups removed")
	if err := os.RemoveAll(r.store().Dir(id)); err != nil {
		return fmt.Errorf("delete container %s: %w", id, err)
	}
	if c.Config != nil && c.Config.Hooks != nil && len(c.Config.Hooks.Poststop) > 0 {
		s, _ := json.Marshal(specState(c, Stopped))
		for _, err := range hooks.RunAll("poststop", c.Config.Hooks.Poststop, s) {
			r.warnf("%v", err)
		}
	}
	return nil
}
