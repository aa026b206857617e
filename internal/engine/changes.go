package engine

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
)

// upperDir is where the container's own changes live: overlay's upper
// layer, there whether the container runs or not.
func (e *Engine) upperDir(c *container.Container) string {
	return filepath.Join(e.containers.Dir(c.ID), "upper")
}

// isWhiteout reports overlay's mark of a deleted file: a 0/0 device.
func isWhiteout(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && fi.Mode()&fs.ModeCharDevice != 0 && st.Rdev == 0
}

// generatedMountpoint reports an empty file the runtime made in the
// upper layer only to mount the engine's /etc files on: not a change
// of the user's, so neither diff nor commit shows it.
func generatedMountpoint(rel string, fi fs.FileInfo) bool {
	switch rel {
	case "etc/hostname", "etc/hosts", "etc/resolv.conf":
		return fi.Mode().IsRegular() && fi.Size() == 0
	}
	return false
}

func isOpaque(p string) bool {
	buf := make([]byte, 1)
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf)
	return err == nil && n == 1 && buf[0] == 'y'
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
	inImage := func(rel string) bool {
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return true
			}
		}
		return false
	}
	upper := e.upperDir(c)
	out := []mobycontainer.FilesystemChange{}
	err = filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p == upper {
				return filepath.SkipAll // never started: no changes
			}
			return err
		}
		if p == upper {
			return nil
		}
		rel, _ := filepath.Rel(upper, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case generatedMountpoint(rel, fi):
		case isWhiteout(fi):
			out = append(out, mobycontainer.FilesystemChange{Kind: mobycontainer.ChangeDelete, Path: "/" + rel})
		case inImage(rel):
			out = append(out, mobycontainer.FilesystemChange{Kind: mobycontainer.ChangeModify, Path: "/" + rel})
		default:
			out = append(out, mobycontainer.FilesystemChange{Kind: mobycontainer.ChangeAdd, Path: "/" + rel})
		}
		return nil
	})
	return out, err
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
	go func() { pw.CloseWithError(writeLayer(pw, e.upperDir(c), shift)) }()
	defer pr.Close() // ends the writer goroutine if Import stops early; its error is the writer's
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
func writeLayer(w io.Writer, upper string, shift uint32) error {
	err := writeTar(w, upper, func(rel, p string, fi fs.FileInfo, h *tar.Header) (bool, []*tar.Header) {
		if generatedMountpoint(rel, fi) {
			return false, nil
		}
		if isWhiteout(fi) {
			*h = tar.Header{Name: path.Join(path.Dir(rel), ".wh."+path.Base(rel)), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()}
			return true, nil
		}
		if shift > 0 && h.Uid >= int(shift) {
			h.Uid -= int(shift)
		}
		if shift > 0 && h.Gid >= int(shift) {
			h.Gid -= int(shift)
		}
		if fi.IsDir() && isOpaque(p) {
			return true, []*tar.Header{{Name: rel + "/.wh..wh..opq", Typeflag: tar.TypeReg, Mode: 0o600, ModTime: fi.ModTime()}}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("commit: read the container's changes: %w", err)
	}
	return nil
}
