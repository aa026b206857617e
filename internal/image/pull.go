package image

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/berth-project/berth/internal/image/reference"
	"github.com/berth-project/berth/internal/progress"
)

// RegistryOptions say how to reach a registry.
type RegistryOptions struct {
	// Insecure allows plain HTTP and unverified TLS (--tls-verify=false).
	Insecure bool
	// Keychain finds credentials; nil means Docker's config.json (and
	// Podman's auth.json), as `berth login` writes them.
	Keychain authn.Keychain
	// UserAgent names berth to the registry.
	UserAgent string
	// Mirrors name, by registry host, one that serves its repositories:
	// a pull of HOST/PATH:TAG fetches MIRROR/PATH:TAG first and keeps the
	// image under its own name (a cluster's offline mirror).
	Mirrors map[string]string
}

// PullOptions tune a pull.
type PullOptions struct {
	RegistryOptions
	// Platform picks a manifest out of an index; nil is this host's.
	Platform *v1.Platform
	// Jobs is how many layers download at once (0: 3, as Docker).
	Jobs int
	// Progress shows the layers; nil shows nothing.
	Progress progress.Reporter
}

// HostPlatform is the platform images are pulled for by default.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		p.Variant = "v7"
	}
	return p
}

func (o RegistryOptions) remote(ctx context.Context, r reference.Reference) (name.Reference, []remote.Option, error) {
	ref, err := name.ParseReference(r.String(), o.nameOptions()...)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", r, err)
	}
	return ref, o.remoteOptions(ctx), nil
}

// nameOptions parse a registry's names as o reaches it.
func (o RegistryOptions) nameOptions() []name.Option {
	if o.Insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// remoteOptions are every registry call's: o's credentials, transport
// and user agent.
func (o RegistryOptions) remoteOptions(ctx context.Context) []remote.Option {
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	ua := o.UserAgent
	if ua == "" {
		ua = "berth"
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(o.transport()),
		remote.WithUserAgent(ua),
	}
}

// get fetches ref's descriptor (its manifest or index) from its
// registry, for op (pull, inspect).
func (o RegistryOptions) get(ctx context.Context, op, ref string) (reference.Reference, *remote.Descriptor, error) {
	r, err := reference.Parse(ref)
	if err != nil {
		return r, nil, err
	}
	if m := o.Mirrors[r.Domain]; m != "" {
		mr := r
		mr.Domain = m
		if rref, ropts, err := o.remote(ctx, mr); err == nil {
			if desc, err := remote.Get(rref, ropts...); err == nil {
				return r, desc, nil
			}
		}
		// The mirror lacks it: the registry itself, as Docker falls back.
	}
	rref, ropts, err := o.remote(ctx, r)
	if err != nil {
		return r, nil, err
	}
	desc, err := remote.Get(rref, ropts...)
	if err != nil {
		return r, nil, fmt.Errorf("%s %s: %w", op, r.Familiar(), err)
	}
	return r, desc, nil
}

func (o RegistryOptions) transport() http.RoundTripper {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.Insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true}
	}
	return tr
}

// Pull fetches an image from its registry, stores and unpacks its layers
// (several at once), and registers it under its name. Nothing is
// registered unless every blob and snapshot is complete and verified.
func (s *Service) Pull(ctx context.Context, ref string, o PullOptions) (*Image, error) {
	r, desc, err := o.get(ctx, "pull", ref)
	if err != nil {
		return nil, err
	}
	platform := HostPlatform()
	if o.Platform != nil {
		platform = *o.Platform
	}
	img, err := pickImage(desc, platform)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r.Familiar(), err)
	}
	rep := o.Progress
	if rep == nil {
		rep = progress.New(io.Discard, progress.Quiet)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 3
	}
	var names []string
	if t, ok := r.Tagged(); ok {
		names = []string{t}
	}
	rec, err := s.store(ctx, img, rep, jobs, names, []string{r.Name() + "@" + desc.Digest.String()})
	rep.Wait()
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", r.Familiar(), err)
	}
	return s.Get(rec.ID.String())
}

// pickImage resolves an index to the manifest for platform.
func pickImage(desc *remote.Descriptor, platform v1.Platform) (v1.Image, error) {
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		idx, err := desc.ImageIndex()
		if err != nil {
			return nil, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return nil, err
		}
		var seen []string
		for _, m := range im.Manifests {
			if m.Platform == nil {
				continue
			}
			seen = append(seen, m.Platform.String())
			if m.Platform.Satisfies(platform) {
				return idx.Image(m.Digest)
			}
		}
		return nil, fmt.Errorf("no image for platform %s (the index has %v)", platform.String(), seen)
	case types.OCIManifestSchema1, types.DockerManifestSchema2:
		return desc.Image()
	case types.DockerManifestSchema1, types.DockerManifestSchema1Signed:
		return nil, errors.New("Docker schema 1 manifests are deprecated and not supported")
	default:
		return nil, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
}

// store admits a remote image: its layers are fetched as admit needs
// them, several at once.
func (s *Service) store(ctx context.Context, img v1.Image, rep progress.Reporter, jobs int, names, repoDigests []string) (Record, error) {
	unlock, err := s.gcLock(false)
	if err != nil {
		return Record{}, err
	}
	defer unlock()
	mt, err := img.MediaType()
	if err != nil {
		return Record{}, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return Record{}, err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return Record{}, fmt.Errorf("config: %w", err)
	}
	fetch := func(l v1.Descriptor) (func() (io.ReadCloser, error), error) {
		layer, err := img.LayerByDigest(l.Digest)
		if err != nil {
			return nil, err
		}
		return layer.Compressed, nil
	}
	return s.admit(ctx, admission{rawManifest: rawManifest, mediaType: mt, rawConfig: rawCfg, fetch: fetch,
		names: names, repoDigests: repoDigests, rep: rep, jobs: jobs})
}

// ensureLayers runs ensureLayer on every job, jobs at a time; the first
// error cancels the others.
func (s *Service) ensureLayers(ctx context.Context, layers []layerJob, rep progress.Reporter, jobs int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for _, j := range layers {
		item := rep.Item(j.Desc.Digest.Hex[:12], j.Desc.Size)
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				item.Done("", ctx.Err())
				return
			}
			defer func() { <-sem }()
			if err := s.ensureLayer(ctx, j, item); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}
