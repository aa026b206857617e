package runtime

import "fmt"

// Paused is the status of a frozen container (runc's word for it).
const Paused Status = "paused"

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error { return r.setFrozen(id, true) }

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error { return r.setFrozen(id, false) }

func (r *Runtime) setFrozen(id string, frozen bool) error {
	op, from := "pause", Running
	if !frozen {
		op, from = "resume", Paused
	}
	c, cg, err := r.withCgroup(id)
	if err != nil {
		return err
	}
	if st := r.status(c); st != from {
		return fmt.Errorf("cannot %s container %s: it is %s, not %s", op, id, st, from)
	}
	if err := cg.Freeze(frozen); err != nil {
		return fmt.Errorf("%s container %s: %w", op, id, err)
	}
	return nil
}
