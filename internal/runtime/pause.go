package runtime

import "fmt"

// Paused is the status of a frozen container (runc's word for it).
const Paused Status = "paused"

// Pause freezes every process of a running container.
func (r *Runtime) Pause(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(c); st != Running {
		return fmt.Errorf("cannot pause container %s: it is %s, not running", id, st)
	}
	cg, err := r.cgroupOf(c)
	if err != nil {
		return err
	}
	if err := cg.Freeze(true); err != nil {
		return fmt.Errorf("pause container %s: %w", id, err)
	}
	return nil
}

// Resume thaws a paused container.
func (r *Runtime) Resume(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(c); st != Paused {
		return fmt.Errorf("cannot resume container %s: it is %s, not paused", id, st)
	}
	cg, err := r.cgroupOf(c)
	if err != nil {
		return err
	}
	if err := cg.Freeze(false); err != nil {
		return fmt.Errorf("resume container %s: %w", id, err)
	}
	return nil
}
