package engine

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/blkiodev"
	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynetwork "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/storage"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/network"
)

// ContainerJSON is inspect of a container: Docker's InspectResponse,
// with the network fields that API 1.51 and older still carry at the top
// of NetworkSettings (the first network's), which templates such as
// {{.NetworkSettings.IPAddress}} read.
type ContainerJSON struct {
	mobycontainer.InspectResponse
	NetworkSettings *NetworkSettings
}

// NetworkSettings is Docker's NetworkSettings with its legacy fields.
type NetworkSettings struct {
	mobycontainer.NetworkSettings
	Bridge                 string
	HairpinMode            bool
	LinkLocalIPv6Address   string
	LinkLocalIPv6PrefixLen int
	SecondaryIPAddresses   []string
	SecondaryIPv6Addresses []string
	EndpointID             string
	Gateway                string
	GlobalIPv6Address      string
	GlobalIPv6PrefixLen    int
	IPAddress              string
	IPPrefixLen            int
	IPv6Gateway            string
	MacAddress             string
}

// stamp writes a time as Docker's inspect does; the zero time is
// Docker's 0001-01-01T00:00:00Z.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

// ContainerInspect describes a container as Docker's inspect does.
func (e *Engine) ContainerInspect(ref string) (*ContainerJSON, error) {
	c, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	return e.inspect(c), nil
}

// ContainerSize is the size of a container's writable layer, and with
// its image's (inspect -s, the API's size=1).
func (e *Engine) ContainerSize(ref string) (rw, rootfs int64, err error) {
	c, err := e.get(ref)
	if err != nil {
		return 0, 0, err
	}
	rw, rootfs = e.sizes(c)
	return rw, rootfs, nil
}

// sizes are a container's writable layer's size and, with its image's,
// its root filesystem's.
func (e *Engine) sizes(c *container.Container) (rw, rootfs int64) {
	rw = e.rwSize(c)
	rootfs = rw
	if img, err := e.images.Get(c.Image); err == nil {
		rootfs += e.images.Size(img)
	}
	return rw, rootfs
}

func (e *Engine) inspect(c *container.Container) *ContainerJSON {
	dir := e.containers.Dir(c.ID)
	out := &ContainerJSON{InspectResponse: mobycontainer.InspectResponse{
		ID: c.ID, Created: stamp(c.Created), Image: c.Image, Name: "/" + c.Name, LogPath: e.logPath(c), Driver: "overlay",
		Platform: "linux", RestartCount: c.State.RestartCount, ExecIDs: nil,
		State:          stateOf(c),
		HostConfig:     hostConfigOf(c),
		Config:         configOf(c),
		Mounts:         e.mountPoints(c),
		ResolvConfPath: dir + "/etc/resolv.conf", HostnamePath: dir + "/etc/hostname", HostsPath: dir + "/etc/hosts",
		GraphDriver: &storage.DriverData{Name: "overlay", Data: map[string]string{
			"UpperDir": dir + "/upper", "WorkDir": dir + "/work", "MergedDir": dir + "/merged"}},
	}}
	if args := c.Config.Args(); len(args) > 0 {
		out.Path, out.Args = args[0], args[1:]
	} else {
		out.Args = []string{}
	}
	out.NetworkSettings = e.networkSettings(c)
	return out
}

// stateOf is Docker's State of a container, with its status string.
func stateOf(c *container.Container) *mobycontainer.State {
	st := &mobycontainer.State{
		Status:  statusOf(c),
		Running: c.State.Status == container.Running, Paused: c.State.Paused, OOMKilled: c.State.OOMKilled,
		Pid: c.State.Pid, ExitCode: c.State.ExitCode, Error: c.State.Error,
		StartedAt: stamp(c.State.StartedAt), FinishedAt: stamp(c.State.FinishedAt),
	}
	st.Restarting = st.Status == mobycontainer.StateRestarting
	if h := c.State.Health; h != nil {
		st.Health = &mobycontainer.Health{Status: mobycontainer.HealthStatus(h.Status), FailingStreak: h.FailingStreak,
			Log: make([]*mobycontainer.HealthcheckResult, 0, len(h.Log))}
		for _, r := range h.Log {
			st.Health.Log = append(st.Health.Log, &mobycontainer.HealthcheckResult{Start: r.Start, End: r.End, ExitCode: r.ExitCode, Output: r.Output})
		}
	}
	return st
}

