package engine

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/format"
	"github.com/berth-project/berth/internal/network"
)

// ListOptions are ps'.
type ListOptions struct {
	// All lists every container; else the running ones (a status or
	// exited filter implies All).
	All     bool
	Filters Filters
	// Limit, above 0, lists only that many containers, the newest, of
	// any status (ps -n, -l).
	Limit int
	// Size fills SizeRw and SizeRootFs (ps -s): it reads every file of
	// each container's writable layer.
	Size bool
}

// The ps filters Docker knows.
var psFilters = []string{"id", "name", "label", "label!", "status", "exited", "ancestor", "before", "since",
	"network", "volume", "publish", "expose", "health", "is-task"}

// ContainerList lists containers, newest first, as Docker's ps does.
func (e *Engine) ContainerList(o ListOptions) ([]mobycontainer.Summary, error) {
	f := o.Filters
	if err := f.check(psFilters...); err != nil {
		return nil, err
	}
	for _, s := range f["status"] {
		if !slices.Contains([]string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}, s) {
			return nil, invalid(fmt.Errorf("invalid filter 'status=%s'", s))
		}
	}
	for _, s := range f["health"] {
		if !slices.Contains([]string{"starting", "healthy", "unhealthy", "none"}, s) {
			return nil, invalid(fmt.Errorf("invalid filter 'health=%s'", s))
		}
	}
	var exited []int
	for _, s := range f["exited"] {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, invalid(fmt.Errorf("invalid filter 'exited=%s'", s))
		}
		exited = append(exited, n)
	}
	var names []*regexp.Regexp
	for _, s := range f["name"] {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, invalid(fmt.Errorf("invalid filter 'name=%s': %v", s, err))
		}
		names = append(names, re)
	}
	all, err := e.list()
	if err != nil {
		return nil, err
	}
	before, err := e.boundary(all, f["before"], "before")
	if err != nil {
		return nil, err
	}
	since, err := e.boundary(all, f["since"], "since")
	if err != nil {
		return nil, err
	}
	var ancestors []string
	for _, a := range f["ancestor"] {
		if img, err := e.images.Get(a); err == nil {
			ancestors = append(ancestors, img.ID.String())
		}
		ancestors = append(ancestors, a)
	}
	showAll := o.All || o.Limit > 0 || len(f["status"]) > 0 || len(exited) > 0
	now := time.Now()
	out := []mobycontainer.Summary{}
	for _, c := range all {
		s := e.summary(c, now)
		if !showAll && s.State != mobycontainer.StateRunning && s.State != mobycontainer.StatePaused && s.State != mobycontainer.StateRestarting {
			continue
		}
		ok := f.any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
			(len(names) == 0 || slices.ContainsFunc(names, func(re *regexp.Regexp) bool { return re.MatchString(c.Name) })) &&
			f.labels(c.Config.Labels) &&
			f.any("status", func(v string) bool { return v == string(s.State) }) &&
			(len(exited) == 0 || s.State == mobycontainer.StateExited && slices.Contains(exited, c.State.ExitCode)) &&
			(len(ancestors) == 0 || slices.Contains(ancestors, c.Image) || slices.ContainsFunc(ancestors, func(a string) bool { return matchesImageName(c.ImageName, a) })) &&
			(before == nil || c.Created.Before(before.Created)) &&
			(since == nil || c.Created.After(since.Created)) &&
			f.any("network", func(v string) bool { return onNetwork(c, v) }) &&
			f.any("volume", func(v string) bool {
				return slices.ContainsFunc(c.Host.Mounts, func(m container.Mount) bool { return m.Source == v || m.Target == v })
			}) &&
			f.any("publish", func(v string) bool { return portMatches(s.Ports, v, true) }) &&
			f.any("expose", func(v string) bool { return portMatches(exposedPorts(c, s.Ports), v, false) }) &&
			f.any("health", func(v string) bool { return v == healthOf(c) }) &&
			f.any("is-task", func(v string) bool { return v == "false" })
		if ok {
			if o.Size {
				s.SizeRw, s.SizeRootFs = e.sizes(c)
			}
			out = append(out, s)
		}
		if o.Limit > 0 && len(out) == o.Limit {
			break // newest first: these are the newest
		}
	}
	return out, nil
}

// healthOf is a container's health for the health= filter: none
// without a healthcheck or before its first start.
func healthOf(c *container.Container) string {
	if h := c.State.Health; h != nil && c.State.Status == container.Running {
		return h.Status
	}
	return "none"
}

// boundary resolves before= or since= to the container it names.
func (e *Engine) boundary(all []*container.Container, refs []string, key string) (*container.Container, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	if len(refs) > 1 {
		return nil, invalid(fmt.Errorf("more than one %s filter", key))
	}
	c, err := e.containers.Find(refs[0])
	if err != nil {
		return nil, invalid(fmt.Errorf("invalid filter '%s=%s': %w", key, refs[0], err))
	}
	return c, nil
}

// matchesImageName: ancestor=busybox matches a container of
// busybox:latest or docker.io/library/busybox.
func matchesImageName(name, ref string) bool {
	if name == ref {
		return true
	}
	repo, _, _ := strings.Cut(name, ":")
	return repo == ref || strings.TrimPrefix(repo, "docker.io/library/") == ref || strings.TrimPrefix(name, "docker.io/library/") == ref
}

