package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/disk"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/snapshot"
	"github.com/berth-project/berth/internal/trace"
)

// upperDir is where the container's own changes live: overlay's upper
// layer, in the container's directory or, with --storage-opt size, in
// its own file system mounted at layerDir (there while it runs; see
// upperFor).
func (e *Engine) upperDir(c *container.Container) string {
	if d := e.layerDir(c); d != "" {
		return filepath.Join(d, "upper")
	}
	return filepath.Join(e.containers.Dir(c.ID), "upper")
}

// workDir is overlay's work dir, on the upper dir's file system.
func (e *Engine) workDir(c *container.Container) string {
	if d := e.layerDir(c); d != "" {
		return filepath.Join(d, "work")
	}
	return filepath.Join(e.containers.Dir(c.ID), "work")
}

// layerDir is where a container with a size-limited writable layer
// mounts its file system; "" without one.
func (e *Engine) layerDir(c *container.Container) string {
	if c.Host.StorageSize == 0 {
		return ""
	}
	return filepath.Join(e.containers.Dir(c.ID), "layer")
}

func (e *Engine) layerImage(c *container.Container) string {
	return filepath.Join(e.containers.Dir(c.ID), "layer.img")
}

// mountLayer mounts a size-limited container's file system at layerDir,
// making it on first use; the function undoes what this call mounted.
func (e *Engine) mountLayer(c *container.Container) (func(), error) {
	dir := e.layerDir(c)
	if dir == "" || disk.Mounted(dir) {
		return func() {}, nil
	}
	img := e.layerImage(c)
	if _, err := os.Stat(img); errors.Is(err, os.ErrNotExist) {
		if err := disk.Create(img, c.Host.StorageSize); err != nil {
			return nil, err
		}
	}
	if err := disk.Mount(img, dir); err != nil {
		return nil, err
	}
	return func() { _ = disk.Unmount(dir) }, nil // lazily: what still uses it keeps it until done
}

// upperFor is the upper dir to read a container's changes from (diff,
// commit, sizes): a stopped size-limited container's file system is
// mounted read-only for the call, apart from where a start mounts it.
func (e *Engine) upperFor(c *container.Container) (string, func(), error) {
	dir := e.layerDir(c)
	if dir == "" || disk.Mounted(dir) {
		return e.upperDir(c), func() {}, nil
	}
	if _, err := os.Stat(e.layerImage(c)); errors.Is(err, os.ErrNotExist) {
		// Never started: nothing written yet.
		empty, err := os.MkdirTemp(e.containers.Dir(c.ID), "layer-empty-")
		return empty, func() { _ = os.Remove(empty) }, err
	}
	ro, err := os.MkdirTemp(e.containers.Dir(c.ID), "layer-ro-")
	if err != nil {
		return "", nil, err
	}
	if err := disk.MountReadOnly(e.layerImage(c), ro); err != nil {
		_ = os.Remove(ro) // an empty mount point: the mount's error is returned
		return "", nil, err
	}
	return filepath.Join(ro, "upper"), func() { _ = disk.Unmount(ro); _ = os.Remove(ro) }, nil
}

// unmountRootfs unmounts the container's overlay and then its writable
// layer's file system, each lazily; what is not mounted is no error.
func (e *Engine) unmountRootfs(c *container.Container) {
	_ = unix.Unmount(filepath.Join(e.containers.Dir(c.ID), "merged"), unix.MNT_DETACH) // EINVAL: not mounted
	if d := e.layerDir(c); d != "" {
		_ = disk.Unmount(d) // retried by the next rm
	}
}

// ContainerChanges lists what the container changed against its
// image, as `docker diff` does.
func (e *Engine) ContainerChanges(ref string) ([]mobycontainer.FilesystemChange, error) {
	c, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	img, err := e.images.Get(c.Image)
	if err != nil {
		return nil, classify(err)
	}
	var lowers []string
	for _, id := range img.ChainIDs {
		lowers = append(lowers, e.images.Snapshots.Dir(id))
	}
	upper, done, err := e.upperFor(c)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", c.Name, err)
	}
	defer done()
	changes, err := snapshot.Changes(upper, lowers)
	if err != nil {
		return nil, fmt.Errorf("diff %s: %w", c.Name, err)
	}
	out := make([]mobycontainer.FilesystemChange, 0, len(changes))
	for _, ch := range changes {
		k := mobycontainer.ChangeModify
		switch ch.Kind {
		case snapshot.Added:
			k = mobycontainer.ChangeAdd
		case snapshot.Deleted:
			k = mobycontainer.ChangeDelete
		}
		out = append(out, mobycontainer.FilesystemChange{Kind: k, Path: ch.Path})
	}
	return out, nil
}

