// Package engine is berth's engine: the one contract under every front
// end (the CLI, the Docker Engine API server, the CRI server, the
// builder). It owns containers, exec sessions, images, networks,
// volumes and the system's view of them, over the image service, the
// container store, the per-container monitor and the runtime, which it
// calls in-process.
//
// Inputs are typed options, never command-line strings; outputs are the
// values of Docker's Engine API (github.com/moby/moby/api types), so
// that the CLI's --format and the API's JSON start from the same values.
// Filters, lookups by name or ID prefix, status strings and prune rules
// live here, once. The interfaces in backend.go group the surface by
// area; *Engine implements them all.
package engine

import (
	"fmt"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/removal"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/sys"
	"github.com/berth-project/berth/internal/volume"
)

// Engine is the engine over one storage root and one runtime root. Its
// parts are unexported: a front end calls its methods and cannot reach
// past them into the runtime or the stores.
type Engine struct {
	paths      monitor.Paths
	images     *image.Service
	containers container.Store
	rt         *runtime.Runtime
	volumes    volume.Store
	networks   *network.Manager
	// self is the binary monitors are started from: berth itself.
	self string
	// oneShot: see Options.OneShot.
	oneShot bool
	cdiDirs []string          // Options.CDISpecDirs
	mirrors map[string]string // Options.RegistryMirrors
	// started wakes this process's waits when it starts a container.
	started wakeups
}

// Options tune an engine.
type Options struct {
	// Binary is what monitors and exec sessions run as: a binary that
	// calls HelperMain first thing (berth, or a test binary). "" is this
	// process's own executable.
	Binary string
	// OneShot says that this process ends with its one command (the
	// CLI): a foreground exec session then runs in it, which saves the
	// start of a monitor process for the session. A long-lived caller (a
	// server) leaves it false: every session has a monitor of its own,
	// and the caller reaps nothing.
	OneShot bool
	// CDISpecDirs are where CDI specs are read from (nil: /etc/cdi and
	// /var/run/cdi), as dockerd's cdi-spec-dirs; a container keeps the
	// ones it was created with.
	CDISpecDirs []string
	// RegistryMirrors name, by registry host, a mirror that pulls try
	// first (images keep their own names).
	RegistryMirrors map[string]string
}

// Open opens the engine over root (images, containers: /var/lib/berth)
// and runRoot (runtime state: /run/berth). Images and volumes that
// containers use count as in use.
func Open(root, runRoot string) (*Engine, error) { return OpenWith(root, runRoot, Options{}) }

// OpenWith is Open with options.
func OpenWith(root, runRoot string, o Options) (*Engine, error) {
	imgs, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	e := &Engine{paths: monitor.Paths{Root: root, RunRoot: runRoot}, images: imgs, containers: container.Store{Root: root},
		self: o.Binary, oneShot: o.OneShot, cdiDirs: o.CDISpecDirs, mirrors: o.RegistryMirrors}
	if e.self == "" {
		e.self = "/proc/self/exe"
	}
	// Containers' upper dirs are made and removed here, thousands of
	// files at a time: spread over the filesystem (ext4), marked once,
	// when the store makes the directory (an existing one costs this
	// open one failed mkdir). Another error leaves the directory to the
	// container store, which makes it with its first container.
	if dir := filepath.Join(root, "containers"); os.Mkdir(dir, 0o700) == nil {
		sys.SpreadSubdirs(dir)
	}
	e.rt = runtime.New(e.paths.RuntimeRoot())
	e.volumes = e.storage().Volumes()
	e.networks = &network.Manager{Root: root, Isolated: filepath.Clean(root) != DefaultRoot}
	imgs.InUse = e.usersOf
	return e, nil
}

// storage is the root's containers, volumes and ID ranges, as removal
// forgets them.
func (e *Engine) storage() removal.Storage { return removal.Storage{Root: e.paths.Root} }

// Roots are the storage root and the runtime root the engine was
// opened on.
func (e *Engine) Roots() (root, runRoot string) { return e.paths.Root, e.paths.RunRoot }

// usersOf names the containers made from image id. A listing error is
// returned, so that the image service fails closed.
func (e *Engine) usersOf(id v1.Hash) ([]string, error) {
	all, err := e.containers.List()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []string
	for _, c := range all {
		if c.Image == id.String() {
			out = append(out, c.ID[:12])
		}
	}
	return out, nil
}
