package image

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
)

// ImportOptions describe the image `import` makes.
type ImportOptions struct {
	Ref      string   // name for the image; empty leaves it untagged
	Changes  []string // Dockerfile instructions (--change)
	Message  string   // history comment (--message)
	Platform *v1.Platform
}

// Import makes a single-layer image of a root filesystem tar (plain,
// gzip or zstd), as `docker import` does, and registers it.
func (s *Service) Import(ctx context.Context, r io.Reader, o ImportOptions) (*Image, error) {
	var name string
	if o.Ref != "" {
		ref, err := reference.Parse(o.Ref)
		if err != nil {
			return nil, err
		}
		var ok bool
		if name, ok = ref.Tagged(); !ok || ref.Digest != "" {
			return nil, fmt.Errorf("import: %s: a name for an image cannot carry a digest", o.Ref)
		}
	}
	cfg := v1.ConfigFile{Created: v1.Time{Time: time.Now().UTC()}, OS: "linux"}
	p := HostPlatform()
	if o.Platform != nil {
		p = *o.Platform
	}
	cfg.Architecture, cfg.Variant, cfg.OS = p.Architecture, p.Variant, p.OS
	if err := ApplyChanges(&cfg.Config, o.Changes); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	unlock, err := s.gcLock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Store the tar as given, hashing its uncompressed form on the way
	// for the config's diff ID; then unpack it from the store.
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	w, err := s.Content.Writer(v1.Hash{}, -1)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	dr, err := decompress(io.TeeReader(br, w))
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	h := sha256.New()
	if _, err := io.Copy(h, dr); err != nil {
		return nil, fmt.Errorf("import: read archive: %w", err)
	}
	dr.Close()
	if _, err := io.Copy(io.Discard, io.TeeReader(br, w)); err != nil {
		return nil, fmt.Errorf("import: read archive: %w", err)
	}
	size := w.Written()
	layerDigest, err := w.Commit()
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	cfg.RootFS = v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}}
	cfg.History = []v1.History{{Created: cfg.Created, CreatedBy: "berth import", Comment: o.Message}}
	layer := v1.Descriptor{MediaType: types.MediaType(layerMediaType(magic)), Digest: layerDigest, Size: size}
	rep := progress.New(io.Discard, progress.Quiet)
	if err := s.ensureLayers(ctx, []layerJob{{Desc: layer, DiffID: diffID, ChainID: diffID}}, rep, 1); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	rawCfg, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgDigest, err := s.Content.Put(rawCfg)
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(rawCfg))},
		Layers: []v1.Descriptor{layer}}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, err := s.Content.Put(rawManifest)
	if err != nil {
		return nil, err
	}
	rec := Record{ID: cfgDigest, Manifest: md, MediaType: types.OCIManifestSchema1}
	if name != "" {
		rec.Names = []string{name}
	}
	if err := s.register(rec); err != nil {
		return nil, err
	}
	return s.Get(cfgDigest.String())
}