// CommitOptions are `commit`'s inputs.
type CommitOptions struct {
	Ref, Message, Author string
	Changes              []string
	// Pause freezes a running container while its changes are read.
	Pause bool
	// Config, when set, is the new image's config as it is (a
	// builder's), instead of the container's.
	Config *mobycontainer.Config
	// CreatedBy is the new layer's history entry; "" is the container's
	// command.
	CreatedBy string
	// History are steps that added no layer, recorded before the new
	// one (a builder's metadata steps).
	History []HistoryStep
	// Mountpoints are paths the container's mounts were made on (a
	// builder's RUN --mount targets): left out of the layer while empty.
	Mountpoints []string
	// Adopt says the container is removed right after (a builder's step
	// container): its upper dir, trimmed to what the layer holds, becomes
	// the layer's snapshot by a rename instead of being unpacked from
	// the layer's tar again. Only removal may follow. It does not apply
	// to a running container or one with a user namespace (its files
	// have shifted owners), which commit as usual.
	Adopt bool
}

// HistoryStep is a step of an image's history that added no layer.
type HistoryStep struct {
	CreatedBy string
	Created   time.Time
	Comment   string
}

func emptyLayerHistory(steps []HistoryStep) []v1.History {
	out := make([]v1.History, len(steps))
	for i, h := range steps {
		out[i] = v1.History{Created: v1.Time{Time: h.Created}, CreatedBy: h.CreatedBy, Comment: h.Comment, EmptyLayer: true}
	}
	return out
}

// imageConfigOf is an image's runtime config from Docker's container
// config (a builder's state, a commit's config).
func imageConfigOf(c *mobycontainer.Config) image.RuntimeConfig {
	return image.RuntimeConfig{Config: imageV1Config(c), HealthStartInterval: startInterval(c)}
}

func startInterval(c *mobycontainer.Config) time.Duration {
	if c.Healthcheck == nil {
		return 0
	}
	return c.Healthcheck.StartInterval
}

// imageV1Config is imageConfigOf without what go-containerregistry's
// type has no field for.
func imageV1Config(c *mobycontainer.Config) v1.Config {
	out := v1.Config{Env: c.Env, Cmd: c.Cmd, Entrypoint: c.Entrypoint, User: c.User, WorkingDir: c.WorkingDir,
		Labels: c.Labels, StopSignal: c.StopSignal, Shell: c.Shell, OnBuild: c.OnBuild, ArgsEscaped: c.ArgsEscaped}
	if len(c.Volumes) > 0 {
		out.Volumes = c.Volumes
	}
	if len(c.ExposedPorts) > 0 {
		out.ExposedPorts = map[string]struct{}{}
		for p := range c.ExposedPorts {
			out.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	}
	return out
}

// ImageConfigure makes an image of base's layers with config cfg, the
// author given, and the history steps appended (no layer added), named
// ref when given, and returns its ID: a builder's last metadata steps.
func (e *Engine) ImageConfigure(ctx context.Context, base string, cfg mobycontainer.Config, author string, history []HistoryStep, ref string) (string, error) {
	img, err := e.images.Get(base)
	if err != nil {
		return "", classify(err)
	}
	out, err := e.images.Configure(ctx, img, imageConfigOf(&cfg), author, emptyLayerHistory(history), ref)
	if err != nil {
		return "", classify(err)
	}
	return out.ID.String(), nil
}

// ImagePrefix makes the image of src's first n layers with config cfg
// and the author given, its history the entries that made those layers,
// and returns its ID: a build step served by another image's cache.
func (e *Engine) ImagePrefix(ctx context.Context, src string, n int, cfg mobycontainer.Config, author string) (string, error) {
	img, err := e.images.Get(src)
	if err != nil {
		return "", classify(err)
	}
	out, err := e.images.Prefix(ctx, img, n, imageConfigOf(&cfg), author)
	if err != nil {
		return "", classify(err)
	}
	return out.ID.String(), nil
}

// ImageAppendLayer makes an image of base's layers with src's top layer
// on top, config cfg, the author given, and base's history with the
// steps given, and returns its ID: a COPY --link's layer, made apart,
// placed on the stage's image.
func (e *Engine) ImageAppendLayer(ctx context.Context, base, src string, cfg mobycontainer.Config, author string, history []HistoryStep) (string, error) {
	b, err := e.images.Get(base)
	if err != nil {
		return "", classify(err)
	}
	s, err := e.images.Get(src)
	if err != nil {
		return "", classify(err)
	}
	h := emptyLayerHistory(history)
	if len(h) > 0 {
		h[len(h)-1].EmptyLayer = false // the last step is the layer's
	}
	out, err := e.images.Append(ctx, b, s, len(s.Manifest.Layers)-1, imageConfigOf(&cfg), author, h)
	if err != nil {
		return "", classify(err)
	}
	return out.ID.String(), nil
}

// ContainerCommit makes an image of the container: its image's layers
// with the container's changes as a new top layer, and the container's
// config. It returns the new image's ID.
func (e *Engine) ContainerCommit(ctx context.Context, ref string, o CommitOptions) (id string, err error) {
	c, err := e.get(ref)
	if err != nil {
		return "", err
	}
	base, err := e.images.Get(c.Image)
	if err != nil {
		return "", classify(err)
	}
	if o.Pause && c.State.Status == container.Running && !c.State.Paused {
		frozen, err := e.pauseForCommit(c)
		if err != nil {
			return "", err
		}
		if frozen {
			defer func() {
				if rerr := e.resumeAfterCommit(c); rerr != nil {
					// The container would stay frozen with nobody told.
					err = errors.Join(err, fmt.Errorf("commit %s: resume: %w", c.Name, rerr))
				}
			}()
		}
	}
	cfg := image.RuntimeConfig{Config: base.Config.Config, HealthStartInterval: base.HealthStartInterval()}
	cfg.Env, cfg.Cmd, cfg.Entrypoint = c.Config.Env, c.Config.Cmd, c.Config.Entrypoint
	cfg.User, cfg.WorkingDir, cfg.Labels, cfg.StopSignal = c.Config.User, c.Config.WorkingDir, c.Config.Labels, c.Config.StopSignal
	cfg.ExposedPorts = c.Config.ExposedPorts
	if o.Config != nil {
		cfg = imageConfigOf(o.Config)
	}
	pr, pw := io.Pipe()
	var owner func(uid, gid uint32) (uint32, uint32)
	if c.Host.IDMap != nil {
		owner = c.Host.IDMap.ContainerIDs
	}
	upper, doneUpper, err := e.upperFor(c)
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.Name, err)
	}
	defer doneUpper()
	adopt := ""
	// A size-limited layer is a file system of its own: its upper dir
	// cannot be renamed into the store, and is copied.
	if o.Adopt && owner == nil && c.State.Status != container.Running && e.layerDir(c) == "" {
		// The overlay is unmounted first (EINVAL: it was not mounted), so
		// no mount still writes through the upper dir once it is a layer.
		_ = unix.Unmount(filepath.Join(e.containers.Dir(c.ID), "merged"), unix.MNT_DETACH)
		adopt = upper
	}
	// adoptable is set before the pipe closes, and read once Import has
	// read to the end: the pipe orders the two.
	adoptable := false
	var adoptFn func() string
	if adopt != "" {
		adoptFn = func() string {
			if adoptable {
				return adopt
			}
			return ""
		}
	}
	go func() {
		var err error
		if adopt != "" {
			adoptable, err = snapshot.WriteDiffAndTrim(pw, upper, o.Mountpoints...)
		} else {
			err = snapshot.WriteDiff(pw, upper, owner, o.Mountpoints...)
		}
		_ = pw.CloseWithError(err) // CloseWithError is always nil
	}()
	defer pr.Close() // ends the writer goroutine if Import stops early; its error is the writer's
	createdBy := o.CreatedBy
	if createdBy == "" {
		createdBy = strings.Join(c.Config.Args(), " ")
	}
	img, err := e.images.Import(ctx, pr, image.ImportOptions{
		Ref: o.Ref, Changes: o.Changes, Message: o.Message, Author: o.Author, Base: base, Config: withoutEmpty(cfg),
		CreatedBy: createdBy, EmptyHistory: emptyLayerHistory(o.History), Adopt: adoptFn,
	})
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.Name, err)
	}
	e.containerEvent(c, mobyevents.ActionCommit, "imageID", img.ID.String())
	return img.ID.String(), nil
}