// statusOf is Docker's one-word state: created, running, paused,
// restarting (between a restart policy's attempts) or exited.
func statusOf(c *container.Container) mobycontainer.ContainerState {
	switch {
	case c.State.Status == container.Running && c.State.Paused:
		return mobycontainer.StatePaused
	case c.State.Status == container.Running:
		return mobycontainer.StateRunning
	case c.State.Status == container.Exited && monitorAlive(c):
		return mobycontainer.StateRestarting
	case c.State.Status == container.Exited:
		return mobycontainer.StateExited
	}
	return mobycontainer.StateCreated
}

func configOf(c *container.Container) *mobycontainer.Config {
	cfg := c.Config
	out := &mobycontainer.Config{
		Hostname: cfg.Hostname, Domainname: cfg.Domainname, User: cfg.User, Env: orEmpty(cfg.Env), Cmd: cfg.Cmd,
		Entrypoint: cfg.Entrypoint, WorkingDir: cfg.WorkingDir, Labels: cfg.Labels, Image: c.ImageName, Tty: cfg.Tty,
		OpenStdin: cfg.OpenStdin, StdinOnce: cfg.StdinOnce, AttachStdin: cfg.OpenStdin && cfg.StdinOnce,
		AttachStdout: cfg.StdinOnce, AttachStderr: cfg.StdinOnce, StopSignal: cfg.StopSignal, StopTimeout: cfg.StopTimeout,
		Shell: cfg.Shell,
	}
	if h := cfg.Healthcheck; h != nil {
		out.Healthcheck = &mobycontainer.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}
	}
	if out.Labels == nil {
		out.Labels = map[string]string{}
	}
	if len(cfg.ExposedPorts) > 0 {
		out.ExposedPorts = mobynetwork.PortSet{}
		for k := range cfg.ExposedPorts {
			if p, err := mobynetwork.ParsePort(k); err == nil {
				out.ExposedPorts[p] = struct{}{}
			}
		}
	}
	for _, m := range c.Host.Mounts {
		if m.Type == "volume" && m.Anonymous {
			if out.Volumes == nil {
				out.Volumes = map[string]struct{}{}
			}
			out.Volumes[m.Target] = struct{}{}
		}
	}
	return out
}

func orDefaultInt(v, def int64) int64 {
	if v == 0 {
		return def
	}
	return v
}

