// Package state owns the runtime's files on disk: the per-container
// directory under the state root, its atomic state.json, the lock that
// serialises mutations of one container, and the identity of its init
// process (pid plus start time, so a recycled pid is never mistaken for it).
package state

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// File names inside a container's state directory.
const (
	StateFile    = "state.json"
	CreatingFile = "creating.json"
	FifoFile     = "exec.fifo"
	lockFile     = "lock"
)

// Container is what the runtime remembers about one container between
// invocations. It is written once by create (twice: creating, then created)
// and read by every other operation.
type Container struct {
	ID      string    `json:"id"`
	Bundle  string    `json:"bundle"`
	Rootfs  string    `json:"rootfs"`
	Created time.Time `json:"created"`
	// Pid is the container's init process as seen from the runtime's PID
	// namespace, and StartTime its start time in clock ticks since boot.
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
	// Creating is true until create has finished; a crash in between
	// leaves it set, and delete cleans such a container up.
	Creating bool `json:"creating,omitempty"`
	// Cgroup is the cleaned cgroupsPath the container was placed at, and
	// CgroupCreated the directories create made for it (parents first).
	Cgroup        string   `json:"cgroup"`
	CgroupCreated []string `json:"cgroup_created,omitempty"`
	// NoCgroup: the container has none (rootless, none delegated).
	NoCgroup bool `json:"no_cgroup,omitempty"`
	// Config is the bundle's config as it was at create time: later
	// operations (hooks, delete) must not see edits made to the bundle.
	Config *specs.Spec `json:"config"`
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_+-."

// ValidateID rejects ids that could name anything but one directory under
// the state root.
func ValidateID(id string) error {
	if id == "" {
		return errors.New("container id cannot be empty")
	}
	if len(id) > 1024 || strings.Trim(id, idChars) != "" || id == "." || id == ".." {
		return fmt.Errorf("invalid container id %q: use letters, digits and _ + - . only", id)
	}
	return nil
}

// Store is a state root: one directory per container.
type Store struct{ Root string }

// Dir returns the state directory of container id.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, id) }

// Lock takes an exclusive flock on the state root's lock file; the
// returned function releases it. Create holds it only around the mkdir
// that claims an id.
func (s Store) Lock() (func(), error) {
	if err := os.MkdirAll(s.Root, 0o711); err != nil {
		return nil, fmt.Errorf("create state root %s: %w", s.Root, err)
	}
	return Flock(filepath.Join(s.Root, "."+lockFile))
}

// LockContainer takes the lock of one container for a mutation (delete,
// update), so operations on different containers never wait on each
// other. A container deleted meanwhile reads as gone once the lock is
// taken: callers load its state after locking.
func (s Store) LockContainer(id string) (func(), error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	unlock, err := Flock(filepath.Join(s.Dir(id), lockFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
	}
	return unlock, err
}

// Flock takes an exclusive flock on path (created if missing); the returned
// function releases it. The kernel releases it too if the process dies.
func Flock(path string) (func(), error) {
	release, _, err := flockFile(path, unix.LOCK_EX)
	return release, err
}

// TryFlock is Flock without waiting: ok is false, and nothing is held,
// while another holds the lock.
func TryFlock(path string) (release func(), ok bool, err error) {
	return flockFile(path, unix.LOCK_EX|unix.LOCK_NB)
}

func flockFile(path string, how int) (func(), bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), how); err != nil {
		_ = f.Close() // the lock file could not be locked: this error (or busy) is returned
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("lock %s: %w", path, err)
	}
	return func() { _ = f.Close() }, true, nil // closing releases the lock; it cannot fail for an open file
}

// ErrNotExist is returned by Load for an unknown container.
var ErrNotExist = errors.New("container does not exist")

// Load reads container id's state.
func (s Store) Load(id string) (*Container, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(filepath.Join(s.Dir(id), StateFile))
	if errors.Is(err, os.ErrNotExist) {
		// A create in progress, or one that crashed half-way.
		data, err = os.ReadFile(filepath.Join(s.Dir(id), CreatingFile))
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("container %s: %w", id, ErrNotExist)
		}
		return nil, fmt.Errorf("read state of %s: %w", id, err)
	}
	var c Container
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("parse state of %s: %w", id, err)
	}
	return &c, nil
}

// Save writes c's state: creating.json while c.Creating, then state.json
// once, after which creating.json is removed. The state file is written
// exactly once and never renamed over: on a disk-backed /run (ext4 with
// online discard, as on the machines here) replacing or fsyncing a file
// costs about a millisecond each, a third of a container start.
func (s Store) Save(c *Container) error {
	data, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode state of %s: %w", c.ID, err)
	}
	dir := s.Dir(c.ID)
	if c.Creating {
		return WriteFileVolatile(filepath.Join(dir, CreatingFile), data, 0o600)
	}
	if err := WriteFileVolatile(filepath.Join(dir, StateFile), data, 0o600); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(dir, CreatingFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("finish state of %s: %w", c.ID, err)
	}
	return nil
}

// List returns the ids of all containers under the root, in directory order.
func (s Store) List() ([]string, error) {
	ents, err := os.ReadDir(s.Root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read state root %s: %w", s.Root, err)
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	return ids, nil
}

// WriteFileAtomic writes data to path so that a reader (or a crash) sees
// either the old file or the new one, never a part: temp file in the same
// directory, fsync, rename. Use it for durable metadata.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, true)
}

// WriteFileVolatile is WriteFileAtomic without the fsync, for state
// that does not survive a reboot by design (runtime state under /run, a
// container's run state): durability buys nothing, while readers still
// never see half a file.
//
// An existing file is swapped with the new one (RENAME_EXCHANGE) and the
// old one unlinked, rather than renamed over. On ext4, renaming over a
// file flushes the new file's blocks at once (auto_da_alloc), and with
// -o discard freeing the replaced one's issues a discard: about 1 ms per
// write, several times per container start. Swapped, neither file has
// reached the disk when the old one goes.
func WriteFileVolatile(path string, data []byte, perm os.FileMode) error {
	return writeFile(path, data, perm, false)
}

func writeFile(path string, data []byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	fail := func(err error) error {
		_ = f.Close()      // the temp file of a failed write; the error is returned
		_ = os.Remove(tmp) // as above
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Chmod(perm); err != nil {
		return fail(err)
	}
	if durable {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(tmp) // as above
		return fmt.Errorf("write %s: %w", path, err)
	}
	if !durable {
		err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, path, unix.RENAME_EXCHANGE)
		if err == nil {
			os.Remove(tmp) // the old contents now
			return nil
		}
		if !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.EINVAL) {
			_ = os.Remove(tmp) // as above
			return fmt.Errorf("write %s: %w", path, err)
		}
		// A new file, or a filesystem without exchange: rename.
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // as above
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
