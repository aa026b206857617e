package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/dockerignore"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/patternmatcher"

	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/engine"
)

// contextSnapshot is the context as COPY sees it: the directory itself,
// or, with a .dockerignore, a copy of it without what the file excludes.
func contextSnapshot(dir, scratch string) (string, func(), error) {
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
	tmp, err := os.MkdirTemp(scratch, "context-")
	if err != nil {
		return "", nil, fmt.Errorf("build: %w", err)
	}
	cleanup := func() { _ = os.RemoveAll(tmp) } // a copy of the context
	if err := copyExcluding(dir, tmp, pm); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build: the context: %w", err)
	}
	return tmp, cleanup, nil
}

// copyExcluding copies the tree dir into tmp without what pm matches
// (paths relative to dir): .dockerignore, and COPY --exclude.
func copyExcluding(dir, tmp string, pm *patternmatcher.PatternMatcher) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
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
}

// copySpec is a COPY's or an ADD's.
type copySpec struct {
	sources      []string
	dest, from   string
	chown, chmod string
	add          bool
	// ADD's: the digest a URL's content must have, and whether archives
	// unpack (nil: local ones do, fetched ones do not).
	checksum string
	unpack   *bool
	// exclude are --exclude patterns, matched under each source.
	exclude []string
	// parents keeps each source's path (below a /./ in it) under dest.
	parents bool
	// keepGitDir keeps a git source's .git directory.
	keepGitDir bool
	// link makes the layer apart (COPY --link); with --chown, --chmod
	// or archives to unpack the copy is made in the stage's container.
	link bool
}

