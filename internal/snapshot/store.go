package snapshot

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/sys"
)

// Info describes one unpacked layer.
type Info struct {
	ChainID v1.Hash   `json:"chainID"`
	DiffID  v1.Hash   `json:"diffID"`  // digest of the uncompressed layer tar
	Size    int64     `json:"size"`    // bytes of file content unpacked
	TarSize int64     `json:"tarSize"` // bytes of the uncompressed tar
	Created time.Time `json:"created"`
}

// Store keeps unpacked layers, one directory per chain ID:
//
//	<root>/<chain hex>/fs         the layer's files (an overlay lower dir)
//	<root>/<chain hex>/info.json  its Info
//	<root>/.tmp-*                 layers being unpacked
//
// The root is mode 0700: layers hold setuid files that no host user
// other than root may reach.
type Store struct {
	root string
}

// OpenStore opens (creating it if needed) the snapshot store at root and
// removes unpacks that never finished.
func OpenStore(root string) (*Store, error) {
	// Layers are unpacked and removed here, thousands of files at a
	// time: spread over the filesystem (ext4), marked when made.
	_, err := os.Stat(root)
	fresh := errors.Is(err, os.ErrNotExist)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", root, err)
	}
	if fresh {
		sys.SpreadSubdirs(root)
	}
	if err := os.Chmod(root, 0o700); err != nil {
		return nil, fmt.Errorf("snapshot store %s: %w", root, err)
	}
	s := &Store{root: root}
	s.RemoveAbandoned()
	return s, nil
}

// ChainIDs returns the chain ID of each layer, base first: the chain ID
// of the base is its diff ID; each next one is the sha256 of
// "<parent chain ID> <diff ID>", so it names the whole stack below.
func ChainIDs(diffIDs []v1.Hash) []v1.Hash {
	out := make([]v1.Hash, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1].String() + " " + d.String()))
		out[i] = v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	}
	return out
}

// Dir is the directory of a snapshot's files.
func (s *Store) Dir(chainID v1.Hash) string {
	return filepath.Join(s.root, chainID.Hex, "fs")
}

// Get returns a snapshot's Info, or false when it is not stored.
func (s *Store) Get(chainID v1.Hash) (Info, bool) {
	b, err := os.ReadFile(filepath.Join(s.root, chainID.Hex, "info.json"))
	if err != nil {
		return Info{}, false
	}
	var info Info
	if json.Unmarshal(b, &info) != nil || info.ChainID != chainID {
		return Info{}, false
	}
	return info, true
}

// Create makes the snapshot chainID by calling fill on an empty
// directory, then publishes it with one rename: a crash or an error
// leaves no snapshot, and a reader never sees a half-filled one. If
// another creator published it first, this copy is dropped.
func (s *Store) Create(chainID, diffID v1.Hash, fill func(dir string) (size, tarSize int64, err error)) (Info, error) {
	if info, ok := s.Get(chainID); ok {
		return info, nil
	}
	tmp, release, err := s.workDir()
	if err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	defer release()
	defer os.RemoveAll(tmp) // the unpack dir of a failed unpack; gone after a rename
	fs := filepath.Join(tmp, "fs")
	if err := os.Mkdir(fs, 0o755); err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	info := Info{ChainID: chainID, DiffID: diffID, Created: time.Now().UTC()}
	if info.Size, info.TarSize, err = fill(fs); err != nil {
		return Info{}, err
	}
	b, err := json.Marshal(info)
	if err != nil {
		return Info{}, err
	}
	if err := state.WriteFileAtomic(filepath.Join(tmp, "info.json"), b, 0o600); err != nil {
		return Info{}, fmt.Errorf("snapshot %s: %w", chainID, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.root, chainID.Hex)); err != nil {
		if _, ok := s.Get(chainID); ok {
			return info, nil // another creator won
		}
		return Info{}, fmt.Errorf("publish snapshot %s: %w", chainID, err)
	}
	return info, nil
}

// Adopt makes the snapshot chainID of dir, a layer's files already in
// overlay's form (a container's trimmed upper dir, whose tar has diff ID
// diffID and size tarSize, with size bytes of file content): dir is
// renamed into place, not copied. The caller gives dir up, also on
// failure; dir must be on the store's filesystem (else the rename fails
// with EXDEV, and the caller unpacks the layer instead).
func (s *Store) Adopt(chainID, diffID v1.Hash, dir string, size, tarSize int64) (Info, error) {
	return s.Create(chainID, diffID, func(fs string) (int64, int64, error) {
		if err := os.Remove(fs); err != nil {
			return 0, 0, err
		}
		if err := os.Rename(dir, fs); err != nil {
			return 0, 0, fmt.Errorf("adopt %s as snapshot %s: %w", dir, chainID, err)
		}
		return size, tarSize, nil
	})
}

