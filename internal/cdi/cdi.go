// Package cdi owns devices named through the Container Device
// Interface: CDI names in --device (vendor.com/class=name), --gpus
// requests as NVIDIA's CDI names, the vendors' specs under /etc/cdi and
// /var/run/cdi, and the NVIDIA spec berth writes from the driver's
// device nodes and libraries when no vendor spec names nvidia.com.
package cdi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// DefaultSpecDirs are where vendors put their specs, lowest priority
// first, as the CDI library orders them.
var DefaultSpecDirs = []string{"/etc/cdi", "/var/run/cdi"}

// GPUKind is the kind NVIDIA's specs (and berth's own) name GPUs by.
const GPUKind = "nvidia.com/gpu"

// ErrNoGPU is a GPU request on a host with neither an NVIDIA spec nor
// NVIDIA's device nodes, in Docker's words.
var ErrNoGPU = errors.New(`could not select device driver "" with capabilities: [[gpu]]`)

// IsName reports whether s names a CDI device rather than a host path.
func IsName(s string) bool { return parser.IsQualifiedName(s) }

// GPUNames are the CDI names of a GPU request: every GPU (count -1), the
// first count, or the given IDs (indexes or UUIDs, as NVIDIA's specs
// name them).
func GPUNames(count int, ids []string) []string {
	switch {
	case len(ids) > 0:
		out := make([]string, len(ids))
		for i, id := range ids {
			out[i] = GPUKind + "=" + id
		}
		return out
	case count < 0:
		return []string{GPUKind + "=all"}
	}
	out := make([]string, count)
	for i := range out {
		out[i] = GPUKind + "=" + strconv.Itoa(i)
	}
	return out
}

// Registry resolves CDI names against the specs in Dirs.
type Registry struct {
	// Dirs hold the vendors' specs, lowest priority first.
	Dirs []string
	// Generated is berth's own directory for the NVIDIA spec it makes;
	// "" makes none.
	Generated string
	// Host is where NVIDIA's driver is looked for.
	Host Host
}

// Inject applies the edits of the named devices to s: device nodes and
// their cgroup rules, mounts, environment, hooks. A name no spec
// resolves is an error that names it, and s is left as it was.
func (r *Registry) Inject(s *specs.Spec, names []string) error {
	if len(names) == 0 {
		return nil
	}
	for _, n := range names {
		if !IsName(n) {
			return fmt.Errorf("CDI device %q: want VENDOR/CLASS=NAME", n)
		}
	}
	cache, err := r.cache(names)
	if err != nil {
		return err
	}
	trial := *s
	trial.Linux = ptrCopy(s.Linux)
	if trial.Linux != nil {
		trial.Linux.Resources = ptrCopy(s.Linux.Resources)
	}
	trial.Process = ptrCopy(s.Process)
	trial.Hooks = ptrCopy(s.Hooks)
	if _, err := cache.InjectDevices(&trial, names...); err != nil {
		if wantsGPU(names) && len(cache.GetVendorSpecs("nvidia.com")) == 0 {
			return ErrNoGPU
		}
		return fmt.Errorf("CDI device injection failed: %w", err)
	}
	*s = trial
	return nil
}

// Check resolves names without a spec to change: create refuses what a
// start could not inject.
func (r *Registry) Check(names []string) error {
	return r.Inject(&specs.Spec{Process: &specs.Process{}, Linux: &specs.Linux{Resources: &specs.LinuxResources{}}}, names)
}

func ptrCopy[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func wantsGPU(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, GPUKind+"=") {
			return true
		}
	}
	return false
}

// cache loads the specs; for a GPU request with no vendor spec of
// NVIDIA's, berth's own is made first.
func (r *Registry) cache(names []string) (*cdi.Cache, error) {
	dirs := r.Dirs
	if r.Generated != "" {
		dirs = append([]string{r.Generated}, dirs...) // the vendor's win
	}
	cache, err := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	if err != nil {
		return nil, fmt.Errorf("CDI specs: %w", err)
	}
	if r.Generated == "" || !wantsGPU(names) {
		return cache, nil
	}
	for _, s := range cache.GetVendorSpecs("nvidia.com") {
		if !strings.HasPrefix(s.GetPath(), r.Generated+string(filepath.Separator)) {
			return cache, nil // NVIDIA's own spec (nvidia-ctk cdi generate)
		}
	}
	spec, err := NVIDIASpec(r.Host)
	if err != nil || spec == nil {
		return cache, err // none: no GPU here, and Inject says so
	}
	if err := writeSpec(filepath.Join(r.Generated, "berth-nvidia.json"), spec); err != nil {
		return nil, err
	}
	if err := cache.Refresh(); err != nil {
		return nil, fmt.Errorf("CDI specs: %w", err)
	}
	return cache, nil
}

