package image

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/image/reference"
)

// Archive formats of save and load.
const (
	DockerArchive = "docker-archive" // docker save's manifest.json layout, layers uncompressed
	OCIArchive    = "oci-archive"    // a tar of an OCI image layout
)

// dockerManifestEntry is one image of a docker-archive's manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Save writes the images refs name (names or IDs) to w as one archive.
// A ref given by name is saved under that name; one given by ID under
// all the image's names.
func (s *Service) Save(w io.Writer, refs []string, format string) error {
	var imgs []*Image
	var tags [][]string
	for _, ref := range refs {
		img, err := s.Get(ref)
		if err != nil {
			return err
		}
		// The tag the ref names goes with the image; an image saved by
		// its ID goes untagged, as Docker's save has it.
		var names []string
		if !matchesID(&img.Record, ref) {
			r, _ := reference.Parse(ref)
			if t, ok := r.Tagged(); ok {
				names = []string{t}
			}
		}
		imgs = append(imgs, img)
		tags = append(tags, names)
	}
	tw := tar.NewWriter(w)
	var err error
	switch format {
	case DockerArchive, "":
		err = s.saveDocker(tw, imgs, tags)
	case OCIArchive:
		err = s.saveOCI(tw, imgs, tags)
	default:
		return fmt.Errorf("unknown archive format %q (use %s or %s)", format, DockerArchive, OCIArchive)
	}
	if err != nil {
		return err
	}
	return tw.Close()
}

var epoch = time.Unix(0, 0)

func writeEntry(tw *tar.Writer, name string, size int64, body io.Reader) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o444, Size: size, Typeflag: tar.TypeReg, ModTime: epoch, Format: tar.FormatPAX}); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	if _, err := io.CopyN(tw, body, size); err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

func writeBytes(tw *tar.Writer, name string, b []byte) error {
	return writeEntry(tw, name, int64(len(b)), bytesReader(b))
}

// saveDocker writes docker save's format: <config hex>.json,
// <diff ID hex>/layer.tar (uncompressed: what docker load and podman
// load expect) and manifest.json.
func (s *Service) saveDocker(tw *tar.Writer, imgs []*Image, tags [][]string) error {
	written := map[string]bool{}
	var manifest []dockerManifestEntry
	for i, img := range imgs {
		e := dockerManifestEntry{Config: img.ID.Hex + ".json", RepoTags: familiar(tags[i])}
		if e.RepoTags == nil {
			e.RepoTags = []string{}
		}
		if !written[e.Config] {
			if err := writeBytes(tw, e.Config, img.RawConfig); err != nil {
				return err
			}
			written[e.Config] = true
		}
		for j, l := range img.Manifest.Layers {
			name := path.Join(img.Config.RootFS.DiffIDs[j].Hex, "layer.tar")
			e.Layers = append(e.Layers, name)
			if written[name] {
				continue
			}
			if err := s.writeUncompressed(tw, name, l, img.ChainIDs[j]); err != nil {
				return err
			}
			written[name] = true
		}
		manifest = append(manifest, e)
	}
	b, err := json.Marshal(manifest)
	if err != nil {
		return err
	}
	return writeBytes(tw, "manifest.json", b)
}

// writeUncompressed writes a layer blob decompressed. A tar header needs
// the size first: the snapshot recorded it when the layer was unpacked.
func (s *Service) writeUncompressed(tw *tar.Writer, name string, l v1.Descriptor, chainID v1.Hash) error {
	size := int64(-1)
	if info, ok := s.Snapshots.Get(chainID); ok && info.TarSize > 0 {
		size = info.TarSize
	}
	open := func() (io.ReadCloser, func(), error) {
		f, err := s.Content.Open(l.Digest)
		if err != nil {
			return nil, nil, err
		}
		dr, err := decompress(f)
		if err != nil {
			_ = f.Close() // read only; the error above is returned
			return nil, nil, err
		}
		return dr, func() { _ = dr.Close(); _ = f.Close() }, nil // read only
	}
	if size < 0 { // count it once
		dr, done, err := open()
		if err != nil {
			return err
		}
		size, err = io.Copy(io.Discard, dr)
		done()
		if err != nil {
			return fmt.Errorf("layer %s: %w", l.Digest, err)
		}
	}
	dr, done, err := open()
	if err != nil {
		return err
	}
	defer done()
	return writeEntry(tw, name, size, dr)
}

// ociIndex is an OCI image layout's index.json.
type ociIndex struct {
	SchemaVersion int             `json:"schemaVersion"`
	MediaType     string          `json:"mediaType,omitempty"`
	Manifests     []v1.Descriptor `json:"manifests"`
}

// Annotations naming an image in an OCI layout: the OCI one holds a tag
// (or a whole reference), containerd's the whole reference.
const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// saveOCI writes an OCI image layout as a tar: oci-layout, index.json
// and every blob as stored.
func (s *Service) saveOCI(tw *tar.Writer, imgs []*Image, tags [][]string) error {
	if err := writeBytes(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	written := map[v1.Hash]bool{}
	blob := func(d v1.Hash, size int64) error {
		if written[d] {
			return nil
		}
		written[d] = true
		f, err := s.Content.Open(d)
		if err != nil {
			return err
		}
		defer f.Close() // read only
		return writeEntry(tw, path.Join("blobs", d.Algorithm, d.Hex), size, f)
	}
	idx := ociIndex{SchemaVersion: 2, MediaType: "application/vnd.oci.image.index.v1+json"}
	for i, img := range imgs {
		msize, _ := s.Content.Size(img.Record.Manifest)
		if err := blob(img.Record.Manifest, msize); err != nil {
			return err
		}
		if err := blob(img.Manifest.Config.Digest, int64(len(img.RawConfig))); err != nil {
			return err
		}
		for _, l := range img.Manifest.Layers {
			if err := blob(l.Digest, l.Size); err != nil {
				return err
			}
		}
		desc := v1.Descriptor{MediaType: img.MediaType, Digest: img.Record.Manifest, Size: msize}
		if len(tags[i]) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, t := range tags[i] {
			d := desc
			r, _ := reference.Parse(t)
			d.Annotations = map[string]string{annotationRefName: r.Tag, annotationImageName: t}
			idx.Manifests = append(idx.Manifests, d)
		}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return err
	}
	return writeBytes(tw, "index.json", b)
}
