package engine

import (
	"time"

	"github.com/berth-project/berth/internal/container"
)

// Inspect is `inspect` of a container, in Docker's shape.
type Inspect struct {
	ID              string `json:"Id"`
	Created         string
	Path            string
	Args            []string
	State           InspectState
	Image           string
	Name            string
	LogPath         string
	RestartCount    int
	Driver          string
	HostConfig      InspectHost
	Config          InspectConfig
	Mounts          []InspectMount
	NetworkSettings map[string]any
}

// InspectMount is one of Docker's Mounts.
type InspectMount struct {
	Type        string
	Name        string `json:",omitempty"`
	Source      string
	Destination string
	Driver      string `json:",omitempty"`
	Mode        string
	RW          bool
	Propagation string
}

// InspectState is Docker's State.
type InspectState struct {
	Status                                       string
	Running, Paused, Restarting, OOMKilled, Dead bool
	Pid, ExitCode                                int
	Error                                        string
	StartedAt, FinishedAt                        string
}

// InspectRestart is Docker's HostConfig.RestartPolicy.
type InspectRestart struct {
	Name              string
	MaximumRetryCount int
}

// InspectHost is the part of Docker's HostConfig berth has.
type InspectHost struct {
	RestartPolicy   InspectRestart
	Binds           []string
	Tmpfs           map[string]string
	AutoRemove      bool
	ReadonlyRootfs  bool
	Privileged      bool
	CapAdd          []string
	CapDrop         []string
	SecurityOpt     []string
	NetworkMode     string
	Memory          int64
	NanoCpus        int64
	PidsLimit       int64
	MemorySwap      int64
	CpuShares       uint64
	CpusetCpus      string
	Devices         []string
	Ulimits         []string
	PidMode         string
	IpcMode         string
	UTSMode         string
	UsernsMode      string
	Init            bool
	PortBindings    []string
	PublishAllPorts bool
	Dns             []string
	DnsSearch       []string
	DnsOptions      []string
	ExtraHosts      []string
}

// InspectConfig is Docker's Config.
type InspectConfig struct {
	Hostname     string
	User         string
	Env          []string
	Cmd          []string
	Entrypoint   []string
	WorkingDir   string
	Labels       map[string]string
	Image        string
	Tty          bool
	StopSignal   string              `json:",omitempty"`
	ExposedPorts map[string]struct{} `json:",omitempty"`
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// Inspect describes a container as Docker's inspect does.
func (e *Engine) Inspect(c *container.Container) Inspect {
	args := append(append([]string(nil), c.Config.Entrypoint...), c.Config.Cmd...)
	out := Inspect{
		ID: c.ID, Created: stamp(c.Created), Image: c.Image, Name: "/" + c.Name, LogPath: e.LogPath(c), Driver: "overlay",
		State: InspectState{Status: c.State.Status, Running: c.State.Status == container.Running, OOMKilled: c.State.OOMKilled,
			Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error, StartedAt: stamp(c.State.StartedAt), FinishedAt: stamp(c.State.FinishedAt)},
		RestartCount: c.State.RestartCount,
		HostConfig: InspectHost{RestartPolicy: InspectRestart{Name: c.Host.Restart.Name, MaximumRetryCount: c.Host.Restart.MaxRetries}, AutoRemove: c.Host.AutoRemove, ReadonlyRootfs: c.Host.ReadonlyRootfs, Privileged: c.Host.Privileged,
			CapAdd: c.Host.CapAdd, CapDrop: c.Host.CapDrop, SecurityOpt: c.Host.SecurityOpt, NetworkMode: c.Host.NetworkMode,
			Memory: c.Host.Memory, NanoCpus: c.Host.NanoCPUs, PidsLimit: c.Host.PidsLimit, MemorySwap: c.Host.MemorySwap, CpuShares: c.Host.CPUShares, CpusetCpus: c.Host.CpusetCpus, Binds: c.Host.Binds, Tmpfs: c.Host.Tmpfs,
			Devices: c.Host.Devices, Ulimits: c.Host.Ulimits, PidMode: c.Host.PidMode, IpcMode: c.Host.IpcMode, UTSMode: c.Host.UTSMode,
			UsernsMode: c.Host.UsernsMode, Init: c.Host.Init, PortBindings: c.Host.Publish, PublishAllPorts: c.Host.PublishAll,
			Dns: c.Host.DNS, DnsSearch: c.Host.DNSSearch, DnsOptions: c.Host.DNSOptions, ExtraHosts: c.Host.ExtraHosts},
		Config: InspectConfig{Hostname: c.Config.Hostname, User: c.Config.User, Env: c.Config.Env, Cmd: c.Config.Cmd,
			Entrypoint: c.Config.Entrypoint, WorkingDir: c.Config.WorkingDir, Labels: c.Config.Labels, Image: c.ImageName,
			Tty: c.Config.Tty, StopSignal: c.Config.StopSignal, ExposedPorts: c.Config.ExposedPorts},
		Mounts: []InspectMount{}, NetworkSettings: e.networkSettings(c),
	}
	for _, m := range c.Host.Mounts {
		im := InspectMount{Type: m.Type, Source: m.Source, Destination: m.Target, RW: !m.ReadOnly, Propagation: "rprivate"}
		if m.ReadOnly {
			im.Mode = "ro"
		}
		if m.Type == "volume" {
			im.Name, im.Driver, im.Propagation = m.Source, "local", ""
			if v, err := e.Volumes.Get(m.Source); err == nil {
				im.Source = v.Mountpoint
			}
		}
		if m.Type == "tmpfs" {
			im.Propagation = ""
		}
		out.Mounts = append(out.Mounts, im)
	}
	if len(args) > 0 {
		out.Path, out.Args = args[0], args[1:]
	}
	return out
}
