package image

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
)

// PushOptions tune a push.
type PushOptions struct {
	RegistryOptions
	Progress progress.Reporter
}

// Push uploads an image to the registry its name points at, blobs the
// registry already has skipped, and records the manifest digest the
// registry now serves it by.
func (s *Service) Push(ctx context.Context, ref string, o PushOptions) (v1.Hash, error) {
	img, err := s.Get(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	r, err := reference.Parse(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: give the image a name to push it by (berth tag): %w", ref, err)
	}
	rref, ropts, err := o.remote(ctx, r)
	if err != nil {
		return v1.Hash{}, err
	}
	vimg, err := s.V1Image(img)
	if err != nil {
		return v1.Hash{}, err
	}
	rep := o.Progress
	if rep == nil {
		rep = progress.New(io.Discard, progress.Quiet)
	}
	var total int64
	for _, l := range img.Manifest.Layers {
		total += l.Size
	}
	item := rep.Item("push "+img.Record.Manifest.Hex[:12], total)
	updates := make(chan v1.Update, 16)
	done := make(chan struct{})
	go func() {
		defer close(done)
		var last int64
		for u := range updates {
			item.Add(int(u.Complete - last))
			last = u.Complete
		}
	}()
	item.Status("Pushing")
	err = remote.Write(rref, vimg, append(ropts, remote.WithProgress(updates))...)
	<-done
	item.Done("Pushed", err)
	rep.Wait()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("push %s: %w", r.Familiar(), err)
	}
	rec := img.Record
	rec.Names = nil
	rec.RepoDigests = []string{r.Name() + "@" + img.Record.Manifest.String()}
	return img.Record.Manifest, s.register(rec)
}

// V1Image presents a stored image as a go-containerregistry image, so
// its writers (remote, layout, tarball) can read it from the stores.
func (s *Service) V1Image(img *Image) (v1.Image, error) {
	return partial.CompressedToImage(&storedImage{s: s, img: img})
}

type storedImage struct {
	s   *Service
	img *Image
}

func (i *storedImage) RawConfigFile() ([]byte, error) { return i.img.RawConfig, nil }

func (i *storedImage) MediaType() (types.MediaType, error) { return i.img.MediaType, nil }

func (i *storedImage) RawManifest() ([]byte, error) {
	return i.s.Content.ReadSmall(i.img.Record.Manifest)
}

func (i *storedImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Manifest.Layers {
		if l.Digest == h {
			return &storedBlob{s: i.s, desc: l}, nil
		}
	}
	if h == i.img.Manifest.Config.Digest {
		return &storedBlob{s: i.s, desc: i.img.Manifest.Config}, nil
	}
	return nil, fmt.Errorf("image %s has no blob %s", short(i.img.ID), h)
}

type storedBlob struct {
	s    *Service
	desc v1.Descriptor
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storedBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *storedBlob) Compressed() (io.ReadCloser, error)  { return b.s.Content.Open(b.desc.Digest) }
