package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	mobynetwork "github.com/moby/moby/api/types/network"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/rootless"
)

// CreateOptions are a new container's, in the shape of Docker's create
// request, so that the API's JSON decodes into them as they are.
type CreateOptions struct {
	// ID is the new container's, when the caller drew it; else one is
	// drawn.
	ID   string
	Name string
	// Config is the process: Image names the image (required); Cmd
	// replaces the image's CMD; Entrypoint replaces its ENTRYPOINT and
	// drops its CMD ([""] clears it); Env and Labels add to the image's;
	// User, WorkingDir and StopSignal replace the image's when set.
	Config mobycontainer.Config
	// HostConfig says how it runs on the host: mounts, ports, limits,
	// namespaces, restart policy, log options.
	HostConfig mobycontainer.HostConfig
	// Networking holds the first network's endpoint settings: an IPv4
	// address and aliases (--ip, --network-alias).
	Networking mobynetwork.NetworkingConfig
	// IDMap runs the container in a user namespace of its own with this
	// range (Podman's --uidmap; HostConfig.UsernsMode "auto" draws one).
	IDMap *IDRange
	// Pull says how to fetch a missing image; nil refuses.
	Pull *PullOptions
	// EndWithClient kills the container when the client that started
	// it attached (ContainerStartAttached) goes before it ends: a build
	// step, whose builder may be killed.
	EndWithClient bool
	// UseAPISocket mounts berth serve's socket at /var/run/docker.sock
	// and the caller's registry logins at /run/secrets/docker (its
	// DOCKER_CONFIG), as the docker CLI's --use-api-socket does.
	UseAPISocket bool
}

// ContainerCreate records a container from an image and options, as
// Docker merges them: Args replace CMD, Entrypoint replaces ENTRYPOINT
// and drops the image's CMD, Env adds to the image's environment. A bad
// option fails the call and leaves nothing.
func (e *Engine) ContainerCreate(ctx context.Context, o CreateOptions) (mobycontainer.CreateResponse, error) {
	c, err := e.create(ctx, o)
	if err != nil {
		return mobycontainer.CreateResponse{}, err
	}
	return mobycontainer.CreateResponse{ID: c.ID, Warnings: []string{}}, nil
}

