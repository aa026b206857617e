package engine

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/idle"
	"github.com/berth-project/berth/internal/monitor/launch"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/trace"
)

// autoRemove is the end of a --rm container, in its monitor: nobody
// waits for an error, so it goes to the monitor's stderr, which the
// engine keeps nowhere; the record is gone in any case or stays for rm.
func (e *Engine) autoRemove(c *container.Container) {
	if err := e.forget(c, true); err != nil {
		fmt.Fprintln(os.Stderr, "berth monitor: remove", c.ID[:12]+":", err)
	}
}

// monitorMain is a monitor process's main.
func monitorMain() {
	trace.Phase("monitor", "process")
	child, err := launch.FromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// The plan is all the monitor needs to run the container; the engine
	// is opened only to remove a --rm container at its end.
	roots := child.Roots
	paths := monitor.Paths{Root: roots[0], RunRoot: roots[1]}
	hooks := monitor.Hooks{Remove: func(c *container.Container) {
		e, err := Open(roots[0], roots[1])
		if err != nil {
			// Nobody waits for this error: the record stays for rm.
			fmt.Fprintln(os.Stderr, "berth monitor: remove", c.ID[:12]+":", err)
			return
		}
		e.autoRemove(c)
	}}
	if code, err := strconv.Atoi(os.Getenv(idle.ResumeEnv)); err == nil {
		fd, err := strconv.Atoi(os.Getenv(idle.ListenerEnv))
		if err != nil {
			fmt.Fprintln(os.Stderr, "berth monitor: resumed without its attach socket")
			os.Exit(2)
		}
		os.Exit(monitor.Resume(paths, child.ID, hooks, code, os.NewFile(uintptr(fd), "attach-socket")))
	}
	// Launched ahead: wait for the container to be handed over, or exit
	// quietly when the launch is aborted (or the starter died).
	if !child.WaitGo() {
		os.Exit(0)
	}
	trace.Phase("monitor", "go")
	os.Exit(monitor.Run(paths, child.ID, hooks, child, child.Client()))
}

// unmounter undoes the mount of a container's rootfs at merged.
func unmounter(merged string) func() {
	// Detached: it goes once nothing uses it; EINVAL means it is gone.
	return func() { _ = unix.Unmount(merged, unix.MNT_DETACH) }
}

// canIdle: a container on a user-defined network has its name server
// in its monitor, which the idle stage does not carry.
func canIdle(c *container.Container) bool {
	if !c.Host.OwnNetworkNamespace() {
		return true
	}
	return !slices.ContainsFunc(c.Host.Networks, func(a container.NetworkAttachment) bool { return a.Name != network.DefaultName })
}

// prepare mounts the container's rootfs (the image's layers under its
// own upper dir), writes /etc/hostname, hosts and resolv.conf, and the
// bundle. The starter runs it (plan), before the monitor's go-ahead.
func (e *Engine) prepare(c *container.Container) (string, func(), error) {
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
	// Left by a monitor that was killed; EINVAL when nothing is there.
	_ = unix.Unmount(filepath.Join(dir, "merged"), unix.MNT_DETACH)
	merged, unmount, err := e.mountRootfs(c, img, true)
	if err != nil {
		return "", func() {}, err
	}
	etc := filepath.Join(dir, "etc")
	err = os.WriteFile(filepath.Join(etc, "hostname"), []byte(c.Config.Hostname+"\n"), 0o644)
	if err == nil {
		err = e.prepareEtc(c, etc)
	}
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	in := container.SpecInput{Rootfs: merged, EtcDir: etc}
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