func writeSpec(path string, spec *cdispec.Spec) error {
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp) // the rename's error is the one to report
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Host is where NVIDIA's driver shows: its device nodes, the libraries
// the dynamic loader knows, its tools on PATH. Tests fake it.
type Host struct {
	DevDir string // "" is /dev
	// Libraries returns `ldconfig -p`'s output.
	Libraries func() ([]byte, error)
	// LookPath finds a tool; nil uses none.
	LookPath func(string) (string, error)
}

// driverLibraries are the prefixes of the libraries of NVIDIA's driver
// that CUDA programs and nvidia-smi load.
var driverLibraries = []string{"libnvidia-", "libcuda.so", "libcudadebugger.so", "libnvcuvid.so", "libnvoptix.so"}

// driverTools are the driver's programs a container may run.
var driverTools = []string{"nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control", "nvidia-cuda-mps-server"}

// controlNodes are the driver's nodes every GPU needs.
var controlNodes = []string{"nvidiactl", "nvidia-uvm", "nvidia-uvm-tools", "nvidia-modeset"}

// NVIDIASpec is a CDI spec for this host's NVIDIA GPUs, made as
// `nvidia-ctk cdi generate` makes its own but for the ldcache hook: a
// device per GPU by index ("0", …) and "all", with the control nodes,
// the driver's libraries at their host paths (which Debian's and
// Ubuntu's loaders search without a cache) and its tools. nil when
// the host has no GPU node.
func NVIDIASpec(h Host) (*cdispec.Spec, error) {
	dev := h.DevDir
	if dev == "" {
		dev = "/dev"
	}
	ents, err := os.ReadDir(dev)
	if err != nil {
		return nil, fmt.Errorf("look for NVIDIA GPUs: %w", err)
	}
	var gpus []int
	for _, e := range ents {
		if n, ok := strings.CutPrefix(e.Name(), "nvidia"); ok {
			if i, err := strconv.Atoi(n); err == nil {
				gpus = append(gpus, i)
			}
		}
	}
	if len(gpus) == 0 {
		return nil, nil
	}
	sort.Ints(gpus)
	spec := &cdispec.Spec{Version: cdispec.CurrentVersion, Kind: GPUKind}
	var all []*cdispec.DeviceNode
	for _, i := range gpus {
		name := "nvidia" + strconv.Itoa(i)
		if node := deviceNode(dev, name); node != nil {
			all = append(all, node)
			spec.Devices = append(spec.Devices, cdispec.Device{Name: strconv.Itoa(i), ContainerEdits: cdispec.ContainerEdits{DeviceNodes: []*cdispec.DeviceNode{node}}})
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	spec.Devices = append(spec.Devices, cdispec.Device{Name: "all", ContainerEdits: cdispec.ContainerEdits{DeviceNodes: all}})
	edits := &spec.ContainerEdits
	for _, n := range controlNodes {
		if node := deviceNode(dev, n); node != nil {
			edits.DeviceNodes = append(edits.DeviceNodes, node)
		}
	}
	if h.Libraries != nil {
		out, err := h.Libraries()
		if err != nil {
			return nil, fmt.Errorf("list the NVIDIA driver's libraries: %w", err)
		}
		for _, p := range driverLibrariesIn(out) {
			edits.Mounts = append(edits.Mounts, &cdispec.Mount{HostPath: p, ContainerPath: p, Options: []string{"ro", "nosuid", "nodev", "bind"}})
		}
	}
	if h.LookPath != nil {
		for _, t := range driverTools {
			if p, err := h.LookPath(t); err == nil {
				edits.Mounts = append(edits.Mounts, &cdispec.Mount{HostPath: p, ContainerPath: p, Options: []string{"ro", "nosuid", "nodev", "bind"}})
			}
		}
	}
	return spec, nil
}

// deviceNode is /dev/NAME as the host's dev/NAME is, its numbers read
// here (through a link, too), or nil when that is no character device.
func deviceNode(dev, name string) *cdispec.DeviceNode {
	host := filepath.Join(dev, name)
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR {
		return nil
	}
	return &cdispec.DeviceNode{Path: "/dev/" + name, HostPath: host, Type: "c",
		Major: int64(unix.Major(st.Rdev)), Minor: int64(unix.Minor(st.Rdev))}
}

// driverLibrariesIn picks the driver's 64-bit libraries out of
// `ldconfig -p`: lines "\tNAME (libc6,x86-64) => PATH".
func driverLibrariesIn(ldconfig []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, l := range strings.Split(string(ldconfig), "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(l), " (")
		if !ok {
			continue
		}
		flags, path, ok := strings.Cut(rest, ") => ")
		if !ok || !strings.Contains(flags, "64") || seen[path] {
			continue
		}
		for _, p := range driverLibraries {
			if strings.HasPrefix(name, p) {
				seen[path] = true
				out = append(out, path)
				break
			}
		}
	}
	return out
}