func (e *Engine) create(ctx context.Context, o CreateOptions) (*container.Container, error) {
	ref := o.Config.Image
	if ref == "" {
		return nil, invalid(errors.New("create: no image given"))
	}
	host, mounts, err := hostOf(o.HostConfig)
	if err != nil {
		return nil, err
	}
	if len(host.CDIDevices) > 0 {
		// Resolved now, so that a device no spec names fails the create
		// and leaves nothing; injected again at each start.
		host.CDISpecDirs = e.cdiDirs
		if err := e.cdiRegistry(host.CDISpecDirs).Check(host.CDIDevices); err != nil {
			return nil, invalid(err)
		}
	}
	mode, primary, extras, err := endpointsOf(host.NetworkMode, o.Networking)
	if err != nil {
		return nil, err
	}
	if host.OwnNetworkNamespace() || host.NetworkMode == "" || host.NetworkMode == "default" {
		host.NetworkMode = mode
	}
	host.EndWithClient = o.EndWithClient
	if o.IDMap != nil {
		if host.UsernsMode != "" {
			return nil, invalid(errors.New("--uidmap and --userns are exclusive"))
		}
		host.IDMap = o.IDMap
	}
	if a := e.idRanges(); rootless.Active() && host.IDMap != nil && !a.Fits(*host.IDMap) {
		return nil, invalid(fmt.Errorf("--uidmap: IDs %d to %d are not in rootless berth's range (%d to %d, the user's subordinate IDs)",
			host.IDMap.Start, uint64(host.IDMap.Start)+uint64(host.IDMap.Size)-1, a.First, a.Limit-1))
	}
	if rootless.Active() && host.StorageSize > 0 {
		return nil, invalid(errors.New("--storage-opt size is not supported by rootless berth: its file system needs a loop device, which only root may attach"))
	}
	img, err := e.images.Get(ref)
	if errors.Is(err, image.ErrNotFound) && o.Pull != nil {
		if o.Pull.Progress != nil {
			named, _ := WithDefaultTag(ref)
			fmt.Fprintf(o.Pull.Progress, "Unable to find image '%s' locally\n", named)
		}
		var po image.PullOptions
		if po, err = e.pullOptions(*o.Pull); err != nil {
			return nil, err
		}
		img, err = e.images.Pull(ctx, ref, po)
	}
	if err != nil {
		return nil, classify(err)
	}
	ic := img.Config.Config
	if o.ID == "" {
		o.ID = container.NewID()
	}
	oc := o.Config
	c := &container.Container{ID: o.ID, Name: strings.TrimPrefix(o.Name, "/"), Created: time.Now().UTC(), Image: img.ID.String(), ImageName: ref, Host: host}
	cfg := container.Config{
		Hostname: oc.Hostname, Domainname: oc.Domainname, User: ic.User, Env: mergeEnv(ic.Env, oc.Env),
		Cmd: ic.Cmd, Entrypoint: ic.Entrypoint, WorkingDir: ic.WorkingDir, Labels: map[string]string{},
		StopSignal: ic.StopSignal, Tty: oc.Tty, ExposedPorts: ic.ExposedPorts, StopTimeout: oc.StopTimeout,
		OpenStdin: oc.OpenStdin, StdinOnce: oc.StdinOnce, Shell: ic.Shell,
	}
	hc, err := healthcheckOf(oc.Healthcheck)
	if err != nil {
		return nil, err
	}
	cfg.Healthcheck = hc.Merge(imageHealthcheck(img))
	if oc.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = nil, nil
		if len(oc.Entrypoint) > 1 || len(oc.Entrypoint) == 1 && oc.Entrypoint[0] != "" {
			cfg.Entrypoint = oc.Entrypoint
		}
	}
	if len(oc.Cmd) > 0 {
		cfg.Cmd = oc.Cmd
	}
	if oc.User != "" {
		cfg.User = oc.User
	}
	if oc.WorkingDir != "" {
		cfg.WorkingDir = oc.WorkingDir
	}
	if oc.StopSignal != "" {
		if _, err := ParseSignal(oc.StopSignal); err != nil {
			return nil, invalid(fmt.Errorf("invalid signal: %s", oc.StopSignal))
		}
		cfg.StopSignal = oc.StopSignal
	}
	if err := checkNames(oc.Hostname, oc.Domainname); err != nil {
		return nil, err
	}
	for k, v := range ic.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range oc.Labels {
		cfg.Labels[k] = v
	}
	// Published ports are exposed too, as Docker's CLI makes them.
	if len(oc.ExposedPorts)+len(o.HostConfig.PortBindings) > 0 {
		cfg.ExposedPorts = maps.Clone(cfg.ExposedPorts)
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for p := range oc.ExposedPorts {
			cfg.ExposedPorts[p.String()] = struct{}{}
		}
		for p := range o.HostConfig.PortBindings {
			cfg.ExposedPorts[p.String()] = struct{}{}
		}
	}
	if cfg.Hostname == "" {
		cfg.Hostname = c.ID[:12]
	}
	if len(cfg.Cmd)+len(cfg.Entrypoint) == 0 {
		return nil, invalid(errors.New("no command specified"))
	}
	c.Config = cfg
	if err := e.checkNetworking(c, primary, extras); err != nil {
		return nil, err
	}
	// On a user-defined network --link is a link of its endpoint, which
	// names whatever has the target's name when it is asked, as
	// Docker's; the default bridge's links must exist.
	if len(c.Host.Links) > 0 && len(c.Host.Networks) > 0 && c.Host.NetworkMode != network.DefaultName {
		c.Host.Networks[0].Links = append(c.Host.Networks[0].Links, c.Host.Links...)
		c.Host.Links = nil
	}
	if c.Host.Links, err = e.checkLinks(c.Host.Links); err != nil {
		return nil, err
	}
	// The create's Config.Volumes are anonymous volumes, as the image's.
	volumes := maps.Clone(ic.Volumes)
	if len(oc.Volumes) > 0 && volumes == nil {
		volumes = map[string]struct{}{}
	}
	maps.Copy(volumes, oc.Volumes)
	undoVolumes, err := e.userMounts(&c.Host, mounts, volumes)
	if err != nil {
		return nil, err
	}
	if c.Host.UsernsMode == "keep-id" {
		r, err := keepID()
		if err != nil {
			undoVolumes()
			return nil, invalid(err)
		}
		c.Host.IDMap = &r
		if oc.User == "" {
			// The user's process runs as the user, as Podman's does.
			c.Config.User = strconv.FormatUint(uint64(r.UID), 10) + ":" + strconv.FormatUint(uint64(r.GID), 10)
		}
	} else if auto, size, err := idmap.ParseMode(c.Host.UsernsMode); err != nil {
		undoVolumes()
		return nil, err
	} else if auto {
		ranges := e.idRanges()
		if rootless.Active() {
			if ranges.Limit <= 1 {
				undoVolumes()
				return nil, invalid(errors.New("--userns=auto: the user has no subordinate IDs to hand out (see /etc/subuid and /etc/subgid)"))
			}
			if c.Host.UsernsMode == "auto" {
				size = idmap.RootlessDefaultSize
			}
		}
		r, err := ranges.Allocate(c.ID, size)
		if err != nil {
			undoVolumes()
			return nil, err
		}
		c.Host.IDMap = &r
		undo := undoVolumes
		// Undone on a failed create, whose own error is the one to report.
		undoVolumes = func() { undo(); _ = ranges.Release(c.ID) }
	}
	if o.UseAPISocket {
		if err := e.mountAPISocket(c); err != nil {
			undoVolumes()
			return nil, err
		}
	}
	if err := e.containers.Create(c); err != nil {
		undoVolumes()
		return nil, classify(err)
	}
	if o.UseAPISocket {
		if err := e.writeAPIAuth(c); err != nil {
			_ = e.containers.Remove(c) // undoes the create, whose error is the one to report
			undoVolumes()
			return nil, err
		}
	}
	e.containerEvent(c, mobyevents.ActionCreate)
	return c, nil
}