// copy is COPY and ADD: the sources (from the context, or from a stage
// or an image with --from) are staged as they will stand under /, then
// copied into a container of the current image and committed. With
// --chown or --chmod the copied content is staged apart, owned and
// moded, and copied with its owners: the directories above it keep
// theirs.
func (b *builder) copy(ctx context.Context, st *stageState, cmd instructions.Command, cs copySpec) error {
	sources, dest, from, add := cs.sources, cs.dest, cs.from, cs.add
	if cs.checksum != "" && (len(sources) != 1 || !isURL(sources[0])) {
		return errors.New("ADD --checksum needs one http(s) source") // before anything is fetched
	}
	var mode os.FileMode
	if cs.chmod != "" {
		n, err := strconv.ParseUint(cs.chmod, 8, 32)
		if err != nil || n > 0o7777 {
			return fmt.Errorf("--chmod=%s: want an octal mode", cs.chmod)
		}
		mode = os.FileMode(n)
	}
	staged, err := os.MkdirTemp(b.stagingDir, "step-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(staged) // a staging copy
	root := b.context
	if from != "" {
		dir, done, err := b.extract(ctx, from, sources, st.v)
		if err != nil {
			return err
		}
		defer done()
		root = dir
	}
	var matches []string
	unpack := map[string]bool{} // the matches ADD unpacks
	var rels map[string]string  // --parents: a match's path under dest
	if cs.parents {
		rels = map[string]string{}
	}
	for _, src := range sources {
		if add && isGitSource(src) {
			checkout, tree, _, err := fetchGit(ctx, src, b.stagingDir, cs.keepGitDir)
			if err != nil {
				return err
			}
			defer os.RemoveAll(checkout)    // a staging copy
			matches = append(matches, tree) // a directory: what it holds goes into dest
			continue
		}
		if add && isURL(src) {
			defer os.RemoveAll(staged + ".fetched") // a staging copy, if made
			f, err := b.fetch(ctx, src, cs.checksum, staged+".fetched")
			if err != nil {
				return err
			}
			if cs.unpack != nil && *cs.unpack && isArchive(f) {
				unpack[f] = true
			}
			matches = append(matches, f)
			continue
		}
		rel := path.Clean(filepath.ToSlash(src))
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return fmt.Errorf("%s: forbidden path outside the build context", src)
		}
		rel = strings.TrimPrefix(rel, "/")
		if rel == "" {
			rel = "."
		}
		found, err := glob(root, rel)
		if err != nil {
			return fmt.Errorf("%s: %w", src, err)
		}
		if len(found) == 0 {
			return fmt.Errorf("%s: no such file or directory in the build context", src)
		}
		if rels != nil {
			// What is above a /./ in the source is not kept.
			pivot := root
			if before, _, ok := strings.Cut(filepath.ToSlash(src), "/./"); ok {
				pivot = filepath.Join(root, strings.TrimPrefix(path.Clean(before), "/"))
			}
			for _, f := range found {
				r, err := filepath.Rel(pivot, f)
				if err != nil {
					return err
				}
				rels[f] = filepath.ToSlash(r)
			}
		}
		for _, f := range found {
			if add && (cs.unpack == nil || *cs.unpack) && isArchive(f) {
				unpack[f] = true
			}
		}
		matches = append(matches, found...)
	}
	if len(cs.exclude) > 0 {
		defer os.RemoveAll(staged + ".excluded") // a staging copy, if made
		if matches, err = excluding(matches, cs.exclude, staged+".excluded"); err != nil {
			return err
		}
	}
	dst := dest
	if !path.IsAbs(dst) {
		dst = path.Join("/", st.cfg.WorkingDir, dst)
	}
	// An archive unpacks into dest as a directory.
	intoDir := strings.HasSuffix(dest, "/") || dest == "." || len(matches) > 1 || len(unpack) > 0 || rels != nil
	if len(matches) > 1 && !strings.HasSuffix(dest, "/") && len(unpack) < len(matches) && rels == nil {
		return errors.New("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	target := filepath.Join(staged, dst)
	owned := cs.chown != "" || cs.chmod != ""
	var content string
	ownedDest := dst
	if owned {
		// The parents go in the staged tree; the content apart.
		if content, err = os.MkdirTemp(b.stagingDir, "step-"); err != nil {
			return err
		}
		defer os.RemoveAll(content) // a staging copy
		parent := dst
		if !intoDir && !(len(matches) == 1 && isDir(matches[0])) {
			parent = path.Dir(dst)
			ownedDest = parent
		}
		if err := os.MkdirAll(filepath.Join(staged, parent), 0o755); err != nil {
			return err
		}
		if ownedDest == dst {
			target = content
		} else {
			target = filepath.Join(content, path.Base(dst))
		}
	}
	// Without --chown or --chmod an archive keeps the owners it has: it
	// unpacks apart, into a tree copied with its owners.
	var kept string
	if len(unpack) > 0 && !owned {
		if kept, err = os.MkdirTemp(b.stagingDir, "step-"); err != nil {
			return err
		}
		defer os.RemoveAll(kept) // a staging copy
		if err := os.MkdirAll(filepath.Join(staged, dst), 0o755); err != nil {
			return err
		}
	}
	// The plain case copies straight from the context into the step's
	// container: staging it first would write every file once more.
	if !owned && kept == "" {
		return b.copyDirect(ctx, st, cmd, matches, dst, intoDir, rels, cs.link)
	}
	for _, m := range matches {
		fi, err := os.Lstat(m)
		if err != nil {
			return err
		}
		switch {
		case rels != nil:
			t := filepath.Join(target, rels[m])
			if err := os.MkdirAll(filepath.Dir(t), 0o755); err != nil {
				return err
			}
			if err := copytree.Copy(copytree.Host{}, m, copytree.Host{}, t, copytree.Options{}); err != nil {
				return err
			}
		case unpack[m]:
			into := target
			if kept != "" {
				into = kept
			}
			if err := unpackArchive(m, into); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(m), err)
			}
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
	if mode != 0 {
		if err := filepath.WalkDir(content, func(p string, d os.DirEntry, err error) error {
			if err != nil || p == content || d.Type()&os.ModeSymlink != 0 {
				return err
			}
			return os.Chmod(p, mode)
		}); err != nil {
			return err
		}
	}
	digest, err := treeDigest(staged, false)
	if err != nil {
		return err
	}
	s := step{staged: staged, createdBy: codeOf(cmd) + " # buildkit", key: key(st.key, digest)}
	if owned {
		cd, err := treeDigest(content, false)
		if err != nil {
			return err
		}
		s.owned, s.ownedDest, s.chown, s.key = content, ownedDest, cs.chown, key(s.key, cd)
	}
	if kept != "" {
		kd, err := treeDigest(kept, true)
		if err != nil {
			return err
		}
		s.kept, s.keptDest, s.key = kept, dst, key(s.key, kd)
	}
	return b.layer(ctx, st, s)
}

// excluding applies --exclude: a file whose name matches goes; a
// directory is replaced by a copy under tmp without what matches in it.
func excluding(matches, patterns []string, tmp string) ([]string, error) {
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("--exclude: %w", err)
	}
	var kept []string
	for i, m := range matches {
		if !isDir(m) {
			ok, err := pm.MatchesOrParentMatches(filepath.Base(m))
			if err != nil {
				return nil, fmt.Errorf("--exclude: %w", err)
			}
			if ok {
				continue
			}
			kept = append(kept, m)
			continue
		}
		// Numbered, so that two sources of one name do not meet; named
		// as the source, so that copying into a directory keeps its name.
		dst := filepath.Join(tmp, strconv.Itoa(i), filepath.Base(m))
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return nil, err
		}
		if err := copyExcluding(m, dst, pm); err != nil {
			return nil, fmt.Errorf("--exclude: %w", err)
		}
		kept = append(kept, dst)
	}
	if len(kept) == 0 {
		return nil, errors.New("--exclude leaves nothing to copy")
	}
	return kept, nil
}

