package image

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/progress"
	"github.com/berth-project/berth/internal/snapshot"
)

// An admission is an image arriving in the store, from a registry
// (pull), an archive (load) or a root filesystem tar (import): its
// manifest and config as bytes, and where each layer's blob comes from.
type admission struct {
	rawManifest []byte
	mediaType   types.MediaType
	rawConfig   []byte
	// fetch opens a layer's blob at its source; nil when every blob is
	// in the content store already (load, import).
	fetch func(v1.Descriptor) (func() (io.ReadCloser, error), error)
	// names and repoDigests are registered with the image.
	names, repoDigests []string
	parent             string // the image it was made from (commit)
	rep                progress.Reporter
	jobs               int // layers at once
}

// admit is the one way an image enters the store, so that pull, load
// and import are held to the same checks: the config is the one the
// manifest names, it lists a diff ID per layer, each layer is a
// distributable layer; then every blob is stored and unpacked (verified
// as it streams), the config and manifest are stored, and the image is
// registered under its names. Nothing is registered unless all of it is
// complete. The caller holds the GC lock shared.
func (s *Service) admit(ctx context.Context, a admission) (Record, error) {
	m, err := v1.ParseManifest(bytesReader(a.rawManifest))
	if err != nil {
		return Record{}, fmt.Errorf("manifest: %w", err)
	}
	cfgDigest, _, err := v1.SHA256(bytesReader(a.rawConfig))
	if err != nil || cfgDigest != m.Config.Digest {
		return Record{}, fmt.Errorf("config has digest %s, the manifest says %s: refused", cfgDigest, m.Config.Digest)
	}
	cfg, err := v1.ParseConfigFile(bytesReader(a.rawConfig))
	if err != nil {
		return Record{}, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return Record{}, fmt.Errorf("manifest has %d layers, config %d: refused", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	chain := snapshot.ChainIDs(cfg.RootFS.DiffIDs)
	jobs := make([]layerJob, len(m.Layers))
	for i, l := range m.Layers {
		if !l.MediaType.IsLayer() || !l.MediaType.IsDistributable() {
			return Record{}, fmt.Errorf("layer %s: media type %q is not a distributable layer", l.Digest, l.MediaType)
		}
		jobs[i] = layerJob{Desc: l, DiffID: cfg.RootFS.DiffIDs[i], ChainID: chain[i]}
		if a.fetch != nil {
			if jobs[i].Fetch, err = a.fetch(l); err != nil {
				return Record{}, err
			}
		}
	}
	rep := a.rep
	if rep == nil {
		rep = progress.New(io.Discard, progress.Quiet)
	}
	if err := s.ensureLayers(ctx, jobs, rep, max(a.jobs, 1)); err != nil {
		return Record{}, err
	}
	if _, err := s.Content.Put(a.rawConfig); err != nil {
		return Record{}, err
	}
	md, err := s.Content.Put(a.rawManifest)
	if err != nil {
		return Record{}, err
	}
	rec := Record{ID: cfgDigest, Manifest: md, MediaType: a.mediaType, Names: a.names, RepoDigests: a.repoDigests, Parent: a.parent}
	if err := s.register(rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}
