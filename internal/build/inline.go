package build

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// The inline cache: an image built with it (--cache-to type=inline, or
// the build arg BUILDKIT_INLINE_CACHE=1) carries, in a label, the cache
// key of each layer step of its chain with the number of layers the
// image had after it. Another build given the image with --cache-from
// (pulled where it is not here) serves a step whose key is there from
// the image's layers: the image of its first N layers, with the
// config the build's own steps make, instead of running the step.
// Keys chain the base image's ID, the instructions, the build args and
// the content of copied files, so a hit means the same step on the same
// input.

// inlineLabel holds an image's inline cache.
const inlineLabel = "berth.build.cache.v0"

// inlineStep is one layer step in an inline cache.
type inlineStep struct {
	Key    string `json:"key"`
	Layers int    `json:"layers"`
}

// external is a step another image's inline cache serves.
type external struct {
	image  string
	layers int
}

// loadCacheFrom reads the inline caches of the --cache-from images. An
// image that cannot be had or carries no cache is a warning, as with
// BuildKit: the build goes on without it.
func (b *builder) loadCacheFrom(ctx context.Context, progress io.Writer) {
	for _, ref := range b.o.CacheFrom {
		id, err := b.base(ctx, ref, progress)
		if err != nil {
			b.p.warn(fmt.Sprintf("--cache-from %s: %v", ref, err))
			continue
		}
		in, err := b.e.ImageInspect(id)
		if err != nil {
			b.p.warn(fmt.Sprintf("--cache-from %s: %v", ref, err))
			continue
		}
		var steps []inlineStep
		if in.Config == nil || in.Config.Labels[inlineLabel] == "" {
			b.p.warn(fmt.Sprintf("--cache-from %s: the image carries no inline cache", ref))
			continue
		}
		if err := json.Unmarshal([]byte(in.Config.Labels[inlineLabel]), &steps); err != nil {
			b.p.warn(fmt.Sprintf("--cache-from %s: its inline cache: %v", ref, err))
			continue
		}
		for _, s := range steps {
			if _, ok := b.external[s.Key]; !ok && s.Layers > 0 {
				b.external[s.Key] = external{image: id, layers: s.Layers}
			}
		}
	}
}

// fromExternal serves a layer step from a --cache-from image, if one
// has its key: the image of that many of its layers, with the stage's
// config.
func (b *builder) fromExternal(ctx context.Context, st *stageState, k string) (string, bool, error) {
	x, ok := b.external[k]
	if !ok {
		return "", false, nil
	}
	id, err := b.e.ImagePrefix(ctx, x.image, x.layers, st.cfg, st.author)
	if err != nil {
		return "", false, err
	}
	return id, true, b.cache.put(k, id)
}

// recordInline notes a layer step in the stage's inline cache.
func (b *builder) recordInline(st *stageState) error {
	if !b.o.InlineCache {
		return nil
	}
	in, err := b.e.ImageInspect(st.image)
	if err != nil {
		return err
	}
	st.inline = append(slices.Clip(st.inline), inlineStep{Key: st.key, Layers: len(in.RootFS.Layers)})
	return nil
}

// inlineValue is the label of the stage's inline cache.
func inlineValue(steps []inlineStep) (string, error) {
	b, err := json.Marshal(steps)
	return string(b), err
}
