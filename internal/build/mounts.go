package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/moby/api/types/mount"

	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/state"
)

// ParseSSH reads an --ssh value: ID[=SOCKET], the agent's socket (for
// ID alone, $SSH_AUTH_SOCK's), for RUN --mount=type=ssh,id=ID.
func ParseSSH(s string) (id, sock string, err error) {
	id, sock, ok := strings.Cut(s, "=")
	if !ok {
		if sock = os.Getenv("SSH_AUTH_SOCK"); sock == "" {
			return "", "", fmt.Errorf("--ssh %s: no socket given, and SSH_AUTH_SOCK is not set", s)
		}
	}
	if strings.Contains(sock, ",") {
		return "", "", fmt.Errorf("--ssh %s: one agent socket per id (key files are not supported yet)", s)
	}
	fi, err := os.Stat(sock)
	if err != nil {
		return "", "", fmt.Errorf("--ssh %s: %w", s, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return "", "", fmt.Errorf("--ssh %s: %s is not an agent's socket (key files are not supported yet)", s, sock)
	}
	return id, sock, nil
}

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
func (b *builder) runMounts(ctx context.Context, c *instructions.RunCommand, progress io.Writer) (mounts []mount.Mount, tmpfs map[string]string, env []string, key []string, done func(), err error) {
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
	sshN := 0
	for _, m := range instructions.GetMounts(c) {
		switch m.Type {
		case instructions.MountTypeCache:
			dir, release, err := b.cacheMount(ctx, m, progress)
			if err != nil {
				return fail(err)
			}
			cleanups = append(cleanups, release)
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
			src, err := b.bindSource(ctx, m, &cleanups, progress)
			if err != nil {
				return fail(err)
			}
			digest, err := treeDigest(src, false)
			if err != nil {
				return fail(err)
			}
			key = append(key, "bind "+m.Target+" "+digest)
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: src, Target: m.Target, ReadOnly: m.ReadOnly})
		case instructions.MountTypeSSH:
			// The agent's socket itself, bound in: what a client in the
			// step connects to is the agent --ssh named.
			id := m.CacheID
			if id == "" {
				id = "default"
			}
			sock, ok := b.o.SSH[id]
			if !ok {
				if m.Required {
					return fail(fmt.Errorf("ssh %s: required, and not given with --ssh", id))
				}
				continue
			}
			target := m.Target
			if target == "" {
				target = "/run/buildkit/ssh_agent." + strconv.Itoa(sshN)
			}
			if sshN == 0 {
				env = append(env, "SSH_AUTH_SOCK="+target)
			}
			sshN++
			mounts = append(mounts, mount.Mount{Type: mount.TypeBind, Source: sock, Target: target})
		default:
			return fail(fmt.Errorf("RUN --mount=type=%s is not supported yet", m.Type))
		}
	}
	return mounts, tmpfs, env, key, done, nil
}

// cacheMount is a RUN --mount=type=cache's directory, kept under the
// storage root by id (the target when no id is given) and held for the
// step as its sharing mode says: shared by every step using it at once;
// locked, one step at a time (the others wait); private, a directory
// of its own for each step using the id at once. A new directory takes
// mode, uid and gid, and what from (a stage or an image) holds at source.
func (b *builder) cacheMount(ctx context.Context, m *instructions.Mount, progress io.Writer) (string, func(), error) {
	id := m.CacheID
	if id == "" {
		id = m.Target
	}
	sum := sha256.Sum256([]byte(id))
	base := filepath.Join(filepath.Dir(b.e.BuildCacheDir()), "build-cache-mounts", hex.EncodeToString(sum[:]))
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return "", nil, err
	}
	dir, release := base, func() {}
	switch m.CacheSharing {
	case instructions.MountSharingLocked:
		unlock, err := state.Flock(base + ".lock")
		if err != nil {
			return "", nil, err
		}
		release = unlock
	case instructions.MountSharingPrivate:
		for n := 0; ; n++ {
			if n > 0 {
				dir = base + "-" + strconv.Itoa(n)
			}
			unlock, ok, err := state.TryFlock(dir + ".lock")
			if err != nil {
				return "", nil, err
			}
			if ok {
				release = unlock
				break
			}
		}
	}
	if err := b.seedCache(ctx, dir, m, progress); err != nil {
		release()
		return "", nil, fmt.Errorf("cache %s: %w", id, err)
	}
	return dir, release, nil
}

// seedCache makes a cache directory that is not there yet: staged aside
// and renamed into place, so that a failed seed leaves none.
func (b *builder) seedCache(ctx context.Context, dir string, m *instructions.Mount, progress io.Writer) error {
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		return err // there, or unreadable
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), ".new-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp) // gone once renamed
	if m.From != "" {
		src := path.Clean("/" + filepath.ToSlash(m.Source))
		from, done, err := b.extract(ctx, m.From, []string{src}, progress)
		if err != nil {
			return err
		}
		defer done()
		if err := copytree.Contents(copytree.Host{}, filepath.Join(from, src), copytree.Host{}, tmp, copytree.Options{KeepOwner: true}); err != nil {
			return err
		}
	}
	mode := os.FileMode(0o755)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode)
	}
	uid, gid := 0, 0
	if m.UID != nil {
		uid = int(*m.UID)
	}
	if m.GID != nil {
		gid = int(*m.GID)
	}
	if err := errors.Join(os.Chmod(tmp, mode), os.Lchown(tmp, uid, gid)); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil && !errors.Is(err, os.ErrExist) && !errors.Is(err, syscall.ENOTEMPTY) {
		return err // (another build made it meanwhile: that one is used)
	}
	return nil
}

// bindSource is a bind mount's source on the host: a path of the
// context, or of a stage's or an image's filesystem (copied out).
func (b *builder) bindSource(ctx context.Context, m *instructions.Mount, cleanups *[]func(), progress io.Writer) (string, error) {
	rel := path.Clean("/" + filepath.ToSlash(m.Source))
	if m.From == "" {
		return filepath.Join(b.context, rel), nil
	}
	dir, done, err := b.extract(ctx, m.From, []string{rel}, progress)
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
