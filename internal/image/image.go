// Package image is berth's image service: it pulls and pushes images,
// keeps the names that point at them, unpacks their layers into
// snapshots, and saves, loads and imports archives. It composes three
// stores that stay apart: the content store (blobs by digest), the
// snapshot store (unpacked layers by chain ID) and the image index
// (names → manifests), kept here.
//
// An image's ID is the digest of its config, as Docker's is. An image is
// registered in the index only once every blob and snapshot it needs is
// complete, so an interrupted pull or load registers nothing.
package image

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/image/content"
	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/state"
)

// Record is an image as the index keeps it.
type Record struct {
	ID        v1.Hash         `json:"id"`       // config digest
	Manifest  v1.Hash         `json:"manifest"` // manifest digest
	MediaType types.MediaType `json:"mediaType"`
	// Names are normalised tagged references ("docker.io/library/busybox:latest").
	Names []string `json:"names,omitempty"`
	// RepoDigests are "<repository>@<digest>" for each registry manifest
	// (or index) digest it was pulled or pushed by.
	RepoDigests []string  `json:"repoDigests,omitempty"`
	Added       time.Time `json:"added"`
	// Parent is the image a commit (or a classic build's step) made
	// this one from: local history, as Docker keeps it, never pushed.
	Parent string `json:"parent,omitempty"`
}

type indexFile struct {
	Images []Record `json:"images"`
}

// Image is a registered image with its manifest and config.
type Image struct {
	Record
	Manifest  *v1.Manifest
	Config    *v1.ConfigFile
	RawConfig []byte
	// ChainIDs name the image's snapshots, base first.
	ChainIDs []v1.Hash
}

// Service is the image service over one storage root.
type Service struct {
	root      string
	Content   *content.Store
	Snapshots *snapshot.Store
	// InUse, when set, names the containers that use an image; rmi and
	// prune keep such images unless forced. The engine sets it.
	InUse func(id v1.Hash) ([]string, error)
}

// Open opens the image service rooted at root (the engine's storage
// root, /var/lib/berth by default).
func Open(root string) (*Service, error) {
	cs, err := content.Open(filepath.Join(root, "image"))
	if err != nil {
		return nil, err
	}
	ss, err := snapshot.OpenStore(filepath.Join(root, "snapshots"))
	if err != nil {
		return nil, err
	}
	return &Service{root: root, Content: cs, Snapshots: ss}, nil
}

func (s *Service) indexPath() string { return filepath.Join(s.root, "image", "index.json") }

// Errors callers test for.
var (
	ErrNotFound = errors.New("no such image")
	ErrInUse    = errors.New("image is in use")
)

func (s *Service) readIndex() (indexFile, error) {
	var f indexFile
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read image index: %w", err)
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("image index %s is corrupt: %w", s.indexPath(), err)
	}
	return f, nil
}