// Remove deletes a snapshot; a missing one is not an error. It is moved
// aside first so a crash mid-removal never leaves a half-snapshot under
// its name.
func (s *Store) Remove(chainID v1.Hash) error {
	dir := filepath.Join(s.root, chainID.Hex)
	tmp, release, err := s.workDir()
	if err != nil {
		return fmt.Errorf("remove snapshot %s: %w", chainID, err)
	}
	defer release()
	trash := filepath.Join(tmp, "old")
	if err := os.Rename(dir, trash); err != nil {
		_ = os.Remove(tmp) // as above
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("remove snapshot %s: %w", chainID, err)
	}
	if err := os.RemoveAll(tmp); err != nil {
		return fmt.Errorf("remove snapshot %s: %w", chainID, err)
	}
	return nil
}

// List returns every stored snapshot.
func (s *Store) List() ([]Info, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, fmt.Errorf("list snapshots: %w", err)
	}
	var out []Info
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if info, ok := s.Get(v1.Hash{Algorithm: "sha256", Hex: e.Name()}); ok {
			out = append(out, info)
		}
	}
	return out, nil
}

// Mounts returns the mount that stacks the snapshots chainIDs (base
// first) as a container's root filesystem. With upper and work set
// (directories on the same filesystem, work empty) the rootfs is
// writable; without them it is a read-only view. A single layer without
// an upper dir is a read-only bind mount, which overlayfs does not
// offer.
func (s *Store) Mounts(chainIDs []v1.Hash, upper, work string) ([]specs.Mount, error) {
	if len(chainIDs) == 0 {
		// FROM scratch: an empty directory is the one layer.
		empty, err := s.EmptyDir()
		if err != nil {
			return nil, err
		}
		if upper == "" {
			return []specs.Mount{{Type: "bind", Source: empty, Options: []string{"rbind", "ro"}}}, nil
		}
		return []specs.Mount{Overlay([]string{empty}, upper, work)}, nil
	}
	lowers := make([]string, 0, len(chainIDs))
	for i := len(chainIDs) - 1; i >= 0; i-- { // overlayfs lists the top first
		if _, ok := s.Get(chainIDs[i]); !ok {
			return nil, fmt.Errorf("snapshot %s is not unpacked", chainIDs[i])
		}
		lowers = append(lowers, s.Dir(chainIDs[i]))
	}
	if upper == "" && len(lowers) == 1 {
		return []specs.Mount{{Type: "bind", Source: lowers[0], Options: []string{"rbind", "ro"}}}, nil
	}
	return []specs.Mount{Overlay(lowers, upper, work)}, nil
}

// EmptyDir is an empty directory of the store's, the only layer of an
// image that has none (FROM scratch): overlayfs needs a lower dir.
func (s *Store) EmptyDir() (string, error) {
	dir := filepath.Join(s.root, ".empty")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("snapshot store: %w", err)
	}
	return dir, nil
}

// Overlay is the overlay mount of lowers (the top layer first) under
// upper and work; read-only without an upper dir.
func Overlay(lowers []string, upper, work string) specs.Mount {
	opts := []string{"lowerdir=" + strings.Join(lowers, ":")}
	if upper != "" {
		opts = append(opts, "upperdir="+upper, "workdir="+work)
	} else {
		opts = append(opts, "ro")
	}
	// index=off: the layers are shared read-only; nfs_export and index
	// only matter for hard links copied up across mounts.
	opts = append(opts, "index=off")
	return specs.Mount{Type: "overlay", Source: "overlay", Options: opts}
}

// workDir is a .tmp- directory of the store's, held under an flock for
// as long as its creator lives: the kernel lets go of a killed one's,
// and RemoveAbandoned takes what nobody holds.
func (s *Store) workDir() (string, func(), error) {
	tmp, err := os.MkdirTemp(s.root, ".tmp-")
	if err != nil {
		return "", nil, err
	}
	fd, err := unix.Open(tmp, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Flock(fd, unix.LOCK_EX)
	}
	if err != nil {
		_ = os.Remove(tmp) // empty, ours: the open's or lock's error is the one to report
		return "", nil, err
	}
	return tmp, func() { _ = unix.Close(fd) }, nil // closing lets go of the lock
}

// abandonedGrace covers a work dir between its mkdir and its lock.
const abandonedGrace = 10 * time.Second

// RemoveAbandoned deletes the work dirs of creators that are gone (a
// pull or commit killed mid-unpack) and returns the bytes it freed.
func (s *Store) RemoveAbandoned() int64 {
	return s.abandoned(func(dir string) {
		_ = os.RemoveAll(dir) // an abandoned unpack; the next sweep retries what stays
	})
}

// AbandonedSize is the bytes RemoveAbandoned would free now.
func (s *Store) AbandonedSize() int64 { return s.abandoned(func(string) {}) }

// abandoned calls do, under the dir's lock, for each work dir whose
// lock nobody holds past a moment's grace, and sums their sizes.
func (s *Store) abandoned(do func(dir string)) int64 {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".tmp-") {
			continue
		}
		p := filepath.Join(s.root, e.Name())
		fi, err := e.Info()
		if err != nil || time.Since(fi.ModTime()) < abandonedGrace {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue // gone meanwhile
		}
		if unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil {
			total += dirSize(p)
			do(p)
		}
		_ = unix.Close(fd) // releases our probe's lock
	}
	return total
}

// dirSize is the bytes of the files under dir.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil // what cannot be read counts as nothing
	})
	return n
}
