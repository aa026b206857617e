package runtime

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/berth-project/berth/internal/cgroups"
)

// Event is one line of `events`, in runc's shape.
type Event struct {
	Type string         `json:"type"` // "stats" or "oom"
	ID   string         `json:"id"`
	Data *cgroups.Stats `json:"data,omitempty"`
}

// Stats reads a container's resource usage.
func (r *Runtime) Stats(id string) (*cgroups.Stats, error) {
	_, cg, err := r.withCgroup(id)
	if err != nil {
		return nil, err
	}
	return cg.Stats()
}

// Events writes one JSON event per line to w: with once, a single stats
// event; otherwise a stats event every interval and an oom event whenever
// the OOM killer ends one of the container's processes, until the
// container stops.
func (r *Runtime) Events(id string, interval time.Duration, once bool, w io.Writer) error {
	c, cg, err := r.withCgroup(id)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	emitStats := func() error {
		s, err := cg.Stats()
		if err != nil {
			return fmt.Errorf("stats of container %s: %w", id, err)
		}
		return enc.Encode(Event{Type: "stats", ID: id, Data: s})
	}
	if once {
		return emitStats()
	}
	if interval <= 0 {
		return fmt.Errorf("events: --interval must be positive")
	}
	seen, _ := cg.OOMKills()
	// OOM kills are looked for more often than stats are sent.
	tick := interval
	if tick > 100*time.Millisecond {
		tick = 100 * time.Millisecond
	}
	next := time.Now().Add(interval)
	for {
		if n, err := cg.OOMKills(); err == nil && n > seen {
			seen = n
			if err := enc.Encode(Event{Type: "oom", ID: id}); err != nil {
				return err
			}
		}
		if r.status(c) == Stopped {
			return nil
		}
		if !time.Now().Before(next) {
			if err := emitStats(); err != nil {
				return err
			}
			next = next.Add(interval)
		}
		time.Sleep(tick)
	}
}
