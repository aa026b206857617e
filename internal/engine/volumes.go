package engine

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/volume"
)

// volumeUsers names the containers that mount volume name.
func (e *Engine) volumeUsers(name string) []string {
	all, _ := e.Containers.List()
	var out []string
	for _, c := range all {
		for _, m := range c.Host.Mounts {
			if m.Type == "volume" && m.Source == name {
				out = append(out, c.Name)
				break
			}
		}
	}
	return out
}

// userMounts parses -v, --mount and --tmpfs, adds an anonymous volume
// for each image VOLUME no flag covers, validates the host options, and
// creates the volumes. The
// returned function removes the anonymous volumes it made, for a create
// that fails later.
func (e *Engine) userMounts(h *container.Host, mountFlags []string, imageVolumes map[string]struct{}) (func(), error) {
	var ms []container.Mount
	for _, b := range h.Binds {
		m, err := container.ParseVolume(b)
		if err != nil {
			return func() {}, err
		}
		ms = append(ms, m)
	}
	for _, f := range mountFlags {
		m, err := container.ParseMount(f)
		if err != nil {
			return func() {}, err
		}
		ms = append(ms, m)
	}
	tmpfs := make([]string, 0, len(h.Tmpfs))
	for d := range h.Tmpfs {
		tmpfs = append(tmpfs, d)
	}
	sort.Strings(tmpfs)
	for _, d := range tmpfs {
		spec := d
		if o := h.Tmpfs[d]; o != "" {
			spec += ":" + o
		}
		m, err := container.ParseTmpfs(spec)
		if err != nil {
			return func() {}, err
		}
		ms = append(ms, m)
	}
	imgVols := make([]string, 0, len(imageVolumes))
	for v := range imageVolumes {
		imgVols = append(imgVols, v)
	}
	sort.Strings(imgVols)
	for _, v := range imgVols {
		covered := slices.ContainsFunc(ms, func(m container.Mount) bool { return path.Clean(m.Target) == path.Clean(v) })
		if !covered && path.IsAbs(v) {
			ms = append(ms, container.Mount{Type: "volume", Target: path.Clean(v), Anonymous: true})
		}
	}
	// Every flag is checked before anything is made.
	h.Mounts = ms
	if err := container.ValidateHost(*h); err != nil {
		return func() {}, err
	}
	var made []string
	undo := func() {
		for _, n := range made {
			e.Volumes.Remove(n, true)
		}
	}
	for i, m := range ms {
		if m.Type != "volume" {
			continue
		}
		_, getErr := e.Volumes.Get(m.Source)
		v, err := e.Volumes.Create(m.Source, nil)
		if err != nil {
			undo()
			return func() {}, err
		}
		if m.Anonymous || getErr != nil { // made here
			made = append(made, v.Name)
		}
		ms[i].Source = v.Name // h.Mounts is ms
	}
	return undo, nil
}

// prepareVolumes resolves each of the container's volumes to its
// directory once (making it again if it was removed while the container
// was stopped, as Docker does), fills the empty ones from the image's
// content at their targets, and returns the lookup for the spec. Filling
// is Docker's too: a new volume on /var/lib/app starts with what the
// image put there, owners and modes kept, paths confined to the rootfs
// and the volume.
func (e *Engine) prepareVolumes(c *container.Container, rootfs string) (container.VolumePath, error) {
	dirs := map[string]string{}
	lookup := func(name string) (string, error) {
		if d, ok := dirs[name]; ok {
			return d, nil
		}
		return "", fmt.Errorf("volume %s: not prepared", name)
	}
	var root *os.Root
	for _, m := range c.Host.Mounts {
		if m.Type != "volume" {
			continue
		}
		v, err := e.Volumes.Create(m.Source, nil)
		if err != nil {
			return nil, err
		}
		dir := v.Mountpoint
		dirs[m.Source] = dir
		if m.NoCopy {
			continue
		}
		if ents, err := os.ReadDir(dir); err != nil || len(ents) > 0 {
			continue
		}
		if c.Host.IDMap != nil {
			// A new volume of a container with a user namespace is its
			// root's, as with Docker's userns-remap. (What is copied in
			// below already has the container's owners: the rootfs shows
			// its layers through the idmapped mounts.)
			if err := os.Lchown(dir, int(c.Host.IDMap.Start), int(c.Host.IDMap.Start)); err != nil {
				return nil, err
			}
		}
		if root == nil {
			if root, err = os.OpenRoot(rootfs); err != nil {
				return nil, err
			}
			defer root.Close()
		}
		src := filepath.Clean("." + m.Target)
		fi, err := root.Stat(src)
		if err != nil || !fi.IsDir() {
			continue // nothing to copy, or not a directory: Docker copies nothing either
		}
		vol, err := os.OpenRoot(dir)
		if err != nil {
			return nil, err
		}
		err = copytree.Contents(root, src, vol, ".", copytree.Options{KeepOwner: true})
		if err == nil {
			err = os.Chmod(dir, fi.Mode().Perm())
		}
		vol.Close()
		if err != nil {
			return nil, fmt.Errorf("fill volume %s from the image's %s: %w", m.Source, m.Target, err)
		}
	}
	return lookup, nil
}

// removeAnonymousVolumes removes the container's anonymous volumes (rm
// -v, --rm), unless another container uses them too.
func (e *Engine) removeAnonymousVolumes(c *container.Container) error {
	var errs []error
	for _, m := range c.Host.Mounts {
		if m.Type != "volume" || !m.Anonymous {
			continue
		}
		if users := e.volumeUsers(m.Source); len(users) > 0 {
			continue
		}
		if err := e.Volumes.Remove(m.Source, false); err != nil && !errors.Is(err, volume.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// joins resolves --pid/--ipc/--uts/--network container:NAME to the
// namespaces of that container's init, which must be running.
func (e *Engine) joins(c *container.Container) (map[specs.LinuxNamespaceType]string, error) {
	out := map[specs.LinuxNamespaceType]string{}
	for t, mode := range map[specs.LinuxNamespaceType]string{
		specs.PIDNamespace: c.Host.PidMode, specs.IPCNamespace: c.Host.IpcMode,
		specs.UTSNamespace: c.Host.UTSMode, specs.NetworkNamespace: c.Host.NetworkMode,
	} {
		ref, ok := strings.CutPrefix(mode, "container:")
		if !ok {
			continue
		}
		other, err := e.Get(ref)
		if err != nil {
			return nil, fmt.Errorf("join the %s namespace of %s: %w", t, ref, err)
		}
		if other.ID == c.ID {
			return nil, fmt.Errorf("join the %s namespace of %s: a container cannot join itself", t, ref)
		}
		if other.State.Status != container.Running || other.State.Pid == 0 {
			return nil, fmt.Errorf("join the %s namespace of %s: container is not running", t, ref)
		}
		out[t] = fmt.Sprintf("/proc/%d/ns/%s", other.State.Pid, nsFile[t])
	}
	return out, nil
}

var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.NetworkNamespace: "net",
}
