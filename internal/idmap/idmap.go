// Package idmap gives containers user namespaces of their own: it hands
// out host ID ranges (--userns=auto), makes a user namespace with a
// range's mapping, and mounts directories through idmapped mounts, so
// that an image's files, owned by root on disk, belong to the
// container's root — without the recursive chown that takes minutes on
// a real image.
package idmap

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/state"
)

// Range is a container's host ID range: container IDs 0..Size-1 are
// host IDs Start..Start+Size-1, for users and groups alike.
//
// With KeepID (Podman's --userns=keep-id, for a rootless berth) the
// user keeps their own IDs: container IDs UID and GID are host ID 0 (the
// user, in a rootless berth's namespace), the IDs below them are Start
// up, and those above them the host IDs one below their number (so that
// the range's Size container IDs fill host IDs 0..Start+Size-2).
type Range struct {
	Start  uint32 `json:"start"`
	Size   uint32 `json:"size"`
	KeepID bool   `json:"keepId,omitempty"`
	UID    uint32 `json:"uid,omitempty"`
	GID    uint32 `json:"gid,omitempty"`
}

// Segment is one line of a uid_map or gid_map.
type Segment struct{ Container, Host, Size uint32 }

// Map is r as uid_map and gid_map lines.
func (r Range) Map() (uids, gids []Segment) {
	if !r.KeepID {
		one := []Segment{{0, r.Start, r.Size}}
		return one, one
	}
	return r.keep(r.UID), r.keep(r.GID)
}

func (r Range) keep(id uint32) []Segment {
	var out []Segment
	if id > 0 {
		out = append(out, Segment{0, r.Start, id})
	}
	out = append(out, Segment{id, 0, 1})
	if id+1 < r.Size {
		out = append(out, Segment{id + 1, r.Start + id, r.Size - id - 1})
	}
	return out
}

// HostIDs turns a container's owner into the host's; an ID outside the
// range is Unmapped.
func (r Range) HostIDs(uid, gid uint32) (uint32, uint32) {
	return r.toHost(uid, r.UID), r.toHost(gid, r.GID)
}

func (r Range) toHost(id, keep uint32) uint32 {
	switch {
	case id >= r.Size:
		return r.Unmapped()
	case !r.KeepID || id < keep:
		return r.Start + id
	case id == keep:
		return 0
	}
	return r.Start + id - 1
}

// ContainerIDs turns a host owner into the container's: what the
// container wrote, as it saw it. A host ID outside the range is left.
func (r Range) ContainerIDs(uid, gid uint32) (uint32, uint32) {
	return r.toContainer(uid, r.UID), r.toContainer(gid, r.GID)
}

func (r Range) toContainer(id, keep uint32) uint32 {
	switch {
	case r.KeepID && id == 0:
		return keep
	case id < r.Start:
		return id
	case !r.KeepID || id < r.Start+keep:
		return id - r.Start
	}
	return id - r.Start + 1
}

// Unmapped is a host ID that no container ID of r maps to: a file the
// container may not own (an image's ID beyond the range) is given it,
// and the container sees it as nobody's.
func (r Range) Unmapped() uint32 {
	if r.KeepID {
		return r.Start + r.Size - 1
	}
	return 0
}

// Key names r's mapping, for copies of layers made for it.
func (r Range) Key() string {
	k := strconv.FormatUint(uint64(r.Start), 10) + "-" + strconv.FormatUint(uint64(r.Size), 10)
	if r.KeepID {
		k += "-keep-" + strconv.FormatUint(uint64(r.UID), 10) + "-" + strconv.FormatUint(uint64(r.GID), 10)
	}
	return k
}

// Own is what this process's user namespace maps: the host user and
// group its root is (a rootless berth's user), and how many IDs from 0
// it maps, users and groups alike (IDs 0..Extent-1).
type Own struct {
	UID, GID uint32
	Extent   uint64
}

// ReadOwn reads Own from /proc/self/uid_map and gid_map.
func ReadOwn() (Own, error) {
	var o Own
	for i, f := range []string{"/proc/self/uid_map", "/proc/self/gid_map"} {
		b, err := os.ReadFile(f)
		if err != nil {
			return Own{}, err
		}
		var top uint64
		root := false
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var in, out, size uint64
			if _, err := fmt.Sscan(line, &in, &out, &size); err != nil {
				continue
			}
			top = max(top, in+size)
			if in == 0 {
				root = true
				if i == 0 {
					o.UID = uint32(out)
				} else {
					o.GID = uint32(out)
				}
			}
		}
		if !root {
			return Own{}, fmt.Errorf("%s maps no root", f)
		}
		if i == 0 || top < o.Extent {
			o.Extent = top
		}
	}
	return o, nil
}

// Host IDs handed out start here, far above the host's own users.
const (
	firstID     = 1 << 20
	DefaultSize = 65536
	maxID       = 1<<32 - 2
)

// ParseMode reads --userns: "" or host (none), auto or auto:size=N.
func ParseMode(s string) (auto bool, size uint32, err error) {
	switch {
	case s == "" || s == "host":
		return false, 0, nil
	case s == "auto":
		return true, DefaultSize, nil
	case strings.HasPrefix(s, "auto:size="):
		n, err := strconv.ParseUint(strings.TrimPrefix(s, "auto:size="), 10, 32)
		if err != nil || n < 1 || n > 1<<24 {
			return false, 0, fmt.Errorf("--userns %q: size must be between 1 and 16777216", s)
		}
		return true, uint32(n), nil
	}
	return false, 0, fmt.Errorf("--userns %q: want host, auto or auto:size=N", s)
}