func onNetwork(c *container.Container, ref string) bool {
	if c.Host.NetworkMode == ref {
		return true
	}
	return slices.ContainsFunc(c.Host.Networks, func(a container.NetworkAttachment) bool { return a.Name == ref })
}

// portMatches reads PORT[-PORT][/PROTO] and matches it against the
// public (published) or private (exposed) side.
func portMatches(ports []mobycontainer.PortSummary, v string, public bool) bool {
	spec, proto, _ := strings.Cut(v, "/")
	lo, hi, isRange := strings.Cut(spec, "-")
	from, err1 := strconv.Atoi(lo)
	to := from
	var err2 error
	if isRange {
		to, err2 = strconv.Atoi(hi)
	}
	if err1 != nil || err2 != nil {
		return false
	}
	return slices.ContainsFunc(ports, func(p mobycontainer.PortSummary) bool {
		n := int(p.PrivatePort)
		if public {
			n = int(p.PublicPort)
		}
		return n >= from && n <= to && (proto == "" || proto == p.Type)
	})
}

// exposedPorts are the image's and the published ports, private side.
func exposedPorts(c *container.Container, published []mobycontainer.PortSummary) []mobycontainer.PortSummary {
	out := slices.Clone(published)
	for k := range c.Config.ExposedPorts {
		if p, err := mobynetwork.ParsePort(k); err == nil {
			out = append(out, mobycontainer.PortSummary{PrivatePort: p.Num(), Type: string(p.Proto())})
		}
	}
	return out
}

// summary is ps' row of a container, in Docker's shape.
func (e *Engine) summary(c *container.Container, now time.Time) mobycontainer.Summary {
	s := mobycontainer.Summary{
		ID: c.ID, Names: []string{"/" + c.Name}, Image: container.FamiliarImage(c.ImageName), ImageID: c.Image,
		Command: strings.Join(c.Config.Args(), " "), Created: c.Created.Unix(), Labels: c.Config.Labels,
		State: statusOf(c), Ports: []mobycontainer.PortSummary{}, Mounts: []mobycontainer.MountPoint{},
		NetworkSettings: &mobycontainer.NetworkSettingsSummary{Networks: map[string]*mobynetwork.EndpointSettings{}},
	}
	if s.Labels == nil {
		s.Labels = map[string]string{}
	}
	s.HostConfig.NetworkMode = c.Host.NetworkMode
	s.Status = statusText(c, s.State, now)
	for _, p := range e.ports(c) {
		s.Ports = append(s.Ports, mobycontainer.PortSummary{IP: p.HostIP, PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Proto})
	}
	for _, m := range c.Host.Mounts {
		s.Mounts = append(s.Mounts, mobycontainer.MountPoint{Type: mount.Type(m.Type), Name: volumeName(m), Source: m.Source, Destination: m.Target, RW: !m.ReadOnly})
	}
	if c.State.Status == container.Running {
		for _, ep := range e.networks.EndpointsOf(c.ID) {
			s.NetworkSettings.Networks[ep.Network] = &mobynetwork.EndpointSettings{NetworkID: ep.NetworkID, EndpointID: ep.HostVeth,
				Gateway: ep.Gateway, IPAddress: ep.Addr.Addr(), IPPrefixLen: ep.Addr.Bits()}
		}
	}
	return s
}

func volumeName(m container.Mount) string {
	if m.Type == "volume" {
		return m.Source
	}
	return ""
}

// statusText is ps' STATUS column: Up 5 minutes (Paused), Exited (0)
// 3 seconds ago, Restarting (1) 2 seconds ago, Created.
func statusText(c *container.Container, st mobycontainer.ContainerState, now time.Time) string {
	switch st {
	case mobycontainer.StateRunning:
		up := "Up " + format.Duration(now.Sub(c.State.StartedAt))
		switch h := c.State.Health; {
		case h == nil:
			return up
		case h.Status == container.HealthStarting:
			return up + " (health: starting)"
		default:
			return up + " (" + h.Status + ")"
		}
	case mobycontainer.StatePaused:
		return "Up " + format.Duration(now.Sub(c.State.StartedAt)) + " (Paused)"
	case mobycontainer.StateRestarting:
		return fmt.Sprintf("Restarting (%d) %s", c.State.ExitCode, format.Ago(c.State.FinishedAt, now))
	case mobycontainer.StateExited:
		return fmt.Sprintf("Exited (%d) %s", c.State.ExitCode, format.Ago(c.State.FinishedAt, now))
	}
	return "Created"
}

// ports are a running container's published ports, as bound.
func (e *Engine) ports(c *container.Container) []network.PortSpec {
	if c.State.Status != container.Running || !c.Host.OwnNetworkNamespace() {
		return nil
	}
	var out []network.PortSpec
	for _, ep := range e.networks.EndpointsOf(c.ID) {
		out = append(out, ep.Ports...)
	}
	return out
}

// ContainerPorts are a running container's published ports, as bound.
func (e *Engine) ContainerPorts(ref string) ([]mobycontainer.PortSummary, error) {
	c, err := e.get(ref)
	if err != nil {
		return nil, err
	}
	out := []mobycontainer.PortSummary{}
	for _, p := range e.ports(c) {
		out = append(out, mobycontainer.PortSummary{IP: p.HostIP, PrivatePort: p.ContainerPort, PublicPort: p.HostPort, Type: p.Proto})
	}
	return out, nil
}
