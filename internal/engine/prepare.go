package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/rootless"
)

// unmounter undoes the mount of a container's rootfs at merged.
func unmounter(merged string) func() {
	// Detached: it goes once nothing uses it; EINVAL means it is gone.
	return func() { _ = unix.Unmount(merged, unix.MNT_DETACH) }
}

// canIdle: a rootless container has its user-mode network and port
// forwarder in its monitor, which the idle stage does not carry (a name
// server it does).
func canIdle(c *container.Container) bool {
	return !c.Host.OwnNetworkNamespace() || !rootless.Active()
}

// prepare mounts the container's rootfs (the image's layers under its
// own upper dir), writes /etc/hostname, hosts and resolv.conf, and the
// bundle, its process given linkEnv (its links' variables). The starter
// runs it (plan), before the monitor's go-ahead.
func (e *Engine) prepare(c *container.Container, linkEnv []string) (string, func(), error) {
	img, err := e.images.Get(c.Image)
	if err != nil {
		return "", func() {}, err
	}
	dir := e.containers.Dir(c.ID)
	for _, d := range []string{filepath.Join(dir, "etc"), filepath.Join(dir, "bundle")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", func() {}, err
		}
	}
	// A container running as non-root reaches its rootfs.
	if err := os.Chmod(dir, 0o711); err != nil {
		return "", func() {}, err
	}
	// Left by a monitor that was killed; nothing there is no error.
	e.unmountRootfs(c)
	merged, unmount, err := e.mountRootfs(c, img, true)
	if err != nil {
		return "", func() {}, err
	}
	if err := makeWorkingDir(c, merged); err != nil {
		unmount()
		return "", func() {}, err
	}
	etc := filepath.Join(dir, "etc")
	if other, ok := e.networkPeer(c); ok {
		// --network container:X: X's hostname, hosts and resolv.conf, as
		// Docker shares them (a pod's containers see the pod's).
		etc = filepath.Join(e.containers.Dir(other), "etc")
	} else {
		err = os.WriteFile(filepath.Join(etc, "hostname"), []byte(c.Config.Hostname+"\n"), 0o644)
		if err == nil {
			err = e.prepareEtc(c, etc)
		}
	}
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	in := container.SpecInput{Rootfs: merged, EtcDir: etc, LinkEnv: linkEnv}
	if len(c.Host.CDIDevices) > 0 {
		in.CDI = e.cdiRegistry(c.Host.CDISpecDirs)
	}
	if in.Joins, err = e.joins(c); err == nil {
		in.Volumes, err = e.prepareVolumes(c, merged)
	}
	if err == nil && c.Host.Init {
		in.InitBinary, err = os.Executable()
	}
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	spec, err := container.Spec(c, in)
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		unmount()
		return "", func() {}, err
	}
	return bundle, unmount, nil
}

// networkPeer is the container whose network namespace c joins
// (--network container:X), when X is there.
func (e *Engine) networkPeer(c *container.Container) (string, bool) {
	ref, ok := strings.CutPrefix(c.Host.NetworkMode, "container:")
	if !ok {
		return "", false
	}
	other, err := e.get(ref)
	if err != nil {
		return "", false // the start fails on the join itself, and says why
	}
	return other.ID, true
}

// makeWorkingDir makes the container's working directory when its image
// lacks it, as Docker does (-w /new): 0755, owned by the container's
// root, made through an os.Root so that a link in the image cannot lead
// out of the rootfs.
func makeWorkingDir(c *container.Container, rootfs string) error {
	wd := c.Config.WorkingDir
	if wd == "" || wd == "/" {
		return nil
	}
	root, err := os.OpenRoot(rootfs)
	if err != nil {
		return err
	}
	defer root.Close() // a directory handle
	rel := strings.TrimPrefix(filepath.Clean("/"+wd), "/")
	if _, err := root.Stat(rel); err == nil {
		return nil // the common case: one lookup
	}
	dir := ""
	for _, part := range strings.Split(rel, "/") {
		dir = filepath.Join(dir, part)
		if _, err := root.Stat(dir); err == nil {
			continue
		}
		if err := root.Mkdir(dir, 0o755); err != nil {
			return fmt.Errorf("create the working directory %s: %w", wd, err)
		}
		if m := c.Host.IDMap; m != nil {
			// Through the idmapped rootfs the container's root is the
			// range's first ID.
			if err := root.Lchown(dir, int(m.Start), int(m.Start)); err != nil {
				return fmt.Errorf("create the working directory %s: %w", wd, err)
			}
		}
	}
	return nil
}
