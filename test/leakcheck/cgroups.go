// Package leakcheck holds what the root-only test suites share in their
// final leak checks.
package leakcheck

import (
	"errors"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// EngineCgroupParents are the cgroups the engine puts its containers
// under (/berth, container.Spec's parent) in each hierarchy.
func EngineCgroupParents() []string {
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/berth") // a constant pattern
	return dirs
}

// RemoveMadeParents removes the engine's parent cgroups that were not
// there before; one that will not go (a container's cgroup under it) is
// returned as a leak.
func RemoveMadeParents(before []string) []string {
	var leaks []string
	for _, d := range EngineCgroupParents() {
		if slices.Contains(before, d) {
			continue
		}
		if err := unix.Rmdir(d); err != nil && !errors.Is(err, unix.ENOENT) {
			leaks = append(leaks, "cgroup "+d+": "+err.Error())
		}
	}
	return leaks
}
