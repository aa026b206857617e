// Package content is berth's content-addressed blob store: every blob
// (layer, config, manifest) is kept once under its sha256 digest, shared
// by all images that reference it. A blob is written to a private temp
// file, hashed while written, checked against the digest it was
// announced with, and only then renamed into place, so a reader never
// sees a partial or unverified blob, and two writers of the same blob
// store it once.
package content

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

// Store is a blob store rooted at a directory:
//
//	blobs/sha256/<hex>   committed blobs (read-only files)
//	ingest/<pid>-<rand>  blobs being written
//	locks/<name>         flock files that serialise work on one key
type Store struct {
	root string
}

// Open opens (creating it if needed) the store at root and removes the
// temp files of writers that died.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, d := range []string{"blobs/sha256", "ingest", "locks"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o700); err != nil {
			return nil, fmt.Errorf("content store %s: %w", root, err)
		}
	}
	s.removeAbandoned()
	return s, nil
}

// Path is where a committed blob lives.
func (s *Store) Path(d v1.Hash) string {
	return filepath.Join(s.root, "blobs", d.Algorithm, d.Hex)
}

// Size returns a committed blob's size, or false when it is not stored.
func (s *Store) Size(d v1.Hash) (int64, bool) {
	fi, err := os.Stat(s.Path(d))
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}

// Open opens a committed blob.
func (s *Store) Open(d v1.Hash) (*os.File, error) {
	f, err := os.Open(s.Path(d))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
		}
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	return f, nil
}

// ErrNotFound says a blob is not in the store.
var ErrNotFound = errors.New("not in the content store")

// maxMetadata bounds manifests and configs read into memory.
const maxMetadata = 16 << 20

// ReadSmall reads a committed metadata blob (manifest, config, index).
func (s *Store) ReadSmall(d v1.Hash) ([]byte, error) {
	f, err := s.Open(d)
	if err != nil {
		return nil, err
	}
	defer f.Close() // read only
	b, err := io.ReadAll(io.LimitReader(f, maxMetadata+1))
	if err != nil {
		return nil, fmt.Errorf("read blob %s: %w", d, err)
	}
	if len(b) > maxMetadata {
		return nil, fmt.Errorf("blob %s: larger than %d bytes", d, maxMetadata)
	}
	return b, nil
}

// Put stores b and returns its digest.
func (s *Store) Put(b []byte) (v1.Hash, error) {
	w, err := s.Writer(v1.Hash{}, int64(len(b)))
	if err != nil {
		return v1.Hash{}, err
	}
	defer w.Close() // discards the blob unless Commit ran
	if _, err := w.Write(b); err != nil {
		return v1.Hash{}, err
	}
	return w.Commit()
}

// Delete removes a committed blob; a missing blob is not an error.
func (s *Store) Delete(d v1.Hash) error {
	if err := os.Remove(s.Path(d)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// List returns the digests of all committed blobs.
func (s *Store) List() ([]v1.Hash, error) {
	ents, err := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	out := make([]v1.Hash, 0, len(ents))
	for _, e := range ents {
		if h, err := v1.NewHash("sha256:" + e.Name()); err == nil {
			out = append(out, h)
		}
	}
	return out, nil
}

// Lock serialises work on key (a digest, say) across processes: a second
// pull of the same layer waits for the first, then finds it stored.
// RemoveIdleLocks may unlink a lock file meanwhile, so a lock counts
// only while its path still names the file that was locked.
func (s *Store) Lock(key string) (func(), error) {
	path := filepath.Join(s.root, "locks", strings.ReplaceAll(key, ":", "-"))
	for {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return nil, fmt.Errorf("open lock %s: %w", path, err)
		}
		if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
			_ = f.Close() // this error is the one to report
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if sameFile(f, path) {
			return func() { _ = f.Close() }, nil // closing releases the lock
		}
		_ = f.Close() // a removed lock file: lock the path's new one
	}
}

// RemoveIdleLocks unlinks the lock files nobody holds, which would
// otherwise pile up one per layer ever pulled.
func (s *Store) RemoveIdleLocks() {
	dir := filepath.Join(s.root, "locks")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		path := filepath.Join(dir, e.Name())
		f, err := os.OpenFile(path, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone meanwhile
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil && sameFile(f, path) {
			_ = os.Remove(path) // under our lock: a waiter finds it gone and locks a new one
		}
		_ = f.Close() // releases the probe's lock
	}
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// Writer writes one blob. Close without Commit discards it.
type Writer struct {
	s        *Store
	f        *os.File
	h        hash.Hash
	n        int64
	expected v1.Hash
	size     int64
	done     bool
}

// Writer starts a blob. When expected is set, Commit refuses content
// with another digest; when size is >= 0, Commit refuses another length
// and Write refuses to go beyond it.
func (s *Store) Writer(expected v1.Hash, size int64) (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(s.root, "ingest"), strconv.Itoa(os.Getpid())+"-*")
	if err != nil {
		return nil, fmt.Errorf("start blob: %w", err)
	}
	return &Writer{s: s, f: f, h: sha256.New(), expected: expected, size: size}, nil
}

// ErrTooLong says a blob is longer than it was announced.
var ErrTooLong = errors.New("blob longer than its descriptor says")

func (w *Writer) Write(p []byte) (int, error) {
	if w.size >= 0 && w.n+int64(len(p)) > w.size {
		return 0, ErrTooLong
	}
	n, err := w.f.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	if err != nil {
		return n, fmt.Errorf("write blob: %w", err)
	}
	return n, nil
}

// Written is how many bytes were written so far.
func (w *Writer) Written() int64 { return w.n }

// Digest is the digest of what was written so far.
func (w *Writer) Digest() v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(w.h.Sum(nil))}
}

// Commit verifies the blob and moves it into the store. If the blob is
// already there (another writer won), this copy is dropped.
func (w *Writer) Commit() (v1.Hash, error) {
	defer w.Close() // a no-op after a commit; else the blob goes
	d := w.Digest()
	if w.expected.Hex != "" && d != w.expected {
		return v1.Hash{}, fmt.Errorf("blob %s: content has digest %s: refused", w.expected, d)
	}
	if w.size >= 0 && w.n != w.size {
		return v1.Hash{}, fmt.Errorf("blob %s: %d bytes, descriptor says %d", d, w.n, w.size)
	}
	// A blob is referenced by name once committed: make it durable first.
	if err := w.f.Sync(); err != nil {
		return v1.Hash{}, fmt.Errorf("blob %s: %w", d, err)
	}
	if err := w.f.Chmod(0o400); err != nil {
		return v1.Hash{}, fmt.Errorf("blob %s: %w", d, err)
	}
	if err := w.f.Close(); err != nil {
		return v1.Hash{}, fmt.Errorf("blob %s: %w", d, err)
	}
	if err := os.Rename(w.f.Name(), w.s.Path(d)); err != nil {
		return v1.Hash{}, fmt.Errorf("commit blob %s: %w", d, err)
	}
	w.done = true
	return d, nil
}

// Close discards an uncommitted blob.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	_ = w.f.Close() // the file is removed next
	return os.Remove(w.f.Name())
}

// removeAbandoned deletes ingest files whose writer process is gone.
func (s *Store) removeAbandoned() {
	dir := filepath.Join(s.root, "ingest")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		pidStr, _, _ := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidStr)
		if err == nil && pid > 0 && unix.Kill(pid, 0) == nil {
			continue
		}
		_ = os.RemoveAll(filepath.Join(dir, e.Name())) // an abandoned ingest file; the next sweep retries
	}
}

// Dir is the store's root directory.
func (s *Store) Dir() string { return s.root }
