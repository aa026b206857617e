package image

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/image/reference"
)

// Removal reports what rmi or prune did, as Docker prints it.
type Removal struct {
	Untagged []string // familiar names and repo digests
	Deleted  []string // image IDs
	Freed    int64    // bytes of blobs and snapshots removed
}

// inUse names the users of an image: containers, and its image mount.
// It fails closed: when the users cannot be listed, the image counts as
// in use, so that rmi and prune never delete what a container needs.
func (s *Service) inUse(id v1.Hash) ([]string, error) {
	var users []string
	if isMountPoint(filepath.Join(s.root, "mounts", id.Hex)) {
		users = append(users, "(image mount)")
	}
	if s.InUse != nil {
		more, err := s.InUse(id)
		if err != nil {
			return nil, fmt.Errorf("find the containers of image %s: %w", short(id), err)
		}
		users = append(users, more...)
	}
	return users, nil
}

// Remove is `rmi`: by name it removes that name, and the image when no
// name is left; by ID it removes the image. An image that containers
// use, or that an ID names under several repositories, is kept unless
// force is set; forced, an image in use loses its names but stays.
func (s *Service) Remove(ref string, force bool) (Removal, error) {
	var res Removal
	var deleted bool
	err := s.update(func(f *indexFile) error {
		rec, err := find(f.Images, ref)
		if err != nil {
			return err
		}
		users, err := s.inUse(rec.ID)
		if err != nil {
			return err
		}
		byName := !matchesID(rec, ref)
		if byName {
			r, _ := reference.Parse(ref) // find parsed it already
			if t, ok := r.Tagged(); ok && r.Digest == "" {
				if len(rec.Names) > 1 || (len(users) > 0 && force) {
					rec.Names = slices.DeleteFunc(rec.Names, func(n string) bool { return n == t })
					res.Untagged = append(res.Untagged, r.Familiar())
					return nil
				}
			}
		} else if len(rec.Names) > 1 && !force {
			return fmt.Errorf("conflict: unable to delete %s (must be forced): image is referenced in multiple repositories", short(rec.ID))
		}
		if len(users) > 0 {
			if !force {
				return fmt.Errorf("conflict: unable to remove %s: %w by container %s", ref, ErrInUse, strings.Join(users, ", "))
			}
			res.Untagged = append(res.Untagged, familiar(rec.Names)...)
			rec.Names = nil
			return nil
		}
		res.Untagged = append(append(res.Untagged, familiar(rec.Names)...), familiar(rec.RepoDigests)...)
		res.Deleted = append(res.Deleted, rec.ID.String())
		f.Images = slices.DeleteFunc(f.Images, func(r Record) bool { return r.ID == rec.ID })
		deleted = true
		return nil
	})
	if err != nil || !deleted {
		return res, err
	}
	res.Freed, err = s.GC()
	return res, err
}

func matchesID(rec *Record, ref string) bool {
	id := strings.TrimPrefix(ref, "sha256:")
	return len(id) >= 4 && isHex(id) && strings.HasPrefix(rec.ID.Hex, id)
}

func short(id v1.Hash) string { return id.Hex[:12] }

func familiar(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		if r, err := reference.Parse(n); err == nil {
			out = append(out, r.Familiar())
		} else {
			out = append(out, n)
		}
	}
	return out
}

// Prune removes dangling images (no name), or with all every image,
// that no container uses.
func (s *Service) Prune(all bool, spare func(id string) bool) (Removal, error) {
	var res Removal
	err := s.update(func(f *indexFile) error {
		var listErr error
		f.Images = slices.DeleteFunc(f.Images, func(r Record) bool {
			if listErr != nil || (len(r.Names) > 0 && !all) || spare != nil && spare(r.ID.String()) {
				return false
			}
			users, err := s.inUse(r.ID)
			if err != nil {
				listErr = err
				return false
			}
			if len(users) > 0 {
				return false
			}
			res.Untagged = append(append(res.Untagged, familiar(r.Names)...), familiar(r.RepoDigests)...)
			res.Deleted = append(res.Deleted, r.ID.String())
			return true
		})
		// Nothing is removed when the users of any image are unknown:
		// update writes the index only when this returns nil.
		return listErr
	})
	if err != nil {
		return res, err
	}
	res.Freed, err = s.GC()
	return res, err
}

// GC removes blobs and snapshots that no registered image references and
// returns the bytes freed. It waits for running pulls and loads, whose
// blobs are not registered yet.
func (s *Service) GC() (int64, error) {
	unlock, err := s.gcLock(true)
	if err != nil {
		return 0, err
	}
	defer unlock()
	images, err := s.List()
	if err != nil {
		return 0, err
	}
	blobs := map[v1.Hash]bool{}
	snaps := map[v1.Hash]bool{}
	for _, img := range images {
		blobs[img.Record.Manifest] = true
		blobs[img.Manifest.Config.Digest] = true
		for _, l := range img.Manifest.Layers {
			blobs[l.Digest] = true
		}
		for _, c := range img.ChainIDs {
			snaps[c] = true
		}
	}
	var freed int64
	all, err := s.Content.List()
	if err != nil {
		return 0, err
	}
	for _, d := range all {
		if blobs[d] {
			continue
		}
		n, _ := s.Content.Size(d)
		if err := s.Content.Delete(d); err != nil {
			return freed, err
		}
		freed += n
	}
	infos, err := s.Snapshots.List()
	if err != nil {
		return freed, err
	}
	for _, info := range infos {
		if snaps[info.ChainID] {
			continue
		}
		if err := s.Snapshots.Remove(info.ChainID); err != nil {
			return freed, err
		}
		freed += info.Size
	}
	// What killed pulls and commits left: half-unpacked layers and the
	// lock files of layers that are gone.
	freed += s.Snapshots.RemoveAbandoned()
	s.Content.RemoveIdleLocks()
	return freed, nil
}
