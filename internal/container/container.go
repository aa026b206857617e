// Package container is the engine's container model: what `berth create`
// records (the image, the merged configuration, the host options), the
// container's state as the monitor updates it, the store that keeps both
// under the storage root, and the OCI spec made from them.
package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/trace"
)

// Container is one engine container. container.json keeps what create
// decided, state.json what the monitor updates (see Store.Save).
type Container struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Created time.Time `json:"created"`
	// Image is the image ID; ImageName what the user typed, normalised.
	Image     string `json:"image"`
	ImageName string `json:"imageName"`
	Config    Config `json:"config"`
	Host      Host   `json:"host"`
	// State is in state.json; container.json had it before, and a
	// record of that form still loads.
	State State `json:"state,omitzero"`
}

// Config is the process configuration: the image's, overridden by flags.
type Config struct {
	Hostname    string            `json:"hostname"`
	Domainname  string            `json:"domainname,omitempty"`
	User        string            `json:"user,omitempty"`
	Env         []string          `json:"env"`
	Cmd         []string          `json:"cmd"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	StopSignal  string            `json:"stopSignal,omitempty"`
	StopTimeout *int              `json:"stopTimeout,omitempty"`
	Tty         bool              `json:"tty,omitempty"`
	OpenStdin   bool              `json:"openStdin,omitempty"`
	// StdinOnce closes the container's input when the first attached
	// client's input ends (a foreground run -i).
	StdinOnce    bool                `json:"stdinOnce,omitempty"`
	ExposedPorts map[string]struct{} `json:"exposedPorts,omitempty"`
	// Healthcheck is the probe the monitor runs while the container
	// runs; Shell runs its CMD-SHELL form (the image's SHELL).
	Healthcheck *Healthcheck `json:"healthcheck,omitempty"`
	Shell       []string     `json:"shell,omitempty"`
}

// Args are the container's command line: the entrypoint, then the
// command.
func (c Config) Args() []string {
	return append(append([]string(nil), c.Entrypoint...), c.Cmd...)
}

// EventAttributes are Docker's attributes of the container's events: its
// labels, its image as the user named it, and its name.
func (c *Container) EventAttributes() map[string]string {
	attrs := make(map[string]string, len(c.Config.Labels)+2)
	for k, v := range c.Config.Labels {
		attrs[k] = v
	}
	attrs["image"], attrs["name"] = FamiliarImage(c.ImageName), c.Name
	return attrs
}

// FamiliarImage is an image name as Docker shows it: busybox, not
// docker.io/library/busybox.
func FamiliarImage(name string) string {
	return strings.TrimPrefix(strings.TrimPrefix(name, "docker.io/library/"), "docker.io/")
}

// Host holds the options about how the container runs on the host.
type Host struct {
	AutoRemove bool `json:"autoRemove,omitempty"`
	// EndWithClient kills the container when the client that started it
	// attached goes away before it ends (a build step's builder).
	EndWithClient  bool     `json:"endWithClient,omitempty"`
	ReadonlyRootfs bool     `json:"readonlyRootfs,omitempty"`
	Privileged     bool     `json:"privileged,omitempty"`
	CapAdd         []string `json:"capAdd,omitempty"`
	CapDrop        []string `json:"capDrop,omitempty"`
	SecurityOpt    []string `json:"securityOpt,omitempty"`
	NetworkMode    string   `json:"networkMode"`
	Memory         int64    `json:"memory,omitempty"`
	PidsLimit      int64    `json:"pidsLimit,omitempty"`
	MemorySwap     int64    `json:"memorySwap,omitempty"`
	CPUShares      uint64   `json:"cpuShares,omitempty"`
	CpusetCpus     string   `json:"cpusetCpus,omitempty"`
	NanoCPUs       int64    `json:"nanoCpus,omitempty"`
	// CPUPeriod and CPUQuota are the CFS bandwidth (--cpu-period,
	// --cpu-quota), an alternative to NanoCPUs.
	CPUPeriod         int64  `json:"cpuPeriod,omitempty"`
	CPUQuota          int64  `json:"cpuQuota,omitempty"`
	CpusetMems        string `json:"cpusetMems,omitempty"`
	MemoryReservation int64  `json:"memoryReservation,omitempty"`
	OomKillDisable    bool   `json:"oomKillDisable,omitempty"`
	// MemorySwappiness is --memory-swappiness (0 to 100); nil keeps the
	// kernel's.
	MemorySwappiness *uint64 `json:"memorySwappiness,omitempty"`
	// CPURealtimePeriod and CPURealtimeRuntime are the realtime
	// scheduler's (--cpu-rt-period, --cpu-rt-runtime).
	CPURealtimePeriod  uint64 `json:"cpuRealtimePeriod,omitempty"`
	CPURealtimeRuntime int64  `json:"cpuRealtimeRuntime,omitempty"`
	BlkioWeight        uint16 `json:"blkioWeight,omitempty"`
	// BlkioDevices are per-device weights and throttles, as PATH:VALUE
	// by kind (weight, read-bps, write-bps, read-iops, write-iops); the
	// path is a host device, resolved to its numbers when the spec is
	// made.
	BlkioDevices map[string][]string `json:"blkioDevices,omitempty"`
	// OomScoreAdj is the process's oom_score_adj (--oom-score-adj).
	OomScoreAdj int `json:"oomScoreAdj,omitempty"`
	// ShmSize is /dev/shm's size in bytes (--shm-size; 0: 64 MiB).
	ShmSize int64 `json:"shmSize,omitempty"`
	// StorageSize limits the writable layer (--storage-opt size=N): it
	// is a file system of that size of its own (internal/disk); 0: none.
	StorageSize int64 `json:"storageSize,omitempty"`
	// Sysctls are namespaced kernel parameters (--sysctl).
	Sysctls map[string]string `json:"sysctls,omitempty"`
	// CgroupnsMode is --cgroupns: "" or "private" (a cgroup namespace of
	// its own), or "host".
	CgroupnsMode string `json:"cgroupnsMode,omitempty"`
	// CgroupParent is the cgroup the container's goes under
	// (--cgroup-parent); "" is /berth.
	CgroupParent string `json:"cgroupParent,omitempty"`
	// Annotations go to the runtime spec (--annotation).
	Annotations map[string]string `json:"annotations,omitempty"`
	Init        bool              `json:"init,omitempty"`
	Restart     RestartPolicy     `json:"restart"`
	// Binds and Tmpfs are -v and --tmpfs as given, for inspect; Mounts
	// are all user mounts, parsed: -v, --mount, --tmpfs, image VOLUMEs.
	Binds   []string          `json:"binds,omitempty"`
	Tmpfs   map[string]string `json:"tmpfs,omitempty"`
	Mounts  []Mount           `json:"mounts,omitempty"`
	Devices []string          `json:"devices,omitempty"`
	// CDIDevices are devices named through the Container Device
	// Interface (--device vendor.com/class=name, --gpus), resolved when
	// the container starts against the specs in CDISpecDirs (none: the
	// default directories).
	CDIDevices  []string `json:"cdiDevices,omitempty"`
	CDISpecDirs []string `json:"cdiSpecDirs,omitempty"`
	// DeviceRequests are the requests the CDI devices came from, as
	// given (Docker's HostConfig.DeviceRequests), for inspect.
	DeviceRequests []DeviceRequest `json:"deviceRequests,omitempty"`
	Ulimits        []string        `json:"ulimits,omitempty"`
	// MaskedPaths and ReadonlyPaths replace Docker's defaults when set
	// (HostConfig's: a CRI container's security context sends them).
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// PidMode, IpcMode, UTSMode: "" (private), "host" or
	// "container:NAME"; NetworkMode takes those and network names.
	PidMode    string `json:"pidMode,omitempty"`
	IpcMode    string `json:"ipcMode,omitempty"`
	UTSMode    string `json:"utsMode,omitempty"`
	UsernsMode string `json:"usernsMode,omitempty"`
	// IDMap is the host ID range of --userns=auto: the container runs in
	// a user namespace of its own, its rootfs seen through idmapped mounts.
	IDMap *idmap.Range `json:"idMap,omitempty"`
	// Networks are the networks of a bridge-mode container, the first
	// being NetworkMode; Publish are -p as given, PublishAll is -P.
	Networks   []NetworkAttachment `json:"networks,omitempty"`
	Publish    []string            `json:"publish,omitempty"`
	PublishAll bool                `json:"publishAll,omitempty"`
	DNS        []string            `json:"dns,omitempty"`
	DNSSearch  []string            `json:"dnsSearch,omitempty"`
	DNSOptions []string            `json:"dnsOptions,omitempty"`
	ExtraHosts []string            `json:"extraHosts,omitempty"`
	// LogDriver is --log-driver: json-file (""), cri or none.
	LogDriver string `json:"logDriver,omitempty"`
	// LogPath is the cri driver's file (--log-opt path=, a pod's
	// container's LogPath); "" is the container's own.
	LogPath string `json:"logPath,omitempty"`
	// LogMaxSize and LogMaxFiles are --log-opt max-size and max-file
	// (0: the defaults, 10 MB x 3).
	LogMaxSize  int64 `json:"logMaxSize,omitempty"`
	LogMaxFiles int   `json:"logMaxFiles,omitempty"`
	// GroupAdd are more groups of the process (--group-add), numbers or
	// names of the container's /etc/group.
	GroupAdd []string `json:"groupAdd,omitempty"`
	// DeviceCgroupRules allow more devices: "c 7:128 rwm".
	DeviceCgroupRules []string `json:"deviceCgroupRules,omitempty"`
	// VolumesFrom are --volumes-from as given; their mounts are in
	// Mounts.
	VolumesFrom []string `json:"volumesFrom,omitempty"`
	// Runtime, Isolation and VolumeDriver are kept as given, for
	// inspect: berth has one runtime, no isolation technologies and the
	// local volume driver.
	Runtime      string `json:"runtime,omitempty"`
	Isolation    string `json:"isolation,omitempty"`
	VolumeDriver string `json:"volumeDriver,omitempty"`
	// Links are legacy links on the default bridge (--link), as
	// TARGET:ALIAS: the target's address and environment reach the
	// container as variables and /etc/hosts entries.
	Links []string `json:"links,omitempty"`
}

// NetworkAttachment is a container's wish for one network.
type NetworkAttachment struct {
	Name    string   `json:"name"`
	IP      string   `json:"ip,omitempty"`
	IP6     string   `json:"ip6,omitempty"` // on a network with IPv6
	Aliases []string `json:"aliases,omitempty"`
	// LinkLocalIPs are more addresses on the container's interface, on
	// no network's pool (Docker's --link-local-ip).
	LinkLocalIPs []string `json:"linkLocalIPs,omitempty"`
	// MAC is the container's address on the network; "" derives it from
	// the IP, as Docker does.
	MAC string `json:"mac,omitempty"`
	// Links are this network's links, TARGET:ALIAS: the container's
	// name server answers the alias with the target's address.
	Links []string `json:"links,omitempty"`
	// DriverOpts are the endpoint's driver options, kept for inspect: the
	// bridge driver takes none, as Docker's ignores what it does not know.
	DriverOpts map[string]string `json:"driverOpts,omitempty"`
	// GwPriority ranks the network for the default route (Docker's
	// gw-priority): the highest gives it.
	GwPriority int `json:"gwPriority,omitempty"`
}

// OwnNetworkNamespace reports whether the container gets a network
// namespace of its own that the engine wires to networks.
func (h Host) OwnNetworkNamespace() bool {
	m := h.NetworkMode
	return m != "none" && m != "host" && !strings.HasPrefix(m, "container:")
}

// Status values, as Docker names them.
const (
	Created = "created"
	Running = "running"
	Exited  = "exited"
)

// State is what the monitor records.
type State struct {
	Status     string `json:"status"`
	Pid        int    `json:"pid,omitempty"`
	MonitorPid int    `json:"monitorPid,omitempty"`
	// MonitorStart tells the monitor from a later process with its pid.
	MonitorStart uint64    `json:"monitorStart,omitempty"`
	ExitCode     int       `json:"exitCode"`
	OOMKilled    bool      `json:"oomKilled,omitempty"`
	Error        string    `json:"error,omitempty"`
	StartedAt    time.Time `json:"startedAt"`
	FinishedAt   time.Time `json:"finishedAt"`
	// RestartCount counts restarts by the restart policy.
	RestartCount int `json:"restartCount,omitempty"`
	// StopRequested is set by stop and kill: no restart after it.
	StopRequested bool `json:"stopRequested,omitempty"`
	// Paused is set while the engine has the container frozen.
	Paused bool `json:"paused,omitempty"`
	// PausedBy is the process that froze the container for a moment (a
	// commit), with its start time; none for a user's pause. A frozen
	// container whose pauser is gone is thawed by the next reader.
	PausedBy      int    `json:"pausedBy,omitempty"`
	PausedByStart uint64 `json:"pausedByStart,omitempty"`
	// Health is the probes' verdict, for a container with a
	// healthcheck.
	Health *Health `json:"health,omitempty"`
}

// NotStarted is the status of a container whose start failed: created
// when it never ran, as Docker shows it (its exit code and error say
// why), else exited.
func NotStarted(st State) string {
	if st.StartedAt.IsZero() {
		return Created
	}
	return Exited
}

// RestartPolicy is --restart: no, on-failure[:N], always, unless-stopped.
type RestartPolicy struct {
	Name       string `json:"name,omitempty"`
	MaxRetries int    `json:"maxRetries,omitempty"`
}

// ParseRestart reads --restart.
func ParseRestart(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no", "always", "unless-stopped":
		if hasN {
			return p, fmt.Errorf("--restart %q: only on-failure takes a retry count", s)
		}
	case "on-failure":
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("--restart %q: invalid retry count", s)
			}
			p.MaxRetries = v
		}
	default:
		return p, fmt.Errorf("--restart %q: want no, on-failure[:N], always or unless-stopped", s)
	}
	return p, nil
}

// ShouldRestart decides after an exit with code, restarts so far, and
// whether a user stopped the container.
func (p RestartPolicy) ShouldRestart(code, restarts int, stopped bool) bool {
	if stopped {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return code != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// Store keeps containers under <root>/containers/<id>.
type Store struct {
	Root string
}

// Dir is a container's directory.
func (s Store) Dir(id string) string { return filepath.Join(s.Root, "containers", id) }

func (s Store) path(id string) string { return filepath.Join(s.Dir(id), "container.json") }

func (s Store) statePath(id string) string { return filepath.Join(s.Dir(id), "state.json") }

// NewID makes a container ID: 64 hex digits, as Docker's.
func NewID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

var nameRE = regexp.MustCompile(`^/?[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// Errors callers test for.
var (
	ErrNotFound = errors.New("no such container")
	ErrNameUsed = errors.New("name is already in use")
)

// Create records a new container, claiming its name: of two concurrent
// creators of one name exactly one wins. The creator holds the
// container's lock from the directory's making to container.json's
// writing, so that what a killed creator leaves (a directory without
// container.json, a name that points at it) is told from a creation
// under way, and collected (see collect).
func (s Store) Create(c *Container) error {
	if c.Name == "" {
		c.Name = randomName(c.ID)
	}
	c.Name = strings.TrimPrefix(c.Name, "/")
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", c.Name)
	}
	if err := os.MkdirAll(s.Dir(c.ID), 0o700); err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	unlock, err := s.Lock(c.ID)
	if err != nil {
		_ = os.RemoveAll(s.Dir(c.ID)) // empty: the lock's error is returned
		return err
	}
	defer unlock()
	if err := s.ClaimName(c); err != nil {
		_ = os.RemoveAll(s.Dir(c.ID)) // as above
		return err
	}
	trace.Phase("cli", "name claimed")
	c.State.Status = Created
	if err := s.save(c, true); err != nil {
		_ = os.Remove(filepath.Join(s.Root, "containers", "names", c.Name)) // a name link that is not there is already released
		_ = os.RemoveAll(s.Dir(c.ID))                                       // the half-made record of a create that failed; its error is returned
		return err
	}
	return nil
}

// ClaimName claims c.Name for c. The claim is a symlink: its creation
// is atomic and exclusive, so of concurrent claimers exactly one wins.
// A name held by a dead creator's leftovers is taken over.
func (s Store) ClaimName(c *Container) error {
	c.Name = strings.TrimPrefix(c.Name, "/")
	if !nameRE.MatchString(c.Name) {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", c.Name)
	}
	names := filepath.Join(s.Root, "containers", "names")
	if err := os.MkdirAll(names, 0o700); err != nil {
		return fmt.Errorf("claim name %s: %w", c.Name, err)
	}
	link := filepath.Join(names, c.Name)
	for try := 0; ; try++ {
		err := os.Symlink(c.ID, link)
		if err == nil {
			return nil
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("claim name %s: %w", c.Name, err)
		}
		owner, _ := os.Readlink(link)
		if try == 0 && owner != "" && owner != c.ID && s.collect(owner) {
			_ = os.Remove(link) // the dead owner's; a racing claimer may win the retry
			continue
		}
		return fmt.Errorf("conflict: the container name %q is already in use by container %s: %w", c.Name, short(owner), ErrNameUsed)
	}
}

// collectGrace covers a creator between its mkdir and its lock file.
const collectGrace = 2 * time.Second

// collect removes what a dead creator left of container id (a
// directory without container.json) and reports whether id is gone:
// no directory at all, or one whose lock nobody holds. A creation under
// way holds the container's lock, and a recorded container is never
// taken. (A creator between opening its lock file and locking it, a
// window of a system call, would see its create fail, with nothing
// left: the save into the removed directory fails.)
func (s Store) collect(id string) bool {
	dir := s.Dir(id)
	fi, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	if err != nil {
		return false
	}
	if _, err := os.Stat(s.path(id)); !errors.Is(err, os.ErrNotExist) {
		return false
	}
	lock := filepath.Join(dir, ".lock")
	if _, err := os.Stat(lock); err != nil && time.Since(fi.ModTime()) < collectGrace {
		return false // made a moment ago, and not yet locked
	}
	release, ok, err := state.TryFlock(lock)
	if err != nil || !ok {
		return false
	}
	defer release()
	if _, err := os.Stat(s.path(id)); !errors.Is(err, os.ErrNotExist) {
		return false // recorded between the look and the lock
	}
	return os.RemoveAll(dir) == nil
}

// collectNames removes the names whose container is gone.
func (s Store) collectNames() {
	names := filepath.Join(s.Root, "containers", "names")
	ents, err := os.ReadDir(names)
	if err != nil {
		return
	}
	for _, e := range ents {
		link := filepath.Join(names, e.Name())
		if id, err := os.Readlink(link); err == nil {
			if _, err := os.Stat(s.Dir(id)); errors.Is(err, os.ErrNotExist) {
				_ = os.Remove(link) // a dead creator's name; another sweep retries
			}
		}
	}
}

// ReleaseName gives a name up.
func (s Store) ReleaseName(name string) {
	_ = os.Remove(filepath.Join(s.Root, "containers", "names", name)) // a name link that is not there is already released
}

func short(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Save writes c atomically: its state always, to state.json, without
// waiting for the disk, since run state (running, exited, pids) is lost
// with the processes at a crash anyway and the next command recomputes
// it; the rest, to container.json, only when it changed (a rename), and
// durably. Readers see the old file or the new one, never a part.
func (s Store) Save(c *Container) error { return s.save(c, false) }

// save writes c's state and, if it changed or fresh is set, the rest. The
// rest is durable so that a crash does not lose the container, except
// with --rm: such a container ends with its command, and data that never
// reached the disk costs nothing to delete.
func (s Store) save(c *Container, fresh bool) error {
	st, err := json.Marshal(c.State)
	if err != nil {
		return fmt.Errorf("save container %s: %w", short(c.ID), err)
	}
	if err := state.WriteFileVolatile(s.statePath(c.ID), st, 0o600); err != nil {
		return err
	}
	rest := *c
	rest.State = State{}
	b, err := json.MarshalIndent(rest, "", "  ")
	if err != nil {
		return fmt.Errorf("save container %s: %w", short(c.ID), err)
	}
	if !fresh {
		if old, err := os.ReadFile(s.path(c.ID)); err == nil && string(old) == string(b) {
			return nil
		}
	}
	if c.Host.AutoRemove {
		return state.WriteFileVolatile(s.path(c.ID), b, 0o600)
	}
	return state.WriteFileAtomic(s.path(c.ID), b, 0o600)
}

// Load reads container id.
func (s Store) Load(id string) (*Container, error) {
	b, err := os.ReadFile(s.path(id))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return nil, err
	}
	var c Container
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("container %s: %w", short(id), err)
	}
	switch st, err := os.ReadFile(s.statePath(id)); {
	case err == nil && json.Unmarshal(st, &c.State) == nil:
	case c.State.Status == "":
		// Lost in a crash (it is written without waiting for the disk):
		// what ran is gone, and how it ended is unknown.
		c.State = State{Status: Exited, ExitCode: 255, Error: "run state lost"}
	}
	return &c, nil
}

