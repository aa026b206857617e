package image

import (
	"archive/tar"
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/snapshot"
)

// ImportOptions describe the image `import` makes.
type ImportOptions struct {
	Ref      string   // name for the image; empty leaves it untagged
	Changes  []string // Dockerfile instructions (--change)
	Message  string   // history comment (--message)
	Platform *v1.Platform
	// Base, when set, makes the layer a new top layer of Base (commit):
	// its layers, platform and history are kept.
	Base *Image
	// Config, when set, is the new image's runtime config before
	// Changes (commit: the container's); without it, Base's is kept.
	Config *RuntimeConfig
	// Author and CreatedBy go into the config and history.
	Author, CreatedBy string
	// EmptyHistory are steps that added no layer, recorded before the
	// new layer's (a builder's metadata steps).
	EmptyHistory []v1.History
	// Adopt, when set, is called once the tar is read to its end: it
	// returns a directory that holds the tar's files already in
	// overlay's form (a container's trimmed upper dir, given up by the
	// caller), which becomes the layer's snapshot by a rename instead of
	// an unpack of the tar; or "" when there is none.
	Adopt func() string
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
	if o.Base != nil {
		cfg.Architecture, cfg.Variant, cfg.OS = o.Base.Config.Architecture, o.Base.Config.Variant, o.Base.Config.OS
		cfg.Config = o.Base.Config.Config
		cfg.History = append([]v1.History(nil), o.Base.Config.History...)
	}
	startInterval := time.Duration(0)
	if o.Base != nil {
		startInterval = o.Base.HealthStartInterval()
	}
	if o.Config != nil {
		cfg.Config, startInterval = o.Config.Config, o.Config.HealthStartInterval
	}
	cfg.Author = o.Author
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
	defer w.Close() // discards the blob unless committed
	dr, err := decompress(io.TeeReader(br, w))
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	h := sha256.New()
	var fileBytes int64 // for an adopted snapshot's Info, as an unpack counts
	if o.Adopt != nil {
		tr := tar.NewReader(io.TeeReader(dr, h))
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("import: read archive: %w", err)
			}
			if hdr.Typeflag == tar.TypeReg {
				fileBytes += hdr.Size
			}
		}
	}
	tarSize, err := io.Copy(h, dr)
	if err != nil {
		return nil, fmt.Errorf("import: read archive: %w", err)
	}
	_ = dr.Close() // a decompressor, read to its end
	if _, err := io.Copy(io.Discard, io.TeeReader(br, w)); err != nil {
		return nil, fmt.Errorf("import: read archive: %w", err)
	}
	size := w.Written()
	layerDigest, err := w.Commit()
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	diffID := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
	var layers []v1.Descriptor
	var diffIDs []v1.Hash
	if o.Base != nil {
		layers = append(layers, o.Base.Manifest.Layers...)
		diffIDs = append(diffIDs, o.Base.Config.RootFS.DiffIDs...)
	}
	diffIDs = append(diffIDs, diffID)
	cfg.RootFS = v1.RootFS{Type: "layers", DiffIDs: diffIDs}
	if o.Adopt != nil {
		if dir := o.Adopt(); dir != "" {
			chain := snapshot.ChainIDs(diffIDs)
			// A failed adoption (another filesystem: EXDEV) costs only the
			// time saved: admit below unpacks the stored tar as for any
			// import.
			_, _ = s.Snapshots.Adopt(chain[len(chain)-1], diffID, dir, fileBytes, tarSize)
		}
	}
	createdBy := o.CreatedBy
	if createdBy == "" {
		createdBy = "berth import"
	}
	cfg.History = append(append(cfg.History, o.EmptyHistory...), v1.History{Created: cfg.Created, CreatedBy: createdBy, Comment: o.Message, Author: o.Author})
	layer := v1.Descriptor{MediaType: types.MediaType(layerMediaType(magic)), Digest: layerDigest, Size: size}
	layers = append(layers, layer)
	rawCfg, err := marshalConfig(cfg, startInterval)
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(bytesReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: cfgDigest, Size: int64(len(rawCfg))},
		Layers: layers}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	var names []string
	if name != "" {
		names = []string{name}
	}
	var parent string
	if o.Base != nil {
		parent = o.Base.ID.String()
	}
	// The base's layers are stored and unpacked already: admit finds them.
	if _, err := s.admit(ctx, admission{rawManifest: rawManifest, mediaType: types.OCIManifestSchema1, rawConfig: rawCfg, names: names, parent: parent}); err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	return s.Get(cfgDigest.String())
}

// RuntimeConfig is an image's runtime config: go-containerregistry's,
// and what its type has no field for, which goes into the config's
// JSON beside it.
type RuntimeConfig struct {
	v1.Config
	// HealthStartInterval is HEALTHCHECK --start-interval.
	HealthStartInterval time.Duration
}

