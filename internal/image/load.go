package image

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
)

// Loaded names what a load registered.
type Loaded struct {
	ID    v1.Hash
	Names []string // familiar names; none for an untagged image
}

// archiveFiles maps the files of an archive to the blobs holding their
// content: every regular file is copied into the content store as it is
// read (a layer is the bulk of an archive and is needed there anyway),
// so a one-pass stream such as stdin loads without a temp copy.
type archiveFiles struct {
	blobs map[string]v1.Descriptor
	links map[string]string
}

var blobPathRE = regexp.MustCompile(`^blobs/sha256/([a-f0-9]{64})$`)

func (a *archiveFiles) add(s *Service, name string, r io.Reader, size int64) error {
	var expected v1.Hash
	if m := blobPathRE.FindStringSubmatch(name); m != nil {
		expected = v1.Hash{Algorithm: "sha256", Hex: m[1]}
	}
	w, err := s.Content.Writer(expected, size)
	if err != nil {
		return err
	}
	defer w.Close() // discards the blob unless committed
	if _, err := io.Copy(w, r); err != nil {
		return fmt.Errorf("archive file %s: %w", name, err)
	}
	d := w.Digest()
	if _, ok := s.Content.Size(d); !ok {
		if d, err = w.Commit(); err != nil {
			return fmt.Errorf("archive file %s: %w", name, err)
		}
	} else if expected.Hex != "" && d != expected {
		return fmt.Errorf("archive file %s: content has digest %s: refused", name, d)
	}
	a.blobs[name] = v1.Descriptor{Digest: d, Size: w.Written()}
	return nil
}

// resolve follows symlinks (docker save links layers it repeats).
func (a *archiveFiles) resolve(name string) (v1.Descriptor, error) {
	name = cleanName(name)
	for range 16 {
		if d, ok := a.blobs[name]; ok {
			return d, nil
		}
		target, ok := a.links[name]
		if !ok {
			return v1.Descriptor{}, fmt.Errorf("archive has no file %q", name)
		}
		name = target
	}
	return v1.Descriptor{}, fmt.Errorf("archive file %q: too many symlinks", name)
}

func cleanName(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

func (s *Service) readTar(r io.Reader) (*archiveFiles, error) {
	a := &archiveFiles{blobs: map[string]v1.Descriptor{}, links: map[string]string{}}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return a, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read archive: %w", err)
		}
		name := cleanName(hdr.Name)
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			if err := a.add(s, name, tr, hdr.Size); err != nil {
				return nil, err
			}
		case tar.TypeSymlink:
			a.links[name] = cleanName(path.Join(path.Dir(name), hdr.Linkname))
		case tar.TypeLink:
			a.links[name] = cleanName(hdr.Linkname)
		}
	}
}

func (s *Service) readDir(dir string) (*archiveFiles, error) {
	a := &archiveFiles{blobs: map[string]v1.Descriptor{}, links: map[string]string{}}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close() // read only
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		return a.add(s, filepath.ToSlash(rel), f, fi.Size())
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dir, err)
	}
	return a, nil
}

// Load registers the images of a docker-archive or OCI archive read from
// r, or of an OCI layout directory when dir is set. Names in the archive
// move to the loaded images. Blobs the archive brought but no image uses
// are removed again.
func (s *Service) Load(ctx context.Context, r io.Reader, dir string, rep progress.Reporter) (loaded []Loaded, err error) {
	if rep == nil {
		rep = progress.New(io.Discard, progress.Quiet)
	}
	defer func() {
		if _, gcErr := s.GC(); err == nil {
			err = gcErr
		}
	}()
	unlock, err := s.gcLock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	var a *archiveFiles
	if dir != "" {
		a, err = s.readDir(dir)
	} else {
		a, err = s.readTar(r)
	}
	if err != nil {
		return nil, err
	}
	defer rep.Wait()
	if _, ok := a.blobs["manifest.json"]; ok {
		return s.loadDocker(ctx, a, rep)
	}
	if _, ok := a.blobs["index.json"]; ok {
		return s.loadOCI(ctx, a, rep)
	}
	return nil, errors.New("not an image archive: it has neither manifest.json (docker-archive) nor index.json (OCI layout)")
}

func (s *Service) readJSON(a *archiveFiles, name string, v any) error {
	d, err := a.resolve(name)
	if err != nil {
		return err
	}
	b, err := s.Content.ReadSmall(d.Digest)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("archive file %s: %w", name, err)
	}
	return nil
}