// APISocket is where berth serve listens unless told otherwise.
func (e *Engine) APISocket() string { return filepath.Join(e.paths.RunRoot, "docker.sock") }

// mountAPISocket gives c the API socket and the logins' file, which
// writeAPIAuth writes once c's directory exists.
func (e *Engine) mountAPISocket(c *container.Container) error {
	sock := e.APISocket()
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		return invalid(fmt.Errorf("--use-api-socket: no API socket at %s: start berth serve first", sock))
	}
	c.Host.Mounts = append(c.Host.Mounts,
		container.Mount{Type: "bind", Source: sock, Target: "/var/run/docker.sock"},
		container.Mount{Type: "bind", Source: e.apiAuthFile(c.ID), Target: "/run/secrets/docker/config.json", ReadOnly: true})
	c.Config.Env = append(c.Config.Env, "DOCKER_CONFIG=/run/secrets/docker")
	return nil
}

func (e *Engine) apiAuthFile(id string) string {
	return filepath.Join(e.containers.Dir(id), "api-auth", "config.json")
}

// writeAPIAuth writes the caller's logins (those its config.json holds
// itself: a credential helper's stay with the helper) for c.
func (e *Engine) writeAPIAuth(c *container.Container) error {
	b, err := image.InlineAuths(image.AuthFile())
	if err == nil {
		err = os.MkdirAll(filepath.Dir(e.apiAuthFile(c.ID)), 0o700)
	}
	if err == nil {
		err = os.WriteFile(e.apiAuthFile(c.ID), b, 0o600)
	}
	if err != nil {
		return fmt.Errorf("--use-api-socket: %w", err)
	}
	return nil
}