// HealthStartInterval is the image's HEALTHCHECK --start-interval, read
// from its config's JSON.
func (img *Image) HealthStartInterval() time.Duration {
	var c struct {
		Config struct {
			Healthcheck struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	if json.Unmarshal(img.RawConfig, &c) != nil {
		return 0 // the config was parsed when the image was registered: not reached
	}
	return c.Config.Healthcheck.StartInterval
}

// marshalConfig is a config's JSON, with the start interval in its
// health check when it has one.
func marshalConfig(cf v1.ConfigFile, startInterval time.Duration) ([]byte, error) {
	raw, err := json.Marshal(cf)
	if err != nil || startInterval == 0 || cf.Config.Healthcheck == nil {
		return raw, err
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, err
	}
	var config map[string]json.RawMessage
	if err := json.Unmarshal(top["config"], &config); err != nil {
		return nil, err
	}
	var health map[string]any
	if err := json.Unmarshal(config["Healthcheck"], &health); err != nil {
		return nil, err
	}
	health["StartInterval"] = int64(startInterval)
	if config["Healthcheck"], err = json.Marshal(health); err != nil {
		return nil, err
	}
	if top["config"], err = json.Marshal(config); err != nil {
		return nil, err
	}
	return json.Marshal(top)
}

// Scratch registers the image of no layers and an empty config, the
// base of a Dockerfile's FROM scratch. It has no creation time, so it
// is the same image, of the same ID, every time.
func (s *Service) Scratch(ctx context.Context) (*Image, error) {
	p := HostPlatform()
	cfg := v1.ConfigFile{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant, RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{}}}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: v1.Descriptor{MediaType: types.OCIConfigJSON}, Layers: []v1.Descriptor{}}
	img, err := s.derive(ctx, m, cfg, 0, types.OCIManifestSchema1, nil)
	if err != nil {
		return nil, fmt.Errorf("scratch: %w", err)
	}
	return img, nil
}

// Prefix makes the image of src's first n layers, with the history
// entries that made them and runtime config cfg: a build step served by
// the cache another image carries (--cache-from).
func (s *Service) Prefix(ctx context.Context, src *Image, n int, cfg RuntimeConfig, author string) (*Image, error) {
	if n < 1 || n > len(src.Manifest.Layers) || n > len(src.Config.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s has no layer %d", src.ID, n)
	}
	var history []v1.History
	layers := 0
	for _, h := range src.Config.History {
		if layers == n {
			break
		}
		history = append(history, h)
		if !h.EmptyLayer {
			layers++
		}
	}
	m, c := *src.Manifest, *src.Config
	m.Layers = m.Layers[:n]
	c.RootFS.DiffIDs, c.History = c.RootFS.DiffIDs[:n], nil
	base := *src
	base.Manifest, base.Config = &m, &c
	return s.Configure(ctx, &base, cfg, author, history, "")
}

// Configure makes an image of base's layers with runtime config cfg,
// the author given, and history entries appended (steps that added no layer), named ref when
// given: a builder's metadata steps after its last layer.
func (s *Service) Configure(ctx context.Context, base *Image, cfg RuntimeConfig, author string, history []v1.History, ref string) (*Image, error) {
	var names []string
	if ref != "" {
		r, err := reference.Parse(ref)
		if err != nil {
			return nil, err
		}
		name, ok := r.Tagged()
		if !ok || r.Digest != "" {
			return nil, fmt.Errorf("%s: a name for an image cannot carry a digest", ref)
		}
		names = []string{name}
	}
	cf := *base.Config
	cf.Config, cf.Author, cf.Created = cfg.Config, author, v1.Time{Time: time.Now().UTC()}
	cf.History = append(append([]v1.History(nil), base.Config.History...), history...)
	return s.derive(ctx, *base.Manifest, cf, cfg.HealthStartInterval, base.Record.MediaType, names)
}

// Append makes an image of base's layers and src's layer n on top (a
// COPY --link's layer, made apart), with config cfg, the author given,
// and base's history with history appended. The new stack's snapshot is
// unpacked from the layer's stored blob.
func (s *Service) Append(ctx context.Context, base, src *Image, n int, cfg RuntimeConfig, author string, history []v1.History) (*Image, error) {
	if n < 0 || n >= len(src.Manifest.Layers) || n >= len(src.Config.RootFS.DiffIDs) {
		return nil, fmt.Errorf("image %s has no layer %d", src.ID, n+1)
	}
	m, cf := *base.Manifest, *base.Config
	m.Layers = append(slices.Clone(m.Layers), src.Manifest.Layers[n])
	cf.RootFS.DiffIDs = append(slices.Clone(cf.RootFS.DiffIDs), src.Config.RootFS.DiffIDs[n])
	cf.Config, cf.Author, cf.Created = cfg.Config, author, v1.Time{Time: time.Now().UTC()}
	cf.History = append(append([]v1.History(nil), base.Config.History...), history...)
	return s.derive(ctx, m, cf, cfg.HealthStartInterval, base.Record.MediaType, nil)
}

// derive registers the image of manifest m (its config to be cf) under
// the names given: an image made of stored layers.
func (s *Service) derive(ctx context.Context, m v1.Manifest, cf v1.ConfigFile, startInterval time.Duration, mediaType types.MediaType, names []string) (*Image, error) {
	rawCfg, err := marshalConfig(cf, startInterval)
	if err != nil {
		return nil, err
	}
	cfgDigest, _, err := v1.SHA256(bytesReader(rawCfg))
	if err != nil {
		return nil, err
	}
	m.Config = v1.Descriptor{MediaType: m.Config.MediaType, Digest: cfgDigest, Size: int64(len(rawCfg))}
	rawManifest, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	unlock, err := s.gcLock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := s.admit(ctx, admission{rawManifest: rawManifest, mediaType: mediaType, rawConfig: rawCfg, names: names}); err != nil {
		return nil, err
	}
	return s.Get(cfgDigest.String())
}
