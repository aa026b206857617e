package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/snapshot"
)

// upperDir is where the container's own changes live: overlay's upper
// layer, there whether the container runs or not.
func (e *Engine) upperDir(c *container.Container) string {
	return filepath.Join(e.containers.Dir(c.ID), "upper")
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
	changes, err := snapshot.Changes(e.upperDir(c), lowers)
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
		if err := e.rt.Pause(c.ID); err != nil {
			return "", fmt.Errorf("commit %s: pause: %w", c.Name, err)
		}
		defer func() {
			if rerr := e.rt.Resume(c.ID); rerr != nil {
				// The container would stay frozen with nobody told.
				err = errors.Join(err, fmt.Errorf("commit %s: resume: %w", c.Name, rerr))
			}
		}()
	}
	cfg := base.Config.Config
	cfg.Env, cfg.Cmd, cfg.Entrypoint = c.Config.Env, c.Config.Cmd, c.Config.Entrypoint
	cfg.User, cfg.WorkingDir, cfg.Labels, cfg.StopSignal = c.Config.User, c.Config.WorkingDir, c.Config.Labels, c.Config.StopSignal
	cfg.ExposedPorts = c.Config.ExposedPorts
	pr, pw := io.Pipe()
	var shift uint32
	if c.Host.IDMap != nil {
		shift = c.Host.IDMap.Start
	}
	go func() { _ = pw.CloseWithError(snapshot.WriteDiff(pw, e.upperDir(c), shift)) }() // CloseWithError is always nil
	defer pr.Close()                                                                    // ends the writer goroutine if Import stops early; its error is the writer's
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	img, err := e.images.Import(ctx, pr, image.ImportOptions{
		Ref: o.Ref, Changes: o.Changes, Message: o.Message, Author: o.Author, Base: base, Config: withoutEmpty(cfg),
		CreatedBy: strings.Join(args, " "),
	})
	if err != nil {
		return "", fmt.Errorf("commit %s: %w", c.Name, err)
	}
	e.containerEvent(c, mobyevents.ActionCommit, "imageID", img.ID.String())
	return img.ID.String(), nil
}

func withoutEmpty(c v1.Config) *v1.Config {
	if len(c.Labels) == 0 {
		c.Labels = nil
	}
	return &c
}

// writeLayer tars an overlay upper dir as an OCI layer: whiteout
// devices become .wh. files, opaque directories get .wh..wh..opq. Owners
// stored under a user namespace's host IDs (from shift on) are written
// as the container saw them.
