// Package removal forgets a stopped container: its record, the host ID
// range of its user namespace, and its anonymous volumes that no other
// container mounts, each with its event. The engine's rm and a --rm
// container's monitor both end a container through it, so that it ends
// the same way whoever removes it.
package removal

import (
	"errors"
	"fmt"
	"path/filepath"

	mobyevents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/events"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/volume"
)

// Storage is one storage root's containers, volumes and ID ranges.
type Storage struct {
	Root string
}

func (s Storage) containers() container.Store { return container.Store{Root: s.Root} }

// Volumes is the root's volume store, with VolumeUsers as its in-use
// check.
func (s Storage) Volumes() volume.Store { return volume.Store{Root: s.Root, InUse: s.VolumeUsers} }

// IDRanges is the root's allocator of --userns=auto ranges.
func (s Storage) IDRanges() idmap.Allocator {
	return idmap.Allocator{File: filepath.Join(s.Root, "userns-ranges.json")}
}

func (s Storage) journal() events.Journal { return events.Journal{Dir: s.Root} }

// VolumeUsers names the containers that mount volume name. A listing
// error is returned, so that the volume store fails closed.
func (s Storage) VolumeUsers(name string) ([]string, error) {
	all, err := s.containers().List()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []string
	for _, c := range all {
		for _, m := range c.Host.Mounts {
			if m.Type == "volume" && m.Source == name {
				out = append(out, c.Name)
				break
			}
		}
	}
	return out, nil
}

// Forget removes a stopped container's record and what it holds: its
// ID range, and with volumes its anonymous volumes no other container
// mounts. Events are best effort: a removal that happened is not undone
// because its record could not be written.
func (s Storage) Forget(c *container.Container, volumes bool) error {
	if err := s.containers().Remove(c); err != nil {
		return err
	}
	_ = s.journal().Append(mobyevents.Message{Type: mobyevents.ContainerEventType, Action: mobyevents.ActionDestroy,
		Actor: mobyevents.Actor{ID: c.ID, Attributes: c.EventAttributes()}})
	var errs []error
	if c.Host.IDMap != nil {
		errs = append(errs, s.IDRanges().Release(c.ID)) // no-op for a --uidmap range
	}
	if volumes {
		errs = append(errs, s.removeAnonymousVolumes(c))
	}
	return errors.Join(errs...)
}

// removeAnonymousVolumes removes the container's anonymous volumes
// (rm -v, --rm), unless another container uses them too.
func (s Storage) removeAnonymousVolumes(c *container.Container) error {
	vols := s.Volumes()
	var errs []error
	for _, m := range c.Host.Mounts {
		if m.Type != "volume" || !m.Anonymous {
			continue
		}
		users, err := s.VolumeUsers(m.Source)
		if err != nil {
			errs = append(errs, err) // kept: its users are unknown
			continue
		}
		if len(users) > 0 {
			continue
		}
		if err := vols.Remove(m.Source, false); err != nil && !errors.Is(err, volume.ErrNotFound) {
			errs = append(errs, err)
		} else if err == nil {
			_ = s.journal().Append(mobyevents.Message{Type: mobyevents.VolumeEventType, Action: mobyevents.ActionDestroy,
				Actor: mobyevents.Actor{ID: m.Source, Attributes: map[string]string{"driver": "local"}}}) // best effort, as above
		}
	}
	return errors.Join(errs...)
}
