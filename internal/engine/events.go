package engine

import (
	"context"
	"strings"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/events"
)

func (e *Engine) journal() events.Journal { return events.Journal{Dir: e.paths.Root} }

// emit records an event in the journal. It is best effort: what
// happened is not undone because its record could not be written (a
// full disk, say), and the operation's caller has nothing to do about
// it, so the error is dropped here.
func (e *Engine) emit(typ mobyevents.Type, action mobyevents.Action, id string, attrs map[string]string) {
	_ = e.journal().Append(mobyevents.Message{Type: typ, Action: action, Actor: mobyevents.Actor{ID: id, Attributes: attrs}})
}

// containerEvent records an event of c with Docker's attributes: its
// labels, image and name, and extra key/value pairs.
func (e *Engine) containerEvent(c *container.Container, action mobyevents.Action, extra ...string) {
	attrs := c.EventAttributes()
	for i := 0; i+1 < len(extra); i += 2 {
		attrs[extra[i]] = extra[i+1]
	}
	e.emit(mobyevents.ContainerEventType, action, c.ID, attrs)
}

// EventsOptions are events'.
type EventsOptions struct {
	// Since and Until bound the events' times; zero Since is now (only
	// new events), zero Until follows until ctx ends.
	Since, Until time.Time
	// Filters: type=, event=, container=, image=, network=, volume=,
	// label=, scope=.
	Filters Filters
}

// SystemEvents calls fn for each event that matches, oldest first, from
// every berth process of this storage root.
func (e *Engine) SystemEvents(ctx context.Context, o EventsOptions, fn func(mobyevents.Message) error) error {
	f := o.Filters
	if err := f.check("type", "event", "container", "image", "network", "volume", "label", "scope", "daemon", "plugin"); err != nil {
		return err
	}
	since := o.Since
	if since.IsZero() {
		since = time.Now()
	}
	ro := events.ReadOptions{Since: since, Until: o.Until, Follow: o.Until.IsZero() || o.Until.After(time.Now())}
	return e.journal().Read(ctx, ro, func(m mobyevents.Message) error {
		if !eventMatches(f, m) {
			return nil
		}
		return fn(m)
	})
}

func eventMatches(f Filters, m mobyevents.Message) bool {
	actor := func(typ mobyevents.Type, key string) bool {
		return f.any(key, func(v string) bool {
			return m.Type == typ && (strings.HasPrefix(m.Actor.ID, v) || m.Actor.Attributes["name"] == v)
		})
	}
	return f.any("type", func(v string) bool { return v == string(m.Type) }) &&
		f.any("event", func(v string) bool { return v == string(m.Action) || strings.HasPrefix(string(m.Action), v+":") }) &&
		actor(mobyevents.ContainerEventType, "container") &&
		f.any("image", func(v string) bool {
			return m.Actor.Attributes["image"] == v || m.Type == mobyevents.ImageEventType && (strings.HasPrefix(m.Actor.ID, v) || m.Actor.Attributes["name"] == v)
		}) &&
		actor(mobyevents.NetworkEventType, "network") && actor(mobyevents.VolumeEventType, "volume") &&
		f.labels(m.Actor.Attributes) && f.any("scope", func(v string) bool { return v == "local" })
}