// NewContainerID is a fresh container ID, for a caller that names the
// container before it exists (CreateOptions.ID: a --cidfile written
// before the start).
func NewContainerID() string { return container.NewID() }

// WithDefaultTag is ref as Docker names what it pulls: with :latest
// when it has no tag or digest (added then reports so: "Using default
// tag: latest").
func WithDefaultTag(ref string) (named string, added bool) {
	last := ref[strings.LastIndex(ref, "/")+1:]
	if strings.ContainsAny(last, ":@") {
		return ref, false
	}
	return ref + ":latest", true
}

// healthcheckOf is a create's healthcheck, nil when it gives none;
// durations under a millisecond other than zero are refused, as Docker
// refuses them.
func healthcheckOf(h *mobycontainer.HealthConfig) (*container.Healthcheck, error) {
	if h == nil {
		return nil, nil
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"Interval", h.Interval}, {"Timeout", h.Timeout}, {"StartPeriod", h.StartPeriod}, {"StartInterval", h.StartInterval}} {
		if d.v != 0 && d.v < time.Millisecond {
			return nil, invalid(fmt.Errorf("%s in Healthcheck cannot be less than 1ms", d.name))
		}
	}
	if h.Retries < 0 {
		return nil, invalid(errors.New("Retries in Healthcheck cannot be negative"))
	}
	if len(h.Test) > 0 && !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, h.Test[0]) {
		return nil, invalid(fmt.Errorf("healthcheck test %q: want CMD, CMD-SHELL or NONE first", h.Test[0]))
	}
	return &container.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: h.StartInterval, Retries: h.Retries}, nil
}

// imageHealthcheck is an image's HEALTHCHECK, nil when it has none.
func imageHealthcheck(img *image.Image) *container.Healthcheck {
	h := img.Config.Config.Healthcheck
	if h == nil {
		return nil
	}
	return &container.Healthcheck{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
		StartPeriod: h.StartPeriod, StartInterval: img.HealthStartInterval(), Retries: h.Retries}
}

// mergeEnv is the image's environment with the caller's on top, as
// Docker merges them: a variable set again replaces the image's, in its
// place (getenv would find the first of two).
func mergeEnv(image, add []string) []string {
	out := append([]string(nil), image...)
	for _, kv := range add {
		k, _, _ := strings.Cut(kv, "=")
		i := slices.IndexFunc(out, func(o string) bool { ok, _, _ := strings.Cut(o, "="); return ok == k })
		if i >= 0 {
			out[i] = kv
		} else {
			out = append(out, kv)
		}
	}
	return out
}

// keepID is --userns=keep-id's mapping (rootless only): the user's own
// IDs stay theirs in the container, the rest of the container's IDs
// are the user's subordinate ones.
func keepID() (idmap.Range, error) {
	if !rootless.Active() {
		return idmap.Range{}, errors.New("--userns=keep-id is for rootless berth: root's containers take --userns=auto ranges")
	}
	own, err := idmap.ReadOwn()
	if err != nil {
		return idmap.Range{}, fmt.Errorf("--userns=keep-id: %w", err)
	}
	if own.Extent <= 1 {
		return idmap.Range{}, errors.New("--userns=keep-id: the user has no subordinate IDs to map the container's other users to (see /etc/subuid and /etc/subgid)")
	}
	r := idmap.Range{Start: 1, Size: uint32(own.Extent - 1), KeepID: true, UID: own.UID, GID: own.GID}
	if r.UID >= r.Size || r.GID >= r.Size {
		return idmap.Range{}, fmt.Errorf("--userns=keep-id: the user's IDs %d:%d are above the %d IDs the container has", r.UID, r.GID, r.Size)
	}
	return r, nil
}