func orEmpty(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// hostConfigOf is Docker's HostConfig of a container.
func hostConfigOf(c *container.Container) *mobycontainer.HostConfig {
	h := c.Host
	hc := &mobycontainer.HostConfig{
		Binds: h.Binds, NetworkMode: mobycontainer.NetworkMode(h.NetworkMode), AutoRemove: h.AutoRemove,
		RestartPolicy: mobycontainer.RestartPolicy{Name: mobycontainer.RestartPolicyMode(orDefault(h.Restart.Name, "no")), MaximumRetryCount: h.Restart.MaxRetries},
		LogConfig:     mobycontainer.LogConfig{Type: orDefault(h.LogDriver, "json-file"), Config: map[string]string{}},
		CapAdd:        h.CapAdd, CapDrop: h.CapDrop, DNSOptions: orEmpty(h.DNSOptions), DNSSearch: orEmpty(h.DNSSearch),
		ExtraHosts: h.ExtraHosts, IpcMode: mobycontainer.IpcMode(orDefault(h.IpcMode, "private")),
		PidMode: mobycontainer.PidMode(h.PidMode), UTSMode: mobycontainer.UTSMode(h.UTSMode), UsernsMode: mobycontainer.UsernsMode(h.UsernsMode),
		Privileged: h.Privileged, PublishAllPorts: h.PublishAll, ReadonlyRootfs: h.ReadonlyRootfs, SecurityOpt: h.SecurityOpt,
		Tmpfs: h.Tmpfs, CgroupnsMode: mobycontainer.CgroupnsMode(orDefault(h.CgroupnsMode, string(mobycontainer.CgroupnsModePrivate))),
		Isolation: mobycontainer.Isolation(h.Isolation), ShmSize: orDefaultInt(h.ShmSize, 64<<20), StorageOpt: storageOpt(h.StorageSize), Sysctls: h.Sysctls, OomScoreAdj: h.OomScoreAdj,
		Annotations: h.Annotations,
		GroupAdd:    h.GroupAdd, VolumesFrom: h.VolumesFrom, Runtime: orDefault(h.Runtime, "runc"), VolumeDriver: h.VolumeDriver,
		Links:       inspectLinks(c.Name, h.Links),
		ConsoleSize: [2]uint{0, 0}, PortBindings: mobynetwork.PortMap{},
		MaskedPaths: container.MaskedPaths(h.Privileged), ReadonlyPaths: container.ReadonlyPaths(h.Privileged),
		Resources: mobycontainer.Resources{
			Memory: h.Memory, MemorySwap: h.MemorySwap, NanoCPUs: h.NanoCPUs, CPUShares: int64(h.CPUShares), CpusetCpus: h.CpusetCpus,
			CPUPeriod: h.CPUPeriod, CPUQuota: h.CPUQuota, CpusetMems: h.CpusetMems, MemoryReservation: h.MemoryReservation,
			BlkioWeight: h.BlkioWeight, OomKillDisable: &h.OomKillDisable,
			CPURealtimePeriod: int64(h.CPURealtimePeriod), CPURealtimeRuntime: h.CPURealtimeRuntime, CgroupParent: h.CgroupParent,
			BlkioWeightDevice: []*blkiodev.WeightDevice{}, BlkioDeviceReadBps: []*blkiodev.ThrottleDevice{}, BlkioDeviceWriteBps: []*blkiodev.ThrottleDevice{},
			BlkioDeviceReadIOps: []*blkiodev.ThrottleDevice{}, BlkioDeviceWriteIOps: []*blkiodev.ThrottleDevice{}, Devices: []mobycontainer.DeviceMapping{},
			DeviceCgroupRules: h.DeviceCgroupRules, Ulimits: []*units.Ulimit{},
		},
	}
	if h.Init {
		t := true
		hc.Init = &t
	}
	for kind, entries := range h.BlkioDevices {
		for _, e := range entries {
			i := strings.LastIndexByte(e, ':')
			n, err := strconv.ParseUint(e[i+1:], 10, 64)
			if i < 0 || err != nil {
				continue // create wrote PATH:NUMBER
			}
			t := &blkiodev.ThrottleDevice{Path: e[:i], Rate: n}
			switch kind {
			case "weight":
				hc.BlkioWeightDevice = append(hc.BlkioWeightDevice, &blkiodev.WeightDevice{Path: e[:i], Weight: uint16(n)})
			case "read-bps":
				hc.BlkioDeviceReadBps = append(hc.BlkioDeviceReadBps, t)
			case "write-bps":
				hc.BlkioDeviceWriteBps = append(hc.BlkioDeviceWriteBps, t)
			case "read-iops":
				hc.BlkioDeviceReadIOps = append(hc.BlkioDeviceReadIOps, t)
			case "write-iops":
				hc.BlkioDeviceWriteIOps = append(hc.BlkioDeviceWriteIOps, t)
			}
		}
	}
	if s := h.MemorySwappiness; s != nil {
		v := int64(*s)
		hc.MemorySwappiness = &v
	}
	if h.PidsLimit != 0 {
		n := h.PidsLimit
		hc.PidsLimit = &n
	}
	if h.LogMaxSize > 0 {
		hc.LogConfig.Config["max-size"] = strconv.FormatInt(h.LogMaxSize, 10)
	}
	if h.LogMaxFiles > 0 {
		hc.LogConfig.Config["max-file"] = strconv.Itoa(h.LogMaxFiles)
	}
	for _, d := range h.DNS {
		if a, err := netip.ParseAddr(d); err == nil {
			hc.DNS = append(hc.DNS, a)
		}
	}
	if hc.DNS == nil {
		hc.DNS = []netip.Addr{}
	}
	for _, d := range h.Devices {
		if host, ctr, perms, err := container.ParseDevice(d); err == nil {
			hc.Devices = append(hc.Devices, mobycontainer.DeviceMapping{PathOnHost: host, PathInContainer: ctr, CgroupPermissions: perms})
		}
	}
	hc.DeviceRequests = deviceRequestsFor(h)
	for _, u := range h.Ulimits {
		if l, err := units.ParseUlimit(u); err == nil {
			hc.Ulimits = append(hc.Ulimits, l)
		}
	}
	for _, p := range h.Publish {
		specs, err := network.ParsePublish(p)
		if err != nil {
			continue // create validated it; a record from an older berth may not parse
		}
		for _, ps := range specs {
			k, err := mobynetwork.ParsePort(strconv.Itoa(int(ps.ContainerPort)) + "/" + ps.Proto)
			if err != nil {
				continue
			}
			b := mobynetwork.PortBinding{HostIP: ps.HostIP}
			if ps.HostPort != 0 {
				b.HostPort = strconv.Itoa(int(ps.HostPort))
			}
			hc.PortBindings[k] = append(hc.PortBindings[k], b)
		}
	}
	for _, m := range h.Mounts {
		if m.Type == "tmpfs" && h.Tmpfs[m.Target] != "" || m.Type == "bind" && containsBind(h.Binds, m.Target) {
			continue // given as --tmpfs or -v: in Tmpfs and Binds already
		}
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.Type(m.Type), Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly})
	}
	return hc
}