// RootlessDefaultSize is --userns=auto's size for a rootless berth,
// whose IDs come out of the user's subordinate range (65536 of them, as
// useradd gives): 16 containers at a time, as Podman's 1024-ID minimum
// gives 64.
const RootlessDefaultSize = 4096

// Allocator hands out ranges from a file under its lock; owners are
// container IDs.
type Allocator struct {
	File string
	// First and Limit bound the IDs handed out, Limit excluded (zero:
	// from 1<<20 up to the largest ID); a rootless store's are the IDs
	// of the user's own namespace (Own.Extent) but its first, the user.
	First, Limit uint64
}

// Fits reports whether r lies within the allocator's bounds.
func (a Allocator) Fits(r Range) bool {
	first, limit := a.bounds()
	return uint64(r.Start) >= first && uint64(r.Start)+uint64(r.Size) <= limit
}

func (a Allocator) bounds() (first, limit uint64) {
	first, limit = firstID, maxID
	if a.First != 0 {
		first = a.First
	}
	if a.Limit != 0 {
		limit = a.Limit
	}
	return first, limit
}

// Allocate gives owner a free range of size IDs (the same one again if
// it has one).
func (a Allocator) Allocate(owner string, size uint32) (Range, error) {
	var got Range
	err := a.update(func(m map[string]Range) error {
		if r, ok := m[owner]; ok {
			got = r
			return nil
		}
		first, limit := a.bounds()
		start := first
		for {
			if start+uint64(size) > limit {
				return fmt.Errorf("--userns=auto: no free range of %d IDs left (IDs %d to %d are handed out)", size, first, limit-1)
			}
			clash := false
			for _, r := range m {
				if start < uint64(r.Start)+uint64(r.Size) && uint64(r.Start) < start+uint64(size) {
					start, clash = uint64(r.Start)+uint64(r.Size), true
				}
			}
			if !clash {
				break
			}
		}
		got = Range{Start: uint32(start), Size: size}
		m[owner] = got
		return nil
	})
	return got, err
}

// Release frees owner's range.
func (a Allocator) Release(owner string) error {
	return a.update(func(m map[string]Range) error { delete(m, owner); return nil })
}

func (a Allocator) update(fn func(map[string]Range) error) error {
	if err := os.MkdirAll(filepath.Dir(a.File), 0o700); err != nil {
		return err
	}
	unlock, err := state.Flock(a.File + ".lock")
	if err != nil {
		return err
	}
	defer unlock()
	m := map[string]Range{}
	if b, err := os.ReadFile(a.File); err == nil {
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("%s: %w", a.File, err)
		}
	}
	if err := fn(m); err != nil {
		return err
	}
	b, _ := json.Marshal(m)
	return state.WriteFileAtomic(a.File, b, 0o600)
}

// HolderArg0 names the short-lived process that holds a user namespace
// while its fd is opened.
const HolderArg0 = "berth:[userns]"

// HolderMain is that process: it waits for its stdin to close.
func HolderMain() {
	b := make([]byte, 1)
	_, _ = os.Stdin.Read(b) // any end of stdin ends the holder
	os.Exit(0)
}

// UserNamespace returns an fd of a new user namespace with r's mapping.
func UserNamespace(r Range) (*os.File, error) {
	cmd := exec.Command("/proc/self/exe")
	cmd.Args = []string{HolderArg0}
	cmd.Env = []string{}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	uids, gids := r.Map()
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: procMap(uids), GidMappings: procMap(gids), GidMappingsEnableSetgroups: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("make a user namespace: %w", err)
	}
	// The holder exits when its stdin closes; its status is of no interest.
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	f, err := os.Open("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/user")
	if err != nil {
		return nil, fmt.Errorf("open the user namespace: %w", err)
	}
	return f, nil
}

func procMap(segs []Segment) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(segs))
	for i, g := range segs {
		out[i] = syscall.SysProcIDMap{ContainerID: int(g.Container), HostID: int(g.Host), Size: int(g.Size)}
	}
	return out
}

// MountMapped mounts dir at target through an idmapped mount: what is
// owned by host ID X on disk appears owned by X+r.Start, which the
// container's user namespace shows as X.
func MountMapped(dir, target string, userns *os.File) error {
	fd, err := unix.OpenTree(unix.AT_FDCWD, dir, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return fmt.Errorf("open_tree %s: %w", dir, err)
	}
	defer unix.Close(fd) // the namespace descriptor: the mount holds its own
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return fmt.Errorf("idmap %s: %w (the file system must support idmapped mounts)", dir, err)
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return fmt.Errorf("move_mount %s: %w", target, err)
	}
	return nil
}

// ParseMap reads --uidmap 0:HOST:SIZE: one range from container ID 0,
// used for groups too.
func ParseMap(s string) (Range, error) {
	f := strings.Split(s, ":")
	if len(f) != 3 || f[0] != "0" {
		return Range{}, fmt.Errorf("--uidmap %q: want 0:HOST-ID:SIZE (one range, from container ID 0)", s)
	}
	start, err1 := strconv.ParseUint(f[1], 10, 32)
	size, err2 := strconv.ParseUint(f[2], 10, 32)
	if err1 != nil || err2 != nil || size == 0 || start == 0 || start+size > maxID {
		return Range{}, fmt.Errorf("--uidmap %q: invalid host ID or size", s)
	}
	return Range{Start: uint32(start), Size: uint32(size)}, nil
}
