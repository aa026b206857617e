package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/berth-project/berth/internal/engine"
)

// The build cache: a step's key names the image the step made. A key
// chains the key of the step before (the base image's ID first), the
// instruction as expanded, the ARG values it sees, and for COPY and ADD
// the digest of exactly the files it copies; so a step is reused only
// when everything it depends on is the same. Entries are files under
// the storage root (engine.BuildCacheDir), one per key holding the
// image's ID; an entry whose image is gone is a miss.
type cache struct {
	dir string
	off bool // --no-cache: nothing is reused, results still recorded
	// allowed, when set, are the only images a hit may name (the
	// classic builder's cache_from: those images and their parents).
	allowed map[string]bool
}

// classicCacheImages are the images given to the classic builder's
// cache_from that are here, with their parents.
func classicCacheImages(e *engine.Engine, refs []string) map[string]bool {
	out := map[string]bool{}
	for _, ref := range refs {
		in, err := e.ImageInspect(ref)
		for err == nil && !out[in.ID] {
			out[in.ID] = true
			if in.Parent == "" {
				break
			}
			in, err = e.ImageInspect(in.Parent)
		}
	}
	return out
}

// cacheVersion starts every key: a builder that makes other images of
// the same steps (a new default, a history format) changes it, so that
// no cached result of an older one is reused.
const cacheVersion = "berth-build/2"

// key chains parts onto a parent key.
func key(parent string, parts ...string) string {
	h := sha256.New()
	io.WriteString(h, parent)
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%d:%s", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// get is the image a step of this key made, if it is still there.
func (c cache) get(e *engine.Engine, k string) (string, bool) {
	if c.off {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(c.dir, k))
	if err != nil {
		return "", false // no entry
	}
	id := strings.TrimSpace(string(b))
	if c.allowed != nil && !c.allowed[id] {
		return "", false // not of the images the build may reuse
	}
	if _, err := e.ImageInspect(id); err != nil {
		return "", false // the image was removed: built again
	}
	return id, true
}

// put records the image a step made.
func (c cache) put(k, id string) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	tmp := filepath.Join(c.dir, ".tmp-"+k)
	if err := os.WriteFile(tmp, []byte(id), 0o600); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(c.dir, k)); err != nil {
		_ = os.Remove(tmp) // the rename's error is reported
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// treeDigest is the digest of a staged tree: every path, its type and
// mode, and its content (a symlink's target), in path order.
func treeDigest(root string, owners bool) (string, error) {
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		paths = append(paths, p)
		return nil
	})
	if err != nil {
		return "", err
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		fi, err := os.Lstat(p)
		if err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(root, p) // p is under root
		fmt.Fprintf(h, "%s\x00%o\x00", rel, fi.Mode())
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && owners {
			fmt.Fprintf(h, "%d:%d\x00", st.Uid, st.Gid)
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return "", err
			}
			io.WriteString(h, link)
		case fi.Mode().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return "", err
			}
			_, err = io.Copy(h, f)
			_ = f.Close() // read only
			if err != nil {
				return "", err
			}
		}
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Entries int
	Images  []string
	// Freed are the bytes of the images removed.
	Freed int64
}

// PruneOptions bound what Prune removes; zero removes all of it.
type PruneOptions struct {
	// Until keeps the entries recorded at or after it (until=).
	Until time.Time
	// KeepStorage keeps the newest entries whose images together take
	// at most this many bytes (--keep-storage); 0 keeps none.
	KeepStorage int64
}

// Prune empties the build cache of the engine's storage root, but for
// what o keeps, and removes the images only the removed entries referred
// to (untagged ones); a tagged image stays.
func Prune(e *engine.Engine, o PruneOptions) (PruneReport, error) {
	var rep PruneReport
	pruneScratch(e.BuildScratchDir())
	dir := e.BuildCacheDir()
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return rep, nil
	}
	if err != nil {
		return rep, fmt.Errorf("build cache: %w", err)
	}
	type entry struct {
		name string
		mod  time.Time
	}
	var all []entry
	for _, ent := range ents {
		if fi, err := ent.Info(); err == nil {
			all = append(all, entry{ent.Name(), fi.ModTime()})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].mod.After(all[j].mod) }) // newest first
	var kept int64
	var errs []error
	for _, en := range all {
		p := filepath.Join(dir, en.name)
		if !o.Until.IsZero() && !en.mod.Before(o.Until) {
			continue // recorded at or after until: kept
		}
		if o.KeepStorage > 0 {
			var size int64
			if b, err := os.ReadFile(p); err == nil {
				if in, err := e.ImageInspect(strings.TrimSpace(string(b))); err == nil {
					size = in.Size
				}
			}
			if kept+size <= o.KeepStorage {
				kept += size
				continue // among the newest that fit
			}
		}
		b, err := os.ReadFile(p)
		if err == nil {
			id := strings.TrimSpace(string(b))
			if in, err := e.ImageInspect(id); err == nil && len(in.RepoTags) == 0 {
				if _, err := e.ImageRemove(id, false); err == nil {
					rep.Images = append(rep.Images, id)
					rep.Freed += in.Size
				} else if !errors.Is(err, engine.ErrConflict) { // in use by a container: it stays
					errs = append(errs, err)
				}
			}
		}
		if err := os.Remove(p); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Entries++
	}
	return rep, errors.Join(errs...)
}

// pruneScratch removes what killed builds left staged. A running build
// may be staging there too: only entries a day old go.
func pruneScratch(dir string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return // none yet: nothing was ever staged
	}
	for _, ent := range ents {
		if fi, err := ent.Info(); err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
			_ = os.RemoveAll(filepath.Join(dir, ent.Name())) // left by a killed build; the next prune retries
		}
	}
}
