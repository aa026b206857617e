package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/dockerignore"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/patternmatcher"

	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/engine"
)

// contextSnapshot is the context as COPY sees it: the directory itself,
// or, with a .dockerignore, a copy of it without what the file excludes.
func contextSnapshot(dir string) (string, func(), error) {
	f, err := os.Open(filepath.Join(dir, ".dockerignore"))
	if errors.Is(err, os.ErrNotExist) {
		return dir, func() {}, nil
	}
	if err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	patterns, err := dockerignore.ReadAll(f)
	_ = f.Close() // read only
	if err != nil {
		return "", nil, fmt.Errorf("build: .dockerignore: %w", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return "", nil, fmt.Errorf("build: .dockerignore: %w", err)
	}
	tmp, err := os.MkdirTemp("", "berth-context-")
	if err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(tmp) } // a copy of the context
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p) // p is under dir
		if rel == "." {
			return nil
		}
		excluded, err := pm.MatchesOrParentMatches(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if excluded {
			if d.IsDir() && !pm.Exclusions() {
				return filepath.SkipDir // nothing under it comes back with !
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(tmp, rel), 0o755)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(tmp, rel)), 0o755); err != nil {
			return err
		}
		return copytree.Copy(copytree.Host{}, p, copytree.Host{}, filepath.Join(tmp, rel), copytree.Options{})
	})
	if err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build: the context: %w", err)
	}
	return tmp, cleanup, nil
}

// archiveSuffixes are the local files ADD would unpack.
var archiveSuffixes = []string{".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar.zst"}

// copy is COPY and ADD: the sources (from the context, or from a stage
// or an image with --from) are staged as they will stand under /, then
// copied into a container of the current image and committed.
func (b *builder) copy(ctx context.Context, st *stageState, cmd instructions.Command, sources []string, dest, from string, add bool) error {
	staged, err := os.MkdirTemp("", "berth-build-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staged) // a staging copy
	root := b.context
	if from != "" {
		dir, done, err := b.extract(ctx, from, sources)
		if err != nil {
			return err
		}
		defer done()
		root = dir
	}
	var matches []string
	for _, src := range sources {
		if add && (strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") || strings.HasPrefix(src, "git@")) {
			return errors.New("ADD from a URL is not supported yet")
		}
		rel := path.Clean(filepath.ToSlash(src))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: forbidden path outside the build context", src)
		}
		rel = strings.TrimPrefix(rel, "/")
		if rel == "" {
			rel = "."
		}
		found, err := filepath.Glob(filepath.Join(root, rel))
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if len(found) == 0 {
			return fmt.Errorf("%s: no such file or directory in the build context", src)
		}
		for _, f := range found {
			if add && slices.ContainsFunc(archiveSuffixes, func(s string) bool { return strings.HasSuffix(f, s) }) {
				return fmt.Errorf("%s: ADD of a local archive (unpacked by Docker) is not supported yet: COPY it and RUN tar", src)
			}
		}
		matches = append(matches, found...)
	}
	dst := dest
	if !path.IsAbs(dst) {
		dst = path.Join("/", st.cfg.WorkingDir, dst)
	}
	intoDir := strings.HasSuffix(dest, "/") || dest == "." || len(matches) > 1
	if len(matches) > 1 && !strings.HasSuffix(dest, "/") {
		return errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	target := filepath.Join(staged, dst)
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil {
			return err
		}
		switch {
		case fi.IsDir():
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := copytree.Contents(copytree.Host{}, m, copytree.Host{}, target, copytree.Options{}); err != nil {
				return err
			}
		case intoDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			if err := copytree.Copy(copytree.Host{}, m, copytree.Host{}, filepath.Join(target, filepath.Base(m)), copytree.Options{}); err != nil {
				return err
			}
		default:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			if err := copytree.Copy(copytree.Host{}, m, copytree.Host{}, target, copytree.Options{}); err != nil {
				return err
			}
		}
	}
	digest, err := treeDigest(staged)
	if err != nil {
		return err
	}
	return b.layer(ctx, st, step{staged: staged, createdBy: codeOf(cmd) + " # buildkit", key: key(st.key, digest)})
}

// extract copies the sources out of a stage or an image (COPY --from)
// into a directory of their paths, and returns it with its removal.
func (b *builder) extract(ctx context.Context, from string, sources []string) (string, func(), error) {
	image, err := b.base(ctx, from)
	if err != nil {
		return "", nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	cr, err := b.e.ContainerCreate(ctx, engine.CreateOptions{Config: mobycontainer.Config{Image: image, Cmd: []string{"/bin/true"}, Entrypoint: []string{""}},
		HostConfig: mobycontainer.HostConfig{NetworkMode: "none"}})
	if err != nil {
		return "", nil, err
	}
	defer func() {
		// Only read from: the copy's result is what matters.
		_ = b.e.ContainerRemove(context.Background(), cr.ID, engine.RemoveOptions{Force: true})
	}()
	dir, err := os.MkdirTemp("", "berth-from-")
	if err != nil {
		return "", nil, err
	}
	done := func() { _ = os.RemoveAll(dir) } // a staging copy
	for _, src := range sources {
		rel := strings.TrimPrefix(path.Clean("/"+filepath.ToSlash(src)), "/")
		target := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			done()
			return "", nil, err
		}
		if err := b.e.ContainerCopyFrom(cr.ID, "/"+rel, target); err != nil {
			done()
			return "", nil, fmt.Errorf("--from=%s: %s: %w", from, src, err)
		}
	}
	return dir, done, nil
}