// Lock serialises commands on one container.
func (s Store) Lock(id string) (func(), error) {
	return state.Flock(filepath.Join(s.Dir(id), ".lock"))
}

// Update loads, changes and saves a container under its lock.
func (s Store) Update(id string, fn func(*Container) error) (*Container, error) {
	unlock, err := s.Lock(id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	c, err := s.Load(id)
	if err != nil {
		return nil, err
	}
	if err := fn(c); err != nil {
		return c, err
	}
	return c, s.Save(c)
}

// List returns all containers, newest first.
func (s Store) List() ([]*Container, error) {
	ents, err := os.ReadDir(filepath.Join(s.Root, "containers"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []*Container
	collected := false
	for _, e := range ents {
		if e.Name() == "names" || !e.IsDir() {
			continue
		}
		c, err := s.Load(e.Name())
		switch {
		case err == nil:
			out = append(out, c)
		case errors.Is(err, ErrNotFound):
			collected = s.collect(e.Name()) || collected
		}
	}
	if collected {
		s.collectNames()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Find resolves a name, a full ID or an unambiguous ID prefix.
func (s Store) Find(ref string) (*Container, error) {
	link := filepath.Join(s.Root, "containers", "names", strings.TrimPrefix(ref, "/"))
	if target, err := os.Readlink(link); err == nil {
		c, err := s.Load(target)
		if errors.Is(err, ErrNotFound) && s.collect(target) {
			_ = os.Remove(link) // a dead creator's name, free now; another sweep retries
		}
		return c, err
	}
	all, err := s.List()
	if err != nil {
		return nil, err
	}
	var hit *Container
	for _, c := range all {
		if strings.HasPrefix(c.ID, ref) && ref != "" {
			if hit != nil {
				return nil, fmt.Errorf("container ID prefix %q is ambiguous", ref)
			}
			hit = c
		}
	}
	if hit == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return hit, nil
}

// LogPath is c's log file: the one its driver was given, or its own.
func (s Store) LogPath(c *Container) string {
	if c.Host.LogPath != "" {
		return c.Host.LogPath
	}
	return filepath.Join(s.Dir(c.ID), "container.log")
}

// Remove deletes a container's record and releases its name.
func (s Store) Remove(c *Container) error {
	// The record goes first: a remover killed after it leaves a
	// directory without container.json, which the next List or Find
	// collects with its name (see collect).
	if err := os.Remove(s.path(c.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	trace.Phase("cli", "record removed")
	_ = os.Remove(filepath.Join(s.Root, "containers", "names", c.Name)) // a name link that is not there is already released
	if err := os.RemoveAll(s.Dir(c.ID)); err != nil {
		return fmt.Errorf("remove container %s: %w", short(c.ID), err)
	}
	return nil
}

var (
	adjectives = []string{"brave", "calm", "eager", "fond", "keen", "lucid", "merry", "nimble", "quiet", "swift", "tender", "witty"}
	nouns      = []string{"albatross", "barge", "cutter", "dinghy", "ferry", "galleon", "harbor", "jetty", "ketch", "lighthouse", "mooring", "schooner"}
)

// randomName is Docker's adjective_noun, drawn from the ID.
func randomName(id string) string {
	b, _ := hex.DecodeString(id[:4])
	return adjectives[int(b[0])%len(adjectives)] + "_" + nouns[int(b[1])%len(nouns)] + "_" + id[4:8]
}

// DeviceRequest is a request for devices of a driver, as Docker's
// (--gpus, or CDI names through driver "cdi").
type DeviceRequest struct {
	Driver       string            `json:"driver,omitempty"`
	Count        int               `json:"count,omitempty"`
	DeviceIDs    []string          `json:"deviceIDs,omitempty"`
	Capabilities [][]string        `json:"capabilities,omitempty"`
	Options      map[string]string `json:"options,omitempty"`
}