// copyDirect is a COPY or ADD without owners to give or archives to
// unpack: each match goes from where it is to its place in the step's
// container, and the cache key chains each place and the digest of
// what goes there.
func (b *builder) copyDirect(ctx context.Context, st *stageState, cmd instructions.Command, matches []string, dst string, intoDir bool, rels map[string]string, link bool) error {
	var copies []copyIn
	parts := []string{"COPY"}
	for _, m := range matches {
		c := copyIn{src: m, dst: dst}
		switch {
		case rels != nil:
			c.dst, c.contents = path.Join(dst, rels[m]), isDir(m)
		case isDir(m):
			c.contents = true
		case intoDir:
			c.dst = path.Join(dst, filepath.Base(m))
		}
		d, err := treeDigest(m, false)
		if err != nil {
			return err
		}
		parts = append(parts, fmt.Sprintf("%s\x00%t\x00%s", c.dst, c.contents, d))
		copies = append(copies, c)
	}
	s := step{copies: copies, createdBy: codeOf(cmd) + " # buildkit", key: key(st.key, parts...)}
	if link {
		return b.linked(ctx, st, s, parts)
	}
	return b.layer(ctx, st, s)
}

// linked is a COPY --link: its layer is made apart, on no base, and
// placed on the stage's image; it is cached by what it copies alone, so
// a build whose earlier steps changed still reuses it.
func (b *builder) linked(ctx context.Context, st *stageState, s step, parts []string) error {
	if len(st.mkdirs) > 0 {
		// WORKDIRs still to make go in a layer of their own first.
		st.key = key(st.key, "WORKDIR layer")
		if err := b.layer(ctx, st, step{createdBy: "WORKDIR " + st.cfg.WorkingDir, key: st.key}); err != nil {
			return err
		}
		s.key = key(st.key, parts...)
	}
	if id, ok := b.cache.get(b.e, s.key); ok {
		st.v.cached()
		st.image, st.history, st.key = id, nil, s.key
		return b.recordInline(st)
	}
	linkKey := key("", "LINK", cacheVersion, s.createdBy, key("", parts...))
	layer, ok := b.cache.get(b.e, linkKey)
	if ok {
		st.v.cached()
	} else {
		base, err := b.scratch(ctx)
		if err != nil {
			return err
		}
		apart := &stageState{image: base, v: st.v}
		if err := b.layer(ctx, apart, step{copies: s.copies, createdBy: s.createdBy, key: linkKey}); err != nil {
			return err
		}
		layer = apart.image
	}
	history := append(st.history, engine.HistoryStep{CreatedBy: s.createdBy, Created: time.Now().UTC(), Comment: historyComment})
	id, err := b.e.ImageAppendLayer(ctx, st.image, layer, st.cfg, st.author, history)
	if err != nil {
		return err
	}
	st.image, st.history, st.key = id, nil, s.key
	return errors.Join(b.cache.put(s.key, id), b.recordInline(st))
}

// glob is the paths under root that pattern (relative to it) matches,
// in order, as filepath.Glob has them, and with ** matching any number
// of directories.
func glob(root, pattern string) ([]string, error) {
	if !strings.Contains(pattern, "**") {
		return filepath.Glob(filepath.Join(root, pattern))
	}
	parts := strings.Split(pattern, "/")
	var out []string
	var walk func(dir string, parts []string) error
	walk = func(dir string, parts []string) error {
		if len(parts) == 0 {
			out = append(out, dir)
			return nil
		}
		if parts[0] != "**" {
			found, err := filepath.Glob(filepath.Join(dir, parts[0]))
			if err != nil {
				return err
			}
			for _, f := range found {
				if len(parts) > 1 && !isDir(f) {
					continue
				}
				if err := walk(f, parts[1:]); err != nil {
					return err
				}
			}
			return nil
		}
		// ** is no directory, or one more and ** again; at the end it
		// is everything below.
		if err := walk(dir, parts[1:]); err != nil {
			return err
		}
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if len(parts) == 1 && !e.IsDir() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
			if e.IsDir() {
				if err := walk(filepath.Join(dir, e.Name()), parts); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(root, parts); err != nil {
		return nil, err
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// copyIn is one source of a COPY and its place in the container: the
// directory it fills (contents) or the path it takes.
type copyIn struct {
	src, dst string
	contents bool
}

func isDir(p string) bool {
	fi, err := os.Lstat(p)
	return err == nil && fi.IsDir()
}

// extract copies the sources out of a stage or an image (COPY --from)
// into a directory of their paths, and returns it with its removal.
func (b *builder) extract(ctx context.Context, from string, sources []string, progress io.Writer) (string, func(), error) {
	image, err := b.base(ctx, from, progress)
	if err != nil {
		return "", nil, fmt.Errorf("--from=%s: %w", from, err)
	}
	cr, remove, err := b.readContainer(ctx, image)
	if err != nil {
		return "", nil, err
	}
	defer remove()
	dir, err := os.MkdirTemp(b.stagingDir, "from-")
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
		if err := b.e.ContainerCopyFrom(cr, "/"+rel, target, engine.CopyOptions{}); err != nil {
			done()
			return "", nil, fmt.Errorf("--from=%s: %s: %w", from, src, err)
		}
	}
	return dir, done, nil
}
