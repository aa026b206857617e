package runtime

import (
	"errors"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// State returns the spec's state of a container.
func (r *Runtime) State(id string) (specs.State, error) {
	c, err := r.load(id)
	if err != nil {
		return specs.State{}, err
	}
	return specState(c, r.status(c)), nil
}

// Summary is one row of List.
type Summary struct {
	State   specs.State
	Rootfs  string
	Created time.Time
}

// List returns every container under the root. A container whose state
// cannot be read (being created this instant) is skipped.
func (r *Runtime) List() ([]Summary, error) {
	ids, err := r.store().List()
	if err != nil {
		return nil, err
	}
	var out []Summary
	for _, id := range ids {
		c, err := r.store().Load(id)
		if err != nil {
			if errors.Is(err, ErrNotExist) {
				continue
			}
			return nil, err
		}
		out = append(out, Summary{State: specState(c, r.status(c)), Rootfs: c.Rootfs, Created: c.Created})
	}
	return out, nil
}
