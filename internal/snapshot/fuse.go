package snapshot

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// FuseOverlayfs is the mount program an unprivileged user falls back on
// where the kernel refuses overlayfs in a user namespace (before Linux
// 5.11), or that BERTH_STORAGE_DRIVER asks for: the same layers, served
// by a FUSE daemon that lives as long as the mount.
const FuseOverlayfs = "fuse-overlayfs"

// FuseUsable says why fuse-overlayfs cannot serve a mount here, or nil.
func FuseUsable() error {
	if _, err := exec.LookPath(FuseOverlayfs); err != nil {
		return fmt.Errorf("%s is not installed (Debian's fuse-overlayfs)", FuseOverlayfs)
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("%s needs /dev/fuse read-write: %w", FuseOverlayfs, errors.Unwrap(err))
	}
	_ = f.Close() // opened to test it only
	return nil
}

// MountFuse mounts m, an overlay mount of Overlay's, at target with
// fuse-overlayfs, which daemonizes once the mount is up; unmounting the
// target ends it.
func MountFuse(m specs.Mount, target string) error {
	var keep []string
	for _, o := range m.Options {
		// Its own options: the layers; overlayfs's others (index,
		// volatile) it does not know.
		if k, _, _ := strings.Cut(o, "="); k == "lowerdir" || k == "upperdir" || k == "workdir" {
			keep = append(keep, o)
		}
	}
	out, err := exec.Command(FuseOverlayfs, "-o", strings.Join(keep, ","), target).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s on %s: %w: %s", FuseOverlayfs, target, err, strings.TrimSpace(string(out)))
	}
	return nil
}