func withoutEmpty(c image.RuntimeConfig) *image.RuntimeConfig {
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	return &c
}

// pauseForCommit freezes a running container while its changes are
// read, and records the pause with this process as its pauser, so that
// ps shows it paused, as Docker's does, and a commit killed mid-way
// leaves a container that the next reader thaws (refresh). frozen is
// false when there was nothing to freeze.
func (e *Engine) pauseForCommit(c *container.Container) (frozen bool, err error) {
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		if cur.State.Status != container.Running || cur.State.Paused {
			return nil // ended meanwhile, or a user paused it: as it is
		}
		if err := e.rt.Pause(c.ID); err != nil {
			// The runtime cannot pause a container whose process has
			// ended while its record still says running (its monitor has
			// not written the end yet): its changes stand still anyway.
			if st, serr := e.rt.State(c.ID); serr == nil && st.Status == "running" {
				return fmt.Errorf("commit %s: pause: %w", c.Name, err)
			}
			return nil
		}
		frozen = true
		cur.State.Paused, cur.State.PausedBy, cur.State.PausedByStart = true, os.Getpid(), monitor.StartTime(os.Getpid())
		return nil
	})
	if frozen {
		trace.Phase("cli", "commit paused")
	}
	return frozen, err
}

// resumeAfterCommit thaws what pauseForCommit froze.
func (e *Engine) resumeAfterCommit(c *container.Container) error {
	_, err := e.containers.Update(c.ID, func(cur *container.Container) error {
		if err := e.rt.Resume(c.ID); err != nil {
			if st, serr := e.rt.State(c.ID); serr == nil && st.Status == "paused" {
				return err
			}
			// Ended meanwhile: nothing is frozen.
		}
		cur.State.Paused, cur.State.PausedBy, cur.State.PausedByStart = false, 0, 0
		return nil
	})
	return err
}
