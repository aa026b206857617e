package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/moby/api/types/mount"
)

// Secret is a --secret: a file's or an environment variable's value.
type Secret struct {
	File string // src=
	Env  string // env=
}

// runMounts are a RUN's --mount flags as the step container's mounts:
// cache dirs kept under the storage root by id, tmpfs, secrets in
// files of their own (never in a layer, the history or a cache key), and
// read-only binds of the context, a stage or an image. key is what the
// step's cache key must add (the content of bound sources); env are a
// secret's env= variables; done removes what was made for the step.
func (b *builder) runMounts(ctx context.Context, c *instructions.RunCommand) (mounts []mount.Mount, tmpfs map[string]string, env []string, key []string, done func(), err error) {
	var cleanups []func()
	done = func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}
	fail := func(err error) ([]mount.Mount, map[string]string, []string, []string, func(), error) {
		done()
		return nil, nil, nil, nil, func() {}, err
	}
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeCache:
			id := m.CacheID
			if id == "" {
				id = m.Target
			}
			sum := sha256.Sum256([]byte(id))
			dir := filepath.Join(filepath.Dir(b.e.BuildCacheDir()), "build-cache-mounts", hex.EncodeToString(sum[:]))
			if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
				mode := os.FileMode(0o755)
				if m.Mode != nil {
					mode = os.FileMode(*m.Mode)
				}
				if err := os.MkdirAll(dir, mode); err != nil {
					return fail(err)
				}
				if m.UID != nil || m.GID != nil {
					uid, gid := 0, 0
					if m.UID != nil {
						uid = int(*m.UID)
					}
					if m.GID != nil {
						gid = int(*m.GID)
					}
					if err := os.Chown(dir, uid, gid); err != nil {
						return fail(err)
					}
				}
			}
			// sharing=locked and private are served as shared: one build
			// at a time uses a cache dir in practice here.
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: dir, Target: m.Target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeTmpfs:
			if tmpfs == nil {
				tmpfs = map[string]string{}
			}
			opts := ""
			if m.SizeLimit > 0 {
				opts = "size=" + strconv.FormatInt(m.SizeLimit, 10)
			}
			tmpfs[m.Target] = opts
		case instructions.MountTypeSecret:
			id := m.CacheID
			if id == "" {
				id = m.Source
			}
			if id == "" {
				id = path.Base(m.Target)
			}
			s, ok := b.o.Secrets[id]
			if !ok {
				if m.Required {
					return fail(fmt.Errorf("secret %s: required, and not given with --secret", id))
				}
				continue
			}
			value, err := s.value()
			if err != nil {
				return fail(fmt.Errorf("secret %s: %w", id, err))
			}
			if m.Env != nil {
				name := *m.Env
				if name == "" {
					name = id
				}
				env = append(env, name+"="+string(value))
				if m.Target == "" {
					continue
				}
			}
			target := m.Target
			if target == "" {
				target = "/run/secrets/" + id
			}
			f, err := os.CreateTemp("", "berth-secret-")
			if err != nil {
				return fail(err)
			}
			name := f.Name()
			cleanups = append(cleanups, func() { _ = os.Remove(name) }) // the secret's only copy
			_, werr := f.Write(value)
			cerr := f.Close()
			if err := errors.Join(werr, cerr, os.Chmod(name, 0o400)); err != nil {
				return fail(err)
			}
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: name, Target: target, ReadOnly: true})
		case instructions.MountTypeBind:
			src, err := b.bindSource(ctx, m, &cleanups)
			if err != nil {
				return fail(err)
			}
			digest, err := treeDigest(src, false)
			if err != nil {
				return fail(err)
			}
			key = append(key, "bind "+m.Target+" "+digest)
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: m.Target, ReadOnly: m.ReadOnly})
		default:
			return fail(fmt.Errorf("RUN --mount=type=%s is not supported yet", m.Type))
		}
	}
	return mounts, tmpfs, env, key, done, nil
}

// bindSource is a bind mount's source on the host: a path of the
// context, or of a stage's or an image's filesystem (copied out).
func (b *builder) bindSource(ctx context.Context, m *instructions.Mount, cleanups *[]func()) (string, error) {
	rel := path.Clean("/" + filepath.ToSlash(m.Source))
	if m.From == "" {
		return filepath.Join(b.context, rel), nil
	}
	dir, done, err := b.extract(ctx, m.From, []string{rel})
	if err != nil {
		return "", err
	}
	*cleanups = append(*cleanups, done)
	return filepath.Join(dir, rel), nil
}

func (s Secret) value() ([]byte, error) {
	if s.Env != "" {
		v, ok := os.LookupEnv(s.Env)
		if !ok {
			return nil, fmt.Errorf("environment variable %s is not set", s.Env)
		}
		return []byte(v), nil
	}
	return os.ReadFile(s.File)
}
