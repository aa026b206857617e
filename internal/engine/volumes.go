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
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
	mobyvolume "github.com/moby/moby/api/types/volume"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/copytree"
	"github.com/berth-project/berth/internal/volume"
)

// volumeUsers names the containers that mount volume name.
func (e *Engine) volumeUsers(name string) ([]string, error) { return e.storage().VolumeUsers(name) }

// userMounts parses -v and --tmpfs, takes the --mount values, adds an anonymous volume
// for each image VOLUME no flag covers, validates the host options, and
// creates the volumes. The
// returned function removes the anonymous volumes it made, for a create
// that fails later.
func (e *Engine) userMounts(h *container.Host, mounts []container.Mount, imageVolumes map[string]struct{}) (func(), error) {
	var ms []container.Mount
	for _, b := range h.Binds {
		m, err := container.ParseVolume(b)
		if err != nil {
			return func() {}, invalid(err)
		}
		ms = append(ms, m)
	}
	ms = append(ms, mounts...)
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
	// --volumes-from: the other container's volumes and binds, where
	// this one mounts nothing of its own; never removed with this one.
	for _, vf := range h.VolumesFrom {
		ref, mode, _ := strings.Cut(vf, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return func() {}, invalid(fmt.Errorf("--volumes-from %q: want CONTAINER[:ro|rw]", vf))
		}
		src, err := e.get(ref)
		if err != nil {
			return func() {}, err
		}
		for _, m := range src.Host.Mounts {
			if m.Type == "tmpfs" || slices.ContainsFunc(ms, func(x container.Mount) bool { return path.Clean(x.Target) == path.Clean(m.Target) }) {
				continue
			}
			m.Anonymous = false
			if mode != "" {
				m.ReadOnly = mode == "ro"
			}
			ms = append(ms, m)
		}
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
			// Undoes a failed create, whose error is the one to report;
			// a volume that stays is anonymous and volume prune takes it.
			_ = e.volumes.Remove(n, true)
		}
	}
	for i, m := range ms {
		if _, err := os.Stat(m.Source); m.Type == "bind" && m.CreateSource && errors.Is(err, os.ErrNotExist) {
			// -v makes its missing host directory, as Docker's; it stays.
			// A file that is there is bound as it is.
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				undo()
				return func() {}, fmt.Errorf("-v %s: create the host directory: %w", m.Source, err)
			}
		}
		if m.Type != "volume" {
			continue
		}
		_, getErr := e.volumes.Get(m.Source)
		v, err := e.volumes.Create(m.Source, nil, nil)
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
		v, err := e.volumes.Create(m.Source, nil, nil)
		if err != nil {
			return nil, err
		}
		if err := e.volumes.Mount(v); err != nil {
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
			defer root.Close() // a directory handle, read through
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
		_ = vol.Close() // written through; the copy's own error is returned
		if err != nil {
			return nil, fmt.Errorf("fill volume %s from the image's %s: %w", m.Source, m.Target, err)
		}
	}
	return lookup, nil
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
		other, err := e.get(ref)
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
		// With the same ID map the joiner is in the other's user
		// namespace too (a pod's containers in its sandbox's): a user
		// namespace of its own would hold no capability over the
		// namespaces it joined, which that one owns.
		if m := other.Host.IDMap; m != nil && c.Host.IDMap != nil && *m == *c.Host.IDMap {
			out[specs.UserNamespace] = fmt.Sprintf("/proc/%d/ns/user", other.State.Pid)
		}
	}
	return out, nil
}

var nsFile = map[specs.LinuxNamespaceType]string{
	specs.PIDNamespace: "pid", specs.IPCNamespace: "ipc", specs.UTSNamespace: "uts", specs.NetworkNamespace: "net",
}

// VolumeCreateOptions are volume create's.
type VolumeCreateOptions struct {
	// Name is the volume's; "" draws one (an anonymous-looking name, but
	// the volume is named: prune without -a keeps it).
	Name string
	// Driver is "local" (or ""), the only one.
	Driver string
	Labels map[string]string
	// DriverOpts are the local driver's: type, device and o, a mount
	// made when a container first uses the volume.
	DriverOpts map[string]string
}