// update changes the index under its lock and writes it atomically.
func (s *Service) update(fn func(*indexFile) error) error {
	unlock, err := state.Flock(s.indexPath() + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	f, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(&f); err != nil {
		return err
	}
	sort.Slice(f.Images, func(i, j int) bool { return f.Images[i].Added.Before(f.Images[j].Added) })
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	return state.WriteFileAtomic(s.indexPath(), b, 0o600)
}

// gcLock is held shared by everything that writes blobs or snapshots
// before registering them, and exclusively by garbage collection, so GC
// never removes what a running pull has fetched but not yet registered.
func (s *Service) gcLock(exclusive bool) (func(), error) {
	p := filepath.Join(s.root, "image", "gc.lock")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", p, err)
	}
	how := unix.LOCK_SH
	if exclusive {
		how = unix.LOCK_EX
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		_ = f.Close() // the lock file could not be locked: this error is returned
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	return func() { _ = f.Close() }, nil // closing releases the lock; it cannot fail for an open file
}

// register records an image whose blobs and snapshots are all stored,
// moving the given names to it from any image that held them.
func (s *Service) register(rec Record) error {
	return s.update(func(f *indexFile) error {
		for i := range f.Images {
			f.Images[i].Names = slices.DeleteFunc(f.Images[i].Names, func(n string) bool { return slices.Contains(rec.Names, n) })
		}
		for i := range f.Images {
			if f.Images[i].ID == rec.ID {
				old := &f.Images[i]
				old.Manifest, old.MediaType = rec.Manifest, rec.MediaType
				old.Names = union(old.Names, rec.Names)
				old.RepoDigests = union(old.RepoDigests, rec.RepoDigests)
				if old.Parent == "" {
					old.Parent = rec.Parent
				}
				return nil
			}
		}
		if rec.Added.IsZero() {
			rec.Added = time.Now().UTC()
		}
		f.Images = append(f.Images, rec)
		return nil
	})
}

func union(a, b []string) []string {
	for _, x := range b {
		if !slices.Contains(a, x) {
			a = append(a, x)
		}
	}
	return a
}

// List returns every image, oldest first.
func (s *Service) List() ([]*Image, error) {
	f, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := make([]*Image, 0, len(f.Images))
	for _, rec := range f.Images {
		img, err := s.load(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	return out, nil
}

// load reads a record's manifest and config from the content store.
func (s *Service) load(rec Record) (*Image, error) {
	raw, err := s.Content.ReadSmall(rec.Manifest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", rec.ID.Hex[:12], err)
	}
	m, err := v1.ParseManifest(strings.NewReader(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", rec.ID.Hex[:12], err)
	}
	rawCfg, err := s.Content.ReadSmall(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", rec.ID.Hex[:12], err)
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(rawCfg)))
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", rec.ID.Hex[:12], err)
	}
	return &Image{Record: rec, Manifest: m, Config: cfg, RawConfig: rawCfg, ChainIDs: snapshot.ChainIDs(cfg.RootFS.DiffIDs)}, nil
}

// Get finds an image by name ("busybox", "busybox:1", "repo@sha256:…"),
// by full ID or by an unambiguous ID prefix, as Docker does.
func (s *Service) Get(ref string) (*Image, error) {
	f, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	rec, err := find(f.Images, ref)
	if err != nil {
		return nil, err
	}
	return s.load(*rec)
}

func find(images []Record, ref string) (*Record, error) {
	if id := strings.TrimPrefix(ref, "sha256:"); len(id) >= 4 && isHex(id) {
		var hit *Record
		for i := range images {
			if strings.HasPrefix(images[i].ID.Hex, id) {
				if hit != nil {
					return nil, fmt.Errorf("image ID prefix %q is ambiguous", ref)
				}
				hit = &images[i]
			}
		}
		if hit != nil {
			return hit, nil
		}
	}
	r, err := reference.Parse(ref)
	if err != nil {
		return nil, err
	}
	for i := range images {
		if r.Digest != "" {
			if slices.Contains(images[i].RepoDigests, r.Name()+"@"+r.Digest) || images[i].Manifest.String() == r.Digest {
				return &images[i], nil
			}
			continue
		}
		if t, _ := r.Tagged(); slices.Contains(images[i].Names, t) {
			return &images[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Tag gives the image src the name dst (moving dst off any other image).
func (s *Service) Tag(src, dst string) error {
	r, err := reference.Parse(dst)
	if err != nil {
		return err
	}
	name, ok := r.Tagged()
	if !ok || r.Digest != "" {
		return fmt.Errorf("tag %s: a tag cannot carry a digest", dst)
	}
	img, err := s.Get(src)
	if err != nil {
		return err
	}
	return s.register(Record{ID: img.ID, Manifest: img.Record.Manifest, MediaType: img.MediaType, Names: []string{name}})
}

// Size is the image's unpacked size: the file content of its layers.
func (s *Service) Size(img *Image) int64 {
	var n int64
	for _, c := range img.ChainIDs {
		if info, ok := s.Snapshots.Get(c); ok {
			n += info.Size
		}
	}
	return n
}