func containsBind(binds []string, target string) bool {
	for _, b := range binds {
		if parts := strings.Split(b, ":"); len(parts) >= 2 && parts[1] == target {
			return true
		}
	}
	return false
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// mountPoints are inspect's Mounts: binds, volumes and tmpfs.
func (e *Engine) mountPoints(c *container.Container) []mobycontainer.MountPoint {
	out := []mobycontainer.MountPoint{}
	for _, m := range c.Host.Mounts {
		mp := mobycontainer.MountPoint{Type: mount.Type(m.Type), Source: m.Source, Destination: m.Target, RW: !m.ReadOnly,
			Propagation: mount.Propagation(orDefault(m.Propagation, string(mount.PropagationRPrivate)))}
		if m.ReadOnly {
			mp.Mode = "ro"
		}
		switch m.Type {
		case "volume":
			mp.Name, mp.Driver, mp.Propagation, mp.Mode = m.Source, "local", "", "z"
			if v, err := e.volumes.Get(m.Source); err == nil {
				mp.Source = v.Mountpoint
			}
		case "tmpfs":
			mp.Propagation, mp.Source = "", ""
		}
		out = append(out, mp)
	}
	return out
}

// inspectLinks are a container's legacy links as inspect writes them:
// /TARGET:/NAME/ALIAS.
func inspectLinks(name string, links []string) []string {
	var out []string
	for _, l := range links {
		target, alias, _ := strings.Cut(l, ":")
		out = append(out, "/"+target+":/"+name+"/"+alias)
	}
	return out
}

// ipamConfigOf is an endpoint's IPAMConfig: the addresses asked for,
// nil when none were.
func ipamConfigOf(a container.NetworkAttachment) *mobynetwork.EndpointIPAMConfig {
	var cfg mobynetwork.EndpointIPAMConfig
	if ip, err := netip.ParseAddr(a.IP); err == nil {
		cfg.IPv4Address = ip
	}
	if ip, err := netip.ParseAddr(a.IP6); err == nil {
		cfg.IPv6Address = ip
	}
	for _, s := range a.LinkLocalIPs {
		if ip, err := netip.ParseAddr(s); err == nil { // create checked them
			cfg.LinkLocalIPs = append(cfg.LinkLocalIPs, ip)
		}
	}
	if !cfg.IPv4Address.IsValid() && !cfg.IPv6Address.IsValid() && len(cfg.LinkLocalIPs) == 0 {
		return nil
	}
	return &cfg
}

// networkSettings is inspect's NetworkSettings: the endpoints of a
// running container, the first network's at the top, as API 1.51 has.
func (e *Engine) networkSettings(c *container.Container) *NetworkSettings {
	ns := &NetworkSettings{NetworkSettings: mobycontainer.NetworkSettings{
		Ports: mobynetwork.PortMap{}, Networks: map[string]*mobynetwork.EndpointSettings{}}}
	if c.State.Status != container.Running {
		for _, a := range c.Host.Networks {
			es := &mobynetwork.EndpointSettings{Aliases: a.Aliases, IPAMConfig: ipamConfigOf(a), Links: a.Links, DriverOpts: a.DriverOpts, GwPriority: a.GwPriority}
			if hw, err := net.ParseMAC(a.MAC); err == nil {
				es.MacAddress = mobynetwork.HardwareAddr(hw)
			}
			ns.Networks[a.Name] = es
		}
		return ns
	}
	ns.SandboxKey = "/proc/" + strconv.Itoa(c.State.Pid) + "/ns/net"
	for i, ep := range e.networks.EndpointsOf(c.ID) {
		es := &mobynetwork.EndpointSettings{NetworkID: ep.NetworkID, EndpointID: ep.HostVeth, Gateway: ep.Gateway,
			IPAddress: ep.Addr.Addr(), IPPrefixLen: ep.Addr.Bits(), Aliases: ep.Aliases, DNSNames: append([]string{c.Name}, ep.Aliases...),
			GwPriority: ep.GwPriority, IPv6Gateway: ep.Gateway6}
		if ep.Addr6.IsValid() {
			es.GlobalIPv6Address, es.GlobalIPv6PrefixLen = ep.Addr6.Addr(), ep.Addr6.Bits()
		}
		if hw, err := net.ParseMAC(ep.MAC); err == nil {
			es.MacAddress = mobynetwork.HardwareAddr(hw)
		}
		if i := slices.IndexFunc(c.Host.Networks, func(a container.NetworkAttachment) bool { return a.Name == ep.Network }); i >= 0 {
			a := c.Host.Networks[i]
			es.IPAMConfig, es.Links, es.DriverOpts = ipamConfigOf(a), a.Links, a.DriverOpts
		}
		ns.Networks[ep.Network] = es
		if i == 0 {
			ns.IPAddress, ns.IPPrefixLen, ns.Gateway, ns.MacAddress, ns.EndpointID = ep.Addr.Addr().String(), ep.Addr.Bits(), ep.Gateway.String(), ep.MAC, ep.HostVeth
			if ep.Addr6.IsValid() {
				ns.GlobalIPv6Address, ns.GlobalIPv6PrefixLen, ns.IPv6Gateway = ep.Addr6.Addr().String(), ep.Addr6.Bits(), ep.Gateway6.String()
			}
		}
		for _, p := range ep.Ports {
			k, err := mobynetwork.ParsePort(strconv.Itoa(int(p.ContainerPort)) + "/" + p.Proto)
			if err != nil {
				continue
			}
			host := p.HostIP
			if !host.IsValid() {
				host = netip.IPv4Unspecified()
			}
			ns.Ports[k] = append(ns.Ports[k], mobynetwork.PortBinding{HostIP: host, HostPort: strconv.Itoa(int(p.HostPort))})
		}
	}
	return ns
}

// storageOpt is --storage-opt as inspect shows it; nil without one.
func storageOpt(size int64) map[string]string {
	if size == 0 {
		return nil
	}
	return map[string]string{"size": strconv.FormatInt(size, 10)}
}

// rwSize is the size of what the container wrote; 0 when it cannot be
// read.
func (e *Engine) rwSize(c *container.Container) int64 {
	upper, done, err := e.upperFor(c)
	if err != nil {
		return 0
	}
	defer done()
	return dirSize(upper)
}