func (s *Service) loadDocker(ctx context.Context, a *archiveFiles, rep progress.Reporter) ([]Loaded, error) {
	var entries []dockerManifestEntry
	if err := s.readJSON(a, "manifest.json", &entries); err != nil {
		return nil, err
	}
	var out []Loaded
	for _, e := range entries {
		cfgDesc, err := a.resolve(e.Config)
		if err != nil {
			return nil, err
		}
		cfgDesc.MediaType = types.OCIConfigJSON
		var layers []v1.Descriptor
		for _, l := range e.Layers {
			d, err := a.resolve(l)
			if err != nil {
				return nil, err
			}
			if d.MediaType, err = s.sniffLayer(d.Digest); err != nil {
				return nil, err
			}
			layers = append(layers, d)
		}
		m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1, Config: cfgDesc, Layers: layers}
		rawManifest, err := json.Marshal(m)
		if err != nil {
			return nil, err
		}
		var names []string
		for _, t := range e.RepoTags {
			r, err := reference.Parse(t)
			if err != nil {
				return nil, fmt.Errorf("archive tag %q: %w", t, err)
			}
			if t, ok := r.Tagged(); ok {
				names = append(names, t)
			}
		}
		l, err := s.loadImage(ctx, rawManifest, types.OCIManifestSchema1, names, rep)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

func (s *Service) sniffLayer(d v1.Hash) (types.MediaType, error) {
	f, err := s.Content.Open(d)
	if err != nil {
		return "", err
	}
	defer f.Close() // read only
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	return types.MediaType(layerMediaType(magic[:n])), nil
}

func (s *Service) loadOCI(ctx context.Context, a *archiveFiles, rep progress.Reporter) ([]Loaded, error) {
	var idx ociIndex
	if err := s.readJSON(a, "index.json", &idx); err != nil {
		return nil, err
	}
	var out []Loaded
	for _, desc := range idx.Manifests {
		raw, mt, err := s.resolveManifest(desc, 0)
		if err != nil {
			return nil, err
		}
		var names []string
		if n := ociName(desc.Annotations); n != "" {
			names = []string{n}
		}
		l, err := s.loadImage(ctx, raw, mt, names, rep)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, nil
}

// ociName is the reference an OCI layout gives a manifest, if it gives a
// whole one (a bare tag such as skopeo's oci:DIR:TAG names nothing).
func ociName(ann map[string]string) string {
	for _, k := range []string{annotationImageName, annotationRefName} {
		v := ann[k]
		if !strings.ContainsAny(v, "/:") {
			continue
		}
		if r, err := reference.Parse(v); err == nil {
			if t, ok := r.Tagged(); ok {
				return t
			}
		}
	}
	return ""
}

// resolveManifest reads a manifest, descending through indexes to this
// host's platform.
func (s *Service) resolveManifest(desc v1.Descriptor, depth int) ([]byte, types.MediaType, error) {
	if depth > 4 {
		return nil, "", errors.New("indexes nested too deep")
	}
	raw, err := s.Content.ReadSmall(desc.Digest)
	if err != nil {
		return nil, "", err
	}
	if !desc.MediaType.IsIndex() {
		return raw, desc.MediaType, nil
	}
	im, err := v1.ParseIndexManifest(bytesReader(raw))
	if err != nil {
		return nil, "", fmt.Errorf("index %s: %w", desc.Digest, err)
	}
	host := HostPlatform()
	for _, m := range im.Manifests {
		if m.Platform == nil || m.Platform.Satisfies(host) {
			return s.resolveManifest(m, depth+1)
		}
	}
	return nil, "", fmt.Errorf("index %s has no image for %s", desc.Digest, host.String())
}

// loadImage unpacks the layers of a manifest whose blobs are stored and
// registers it.
func (s *Service) loadImage(ctx context.Context, rawManifest []byte, mt types.MediaType, names []string, rep progress.Reporter) (Loaded, error) {
	m, err := v1.ParseManifest(bytesReader(rawManifest))
	if err != nil {
		return Loaded{}, fmt.Errorf("manifest: %w", err)
	}
	rawCfg, err := s.Content.ReadSmall(m.Config.Digest)
	if err != nil {
		return Loaded{}, err
	}
	rec, err := s.admit(ctx, admission{rawManifest: rawManifest, mediaType: mt, rawConfig: rawCfg, names: names, rep: rep, jobs: 2})
	if err != nil {
		return Loaded{}, err
	}
	return Loaded{ID: rec.ID, Names: familiar(names)}, nil
}
