// Package fscommon holds the cgroupfs file operations that the v1 and v2
// managers share: making a directory chain, writing a pid, reading
// cgroup.procs, removing directories while their last tasks exit.
package fscommon

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/trace"
)

// MkdirChain creates root/rel and its missing parents, and returns the
// relative paths it created, parents first.
func MkdirChain(root, rel string) ([]string, error) {
	var created []string
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := "/"
	for _, p := range parts {
		if p == "" {
			continue
		}
		cur = filepath.Join(cur, p)
		dir := filepath.Join(root, cur)
		err := os.Mkdir(dir, 0o755)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if errors.Is(err, os.ErrNotExist) {
			// Another container's delete removed a shared parent just
			// after we saw it: make the rest of the chain again.
			more, err := MkdirChain(root, rel)
			return append(created, more...), err
		}
		if err != nil {
			return created, fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		created = append(created, cur)
	}
	return created, nil
}

// WritePid puts pid into the cgroup at dir.
func WritePid(dir string, pid int) error {
	p := filepath.Join(dir, "cgroup.procs")
	if err := os.WriteFile(p, []byte(strconv.Itoa(pid)), 0); err != nil {
		return fmt.Errorf("join cgroup %s: %w", dir, err)
	}
	return nil
}

// ReadPids lists cgroup.procs of dir; a missing cgroup has none.
func ReadPids(dir string) ([]int, error) {
	data, err := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read cgroup %s: %w", dir, err)
	}
	var pids []int
	for _, f := range strings.Fields(string(data)) {
		if n, err := strconv.Atoi(f); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// Rmdir removes a cgroup directory, retrying while it is busy (tasks
// that were just killed take a moment to leave it). A missing one is fine.
func Rmdir(dir string) error {
	delay := 100 * time.Microsecond
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		trace.Phase("cgroups", "rmdir busy: "+dir)
		if !errors.Is(err, unix.EBUSY) || i >= 40 {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(delay)
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

// RemoveTree removes dir and the cgroups made below it (by the
// container's own processes, say: a cgroup namespace lets them),
// deepest first.
func RemoveTree(dir string) error {
	// The common case first: nothing below, one rmdir.
	if err := unix.Rmdir(dir); err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for _, e := range ents {
		if e.IsDir() {
			if err := RemoveTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	return Rmdir(dir)
}

// RemoveChain removes root/rel with what is below it, and then the
// parents in created (deepest first), stopping quietly at the first
// parent still in use by others.
func RemoveChain(root, rel string, created []string) error {
	if err := RemoveTree(filepath.Join(root, rel)); err != nil {
		return err
	}
	for i := len(created) - 1; i >= 0; i-- {
		if filepath.Clean(created[i]) == filepath.Clean(rel) {
			continue
		}
		if err := unix.Rmdir(filepath.Join(root, created[i])); err != nil && !errors.Is(err, unix.ENOENT) {
			return nil // shared with another container: leave it
		}
	}
	return nil
}
