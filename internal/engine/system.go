package engine

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	mobybuild "github.com/moby/moby/api/types/build"
	mobycontainer "github.com/moby/moby/api/types/container"
	mobyimage "github.com/moby/moby/api/types/image"
	mobysystem "github.com/moby/moby/api/types/system"
	mobyvolume "github.com/moby/moby/api/types/volume"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/health"
	"github.com/berth-project/berth/internal/monitor/launch"
	_ "github.com/berth-project/berth/internal/nsenter" // joins namespaces before Go starts
	"github.com/berth-project/berth/internal/rootless"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/runtime/initproc"
	"github.com/berth-project/berth/internal/tinyinit"
	"github.com/berth-project/berth/internal/trace"
)

// Version is berth's version.
var Version = runtime.Version

// SpecVersion is the OCI runtime spec berth implements.
func SpecVersion() string { return runtime.SpecVersion() }

// HelperMain runs this process as the role its argv[0] names, when the
// engine re-executed itself as one: a container's init stage, a
// monitor, the ID-range holder, the --init PID 1. It returns only for
// an ordinary start of the binary. Every binary that embeds the engine
// calls it first thing in main.
func HelperMain() {
	arg0 := os.Args[0]
	switch {
	case initproc.IsInit(arg0):
		initproc.Main()
	case launch.IsMonitor(arg0):
		monitor.Main()
	case launch.IsExecMonitor(arg0):
		execMonitorMain()
	case arg0 == health.ProbeArg0:
		probeMain()
	case arg0 == idmap.HolderArg0:
		idmap.HolderMain()
	case arg0 == container.InitPath:
		tinyinit.Main(os.Args[1:])
	}
	trace.Phase("cli", "main")
}

// EnterRootless moves an unprivileged user's command into the user's
// namespaces (internal/rootless), where the engine opens the user's
// stores; for root it does nothing.
func EnterRootless(warn func(string)) error { return rootless.Enter(warn) }

// Trace records a phase of a front end's work for BERTH_TRACE.
func Trace(who, phase string) { trace.Phase(who, phase) }

// SystemDiskUsage measures what berth stores, as Docker's system df:
// images (shared layers counted once), containers (their own upper
// dirs) and volumes, each with what removing the unused would free, and
// the items themselves.
func (e *Engine) SystemDiskUsage() (mobysystem.DiskUsage, error) {
	var du mobysystem.DiskUsage
	img, err := e.images.DiskUsage()
	if err != nil {
		return du, err
	}
	imgs, err := e.ImageList(ImageListOptions{})
	if err != nil {
		return du, err
	}
	du.ImageUsage = &mobyimage.DiskUsage{TotalCount: int64(img.Total), ActiveCount: int64(img.Active), TotalSize: img.Size,
		Reclaimable: img.Reclaimable, Items: imgs}
	cs, err := e.list()
	if err != nil {
		return du, err
	}
	du.ContainerUsage = &mobycontainer.DiskUsage{Items: []mobycontainer.Summary{}}
	now := time.Now()
	for _, c := range cs {
		size := e.rwSize(c)
		cu := du.ContainerUsage
		cu.TotalCount++
		cu.TotalSize += size
		if c.State.Status == container.Running || monitorAlive(c) {
			cu.ActiveCount++
		} else {
			cu.Reclaimable += size
		}
		sum := e.summary(c, now)
		sum.SizeRw = size
		cu.Items = append(cu.Items, sum)
	}
	vols, err := e.volumes.List()
	if err != nil {
		return du, err
	}
	du.VolumeUsage = &mobyvolume.DiskUsage{Items: []mobyvolume.Volume{}}
	for _, v := range vols {
		size := dirSize(v.Mountpoint)
		users, err := e.volumeUsers(v.Name)
		if err != nil {
			return du, err
		}
		vu := du.VolumeUsage
		vu.TotalCount++
		vu.TotalSize += size
		if len(users) > 0 {
			vu.ActiveCount++
		} else {
			vu.Reclaimable += size
		}
		out := volumeOut(v)
		out.UsageData = &mobyvolume.UsageData{Size: size, RefCount: int64(len(users))}
		vu.Items = append(vu.Items, out)
	}
	du.BuildCacheUsage = e.buildCacheUsage()
	return du, nil
}

// buildCacheUsage is the build cache's part of df: its entries (files
// under BuildCacheDir naming the image a step made), each as large as
// its image when no tag keeps that image (pruning frees it then). No
// entry is in use between builds.
func (e *Engine) buildCacheUsage() *mobybuild.DiskUsage {
	u := &mobybuild.DiskUsage{Items: []mobybuild.CacheRecord{}}
	ents, err := os.ReadDir(e.BuildCacheDir())
	if err != nil {
		return u // none yet: no build has run
	}
	counted := map[string]bool{}
	for _, ent := range ents {
		fi, err := ent.Info()
		if err != nil || strings.HasPrefix(ent.Name(), ".tmp-") {
			continue // gone meanwhile, or a write in flight
		}
		b, err := os.ReadFile(filepath.Join(e.BuildCacheDir(), ent.Name()))
		if err != nil {
			continue // gone meanwhile
		}
		rec := mobybuild.CacheRecord{ID: ent.Name()[:12], Type: "regular", CreatedAt: fi.ModTime(), Description: "berth build step"}
		id := strings.TrimSpace(string(b))
		if img, err := e.images.Get(id); err == nil && len(img.Names) == 0 && !counted[id] {
			counted[id] = true
			rec.Size = e.images.Size(img)
		}
		u.TotalCount++
		u.TotalSize += rec.Size
		u.Reclaimable += rec.Size
		u.Items = append(u.Items, rec)
	}
	return u
}

// dirSize is the bytes of the regular files under dir: a figure for a
// report, so what cannot be read counts as nothing.
func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable or gone meanwhile: skipped
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// Inspect finds ref as a container, an image, a network or a volume,
// the first that has it, as Docker's inspect looks them up (kind names
// one kind only), and describes it as Docker's inspect does.
func (e *Engine) Inspect(ref, kind string) (any, error) {
	kinds := []struct {
		name    string
		inspect func(string) (any, error)
	}{
		{"container", func(r string) (any, error) { return e.ContainerInspect(r) }},
		{"image", func(r string) (any, error) { return e.ImageInspect(r) }},
		{"network", func(r string) (any, error) { return e.NetworkInspect(r) }},
		{"volume", func(r string) (any, error) { return e.VolumeInspect(r) }},
	}
	known := false
	for _, k := range kinds {
		if kind != "" && kind != k.name {
			continue
		}
		known = true
		v, err := k.inspect(ref)
		if err == nil {
			return v, nil
		}
		if kind != "" {
			return nil, err
		}
	}
	if !known {
		return nil, invalid(fmt.Errorf("%q is not a valid value for --type", kind))
	}
	return nil, withKind(ErrNotFound, fmt.Errorf("no such object: %s", ref))
}

// OwnerToken names the calling process for as long as it lives
// ("pid:start time"): a front end labels what it makes with it, so that
// what one that was killed left can be told from what one still uses.
func OwnerToken() string {
	pid := os.Getpid()
	return fmt.Sprintf("%d:%d", pid, monitor.StartTime(pid))
}

// OwnerAlive reports whether the process an OwnerToken names still runs.
func OwnerAlive(token string) bool {
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(token, "%d:%d", &pid, &start); err != nil {
		return false // not a token: nobody owns it
	}
	return monitor.Alive(pid, start)
}