func volumeOut(v *volume.Volume) mobyvolume.Volume {
	opts := v.Options
	if opts == nil {
		opts = map[string]string{}
	}
	labels := v.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return mobyvolume.Volume{Name: v.Name, Driver: v.Driver, Mountpoint: v.Mountpoint, CreatedAt: v.CreatedAt.Format(time.RFC3339),
		Labels: labels, Scope: v.Scope, Options: opts}
}

// VolumeCreate makes a volume.
func (e *Engine) VolumeCreate(o VolumeCreateOptions) (mobyvolume.Volume, error) {
	if o.Driver != "" && o.Driver != "local" {
		return mobyvolume.Volume{}, withKind(ErrNotFound, fmt.Errorf("volume driver %q not found: only local is here", o.Driver))
	}
	v, err := e.volumes.Create(o.Name, o.Labels, o.DriverOpts)
	if err != nil {
		return mobyvolume.Volume{}, classify(err)
	}
	e.emit(mobyevents.VolumeEventType, mobyevents.ActionCreate, v.Name, map[string]string{"driver": "local"})
	return volumeOut(v), nil
}

// VolumeList lists volumes: filters name=, label=, label!=, driver=,
// dangling=.
func (e *Engine) VolumeList(f Filters) ([]mobyvolume.Volume, error) {
	if err := f.check("name", "label", "label!", "driver", "dangling"); err != nil {
		return nil, err
	}
	dangling, danglingSet, err := f.boolean("dangling")
	if err != nil {
		return nil, err
	}
	vols, err := e.volumes.List()
	if err != nil {
		return nil, err
	}
	out := []mobyvolume.Volume{}
	for _, v := range vols {
		if !f.any("name", func(s string) bool { return strings.Contains(v.Name, s) }) ||
			!f.any("driver", func(s string) bool { return s == v.Driver }) || !f.labels(v.Labels) {
			continue
		}
		if danglingSet {
			users, err := e.volumeUsers(v.Name)
			if err != nil {
				return nil, err
			}
			if (len(users) == 0) != dangling {
				continue
			}
		}
		out = append(out, volumeOut(v))
	}
	return out, nil
}

// VolumeInspect describes a volume.
func (e *Engine) VolumeInspect(name string) (mobyvolume.Volume, error) {
	v, err := e.volumes.Get(name)
	if err != nil {
		return mobyvolume.Volume{}, classify(err)
	}
	return volumeOut(v), nil
}

// VolumeRemove deletes a volume and its data; one in use only with
// force.
func (e *Engine) VolumeRemove(name string, force bool) error {
	if err := e.volumes.Remove(name, force); err != nil {
		return classify(err)
	}
	e.emit(mobyevents.VolumeEventType, mobyevents.ActionDestroy, name, map[string]string{"driver": "local"})
	return nil
}

// VolumesPrune removes unused anonymous volumes, or every unused one
// with all=true, as Docker 23+ does (label=, label!= filters too).
func (e *Engine) VolumesPrune(f Filters) (mobyvolume.PruneReport, error) {
	rep := mobyvolume.PruneReport{VolumesDeleted: []string{}}
	if err := f.check("all", "label", "label!"); err != nil {
		return rep, err
	}
	all, _, err := f.boolean("all")
	if err != nil {
		return rep, err
	}
	vols, err := e.volumes.List()
	if err != nil {
		return rep, err
	}
	for _, v := range vols {
		if !all && !v.Anonymous || !f.labels(v.Labels) {
			continue
		}
		users, err := e.volumeUsers(v.Name)
		if err != nil {
			return rep, err
		}
		if len(users) > 0 {
			continue
		}
		size := dirSize(v.Mountpoint)
		if err := e.volumes.Remove(v.Name, false); err != nil {
			return rep, classify(err)
		}
		e.emit(mobyevents.VolumeEventType, mobyevents.ActionDestroy, v.Name, map[string]string{"driver": "local"})
		rep.VolumesDeleted = append(rep.VolumesDeleted, v.Name)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, nil
}
