package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	mobycontainer "github.com/moby/moby/api/types/container"

	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/engine"
)

// Output is an --output: where the result goes besides the image store.
type Output struct {
	// Type is local (the filesystem into a directory), tar (the
	// filesystem as a tar), oci or docker (the image as an archive).
	Type string
	// Dest is the directory (local) or the file; "-" is W.
	Dest string
	W    io.Writer
}

// ParseOutput reads an --output value: type=TYPE,dest=PATH, or a bare
// path, which is a local directory ("-" is a tar on standard output).
func ParseOutput(s string) (Output, error) {
	if !strings.Contains(s, "=") {
		if s == "-" {
			return Output{Type: "tar", Dest: "-"}, nil
		}
		return Output{Type: "local", Dest: s}, nil
	}
	var o Output
	for _, kv := range strings.Split(s, ",") {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.TrimSpace(k) {
		case "type":
			o.Type = v
		case "dest":
			o.Dest = v
		default:
			return Output{}, fmt.Errorf("--output %s: unknown key %q", s, k)
		}
	}
	switch o.Type {
	case "local", "tar", "oci", "docker":
	case "":
		return Output{}, fmt.Errorf("--output %s: type= is missing", s)
	default:
		return Output{}, fmt.Errorf("--output %s: type %q is not one of local, tar, oci, docker", s, o.Type)
	}
	if o.Dest == "" {
		return Output{}, fmt.Errorf("--output %s: dest= is missing", s)
	}
	if o.Type == "local" && o.Dest == "-" {
		return Output{}, fmt.Errorf("--output %s: a local output is a directory, not standard output", s)
	}
	return o, nil
}

// export writes the built image as the output asks.
func (b *builder) export(ctx context.Context, id string, o Output) error {
	switch o.Type {
	case "local":
		dir, err := b.e.ImageMount(id)
		if err != nil {
			return err
		}
		err = errors.Join(os.MkdirAll(o.Dest, 0o755),
			copytree.Contents(copytree.Host{}, dir, copytree.Host{}, o.Dest, copytree.Options{KeepOwner: true}))
		if uerr := b.e.ImageUnmount(id); err == nil {
			err = uerr
		}
		return err
	case "tar":
		return writeTo(o, func(w io.Writer) error { return b.exportTar(ctx, id, w) })
	default:
		format := engine.DockerArchive
		if o.Type == "oci" {
			format = engine.OCIArchive
		}
		refs := []string{id}
		if len(b.o.Tags) > 0 {
			refs = b.o.Tags[:1] // the archive names the image
		}
		if o.Dest != "-" {
			return b.e.ImageSaveFile(o.Dest, refs, format)
		}
		return b.e.ImageSave(o.W, refs, format)
	}
}

// exportTar writes the image's filesystem as a tar, through a container
// of it made for that.
func (b *builder) exportTar(ctx context.Context, id string, w io.Writer) error {
	cr, remove, err := b.readContainer(ctx, id)
	if err != nil {
		return err
	}
	defer remove()
	return b.e.ContainerExport(cr, w)
}

// readContainer is a container of image made only to read its files
// (never started), labelled as a step so that a killed build's goes
// with the next build; remove removes it.
func (b *builder) readContainer(ctx context.Context, image string) (id string, remove func(), err error) {
	cr, err := b.e.ContainerCreate(ctx, engine.CreateOptions{Config: mobycontainer.Config{Image: image, Cmd: []string{"/bin/true"}, Entrypoint: []string{""}, Labels: b.stepLabels()},
		HostConfig: mobycontainer.HostConfig{NetworkMode: "none"}})
	if err != nil {
		return "", nil, err
	}
	return cr.ID, func() {
		// Only read from: what was read is the result; one left is
		// swept by the next build.
		_ = b.e.ContainerRemove(context.Background(), cr.ID, engine.RemoveOptions{Force: true})
	}, nil
}

// writeTo runs write on the output's file (written beside it and
// renamed, so that a failure leaves no partial file under its name) or
// on W.
func writeTo(o Output, write func(io.Writer) error) error {
	if o.Dest == "-" {
		return write(o.W)
	}
	f, err := os.CreateTemp(filepath.Dir(o.Dest), ".berth-output-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after the rename: ENOENT, as intended
	if err := write(f); err != nil {
		_ = f.Close() // the write's error is the one to report
		return err
	}
	if err := errors.Join(f.Close(), os.Chmod(f.Name(), 0o644)); err != nil {
		return err
	}
	return os.Rename(f.Name(), o.Dest)
}
