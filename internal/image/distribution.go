package image

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Distribution is what a registry serves under a reference, unpulled:
// its manifest's descriptor and the platforms it has.
type Distribution struct {
	MediaType string
	Digest    v1.Hash
	Size      int64
	Platforms []v1.Platform
}

// InspectRemote asks ref's registry for its manifest (docker manifest's and
// the API's distribution endpoint).
func InspectRemote(ctx context.Context, ref string, o RegistryOptions) (Distribution, error) {
	var d Distribution
	r, desc, err := o.get(ctx, "inspect", ref)
	if err != nil {
		return d, err
	}
	d = Distribution{MediaType: string(desc.MediaType), Digest: desc.Digest, Size: desc.Size}
	switch desc.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		idx, err := desc.ImageIndex()
		if err != nil {
			return d, err
		}
		im, err := idx.IndexManifest()
		if err != nil {
			return d, err
		}
		for _, m := range im.Manifests {
			if m.Platform != nil {
				d.Platforms = append(d.Platforms, *m.Platform)
			}
		}
	default:
		img, err := desc.Image()
		if err != nil {
			return d, err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return d, fmt.Errorf("inspect %s: %w", r.Familiar(), err)
		}
		d.Platforms = []v1.Platform{{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant, OSVersion: cf.OSVersion}}
	}
	return d, nil
}

// Search lists the repositories of registry whose names hold term, from
// its catalog (/v2/_catalog): a registry of one's own answers docker
// search so; Docker Hub's search index is not a registry's API.
func Search(ctx context.Context, registry, term string, limit int, o RegistryOptions) ([]string, error) {
	reg, err := name.NewRegistry(registry, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", registry, err)
	}
	repos, err := remote.Catalog(ctx, reg, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("search %s: %w", registry, err)
	}
	var out []string
	for _, r := range repos {
		if strings.Contains(r, term) {
			out = append(out, r)
		}
	}
	sort.Strings(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Tags lists the tags of a repository in its registry (pull -a).
func Tags(ctx context.Context, repository string, o RegistryOptions) ([]string, error) {
	repo, err := name.NewRepository(repository, o.nameOptions()...)
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", repository, err)
	}
	tags, err := remote.List(repo, o.remoteOptions(ctx)...)
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", repository, err)
	}
	sort.Strings(tags)
	return tags, nil
}
