package engine

import (
	"context"
	"errors"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/network"
)

// HostOptions say how a container runs on the host: limits, mounts,
// namespaces, networks, restart policy. (The container model's own
// type, until every field is one of Docker's HostConfig.)
type HostOptions = container.Host

// RestartPolicy is --restart: no, on-failure[:N], always, unless-stopped.
type RestartPolicy = container.RestartPolicy

// IDRange is a host ID range a container's user namespace maps to.
type IDRange = idmap.Range

// ParseRestartPolicy reads --restart.
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	p, err := container.ParseRestart(s)
	return p, invalid(err)
}

// ParseBytes reads a size as Docker's flags write it (64m, 1g, 512).
func ParseBytes(s string) (int64, error) {
	n, err := container.ParseBytes(s)
	return n, invalid(err)
}

// ParseIDMap reads --uidmap CONTAINER-ID:HOST-ID:SIZE.
func ParseIDMap(s string) (IDRange, error) {
	r, err := idmap.ParseMap(s)
	return r, invalid(err)
}

// CreateOptions are a new container's: the image, the process, and how
// it runs on the host.
type CreateOptions struct {
	// ID is the new container's, when the caller drew it (a launched
	// monitor's); else one is drawn.
	ID    string
	Name  string
	Image string
	Args  []string // after the image: replaces the image's CMD
	// Entrypoint replaces the image's when set ("" clears it).
	Entrypoint *string
	Env        []string
	User       string
	WorkingDir string
	Hostname   string
	Labels     map[string]string
	StopSignal string
	// StopTimeout is --stop-timeout in seconds.
	StopTimeout *int
	Tty         bool
	OpenStdin   bool
	// StdinOnce closes input when the attached client's ends (run -i).
	StdinOnce bool
	Host      HostOptions
	// IP and Aliases are --ip and --network-alias on the first network.
	IP      string
	Aliases []string
	// Domainname is --domainname.
	Domainname string
	// Mounts are --mount values (Host.Binds and Host.Tmpfs hold -v and
	// --tmpfs).
	Mounts []string
	// Pull says how to fetch a missing image; nil refuses.
	Pull *PullOptions
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
	img, err := e.images.Get(o.Image)
	if errors.Is(err, image.ErrNotFound) && o.Pull != nil {
		var po image.PullOptions
		if po, err = pullOptions(*o.Pull); err != nil {
			return nil, err
		}
		img, err = e.images.Pull(ctx, o.Image, po)
	}
	if err != nil {
		return nil, classify(err)
	}
	ic := img.Config.Config
	if o.ID == "" {
		o.ID = container.NewID()
	}
	c := &container.Container{ID: o.ID, Name: o.Name, Created: time.Now().UTC(), Image: img.ID.String(), ImageName: o.Image, Host: o.Host}
	cfg := container.Config{
		Hostname: o.Hostname, Domainname: o.Domainname, User: ic.User, Env: append(append([]string(nil), ic.Env...), o.Env...),
		Cmd: ic.Cmd, Entrypoint: ic.Entrypoint, WorkingDir: ic.WorkingDir, Labels: map[string]string{},
		StopSignal: ic.StopSignal, Tty: o.Tty, ExposedPorts: ic.ExposedPorts, StopTimeout: o.StopTimeout,
		OpenStdin: o.OpenStdin, StdinOnce: o.StdinOnce,
	}
	if o.Entrypoint != nil {
		cfg.Entrypoint, cfg.Cmd = nil, nil
		if *o.Entrypoint != "" {
			cfg.Entrypoint = []string{*o.Entrypoint}
		}
	}
	if len(o.Args) > 0 {
		cfg.Cmd = o.Args
	}
	if o.User != "" {
		cfg.User = o.User
	}
	if o.WorkingDir != "" {
		cfg.WorkingDir = o.WorkingDir
	}
	if o.StopSignal != "" {
		cfg.StopSignal = o.StopSignal
	}
	for k, v := range ic.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range o.Labels {
		cfg.Labels[k] = v
	}
	if cfg.Hostname == "" {
		cfg.Hostname = c.ID[:12]
	}
	if len(cfg.Cmd)+len(cfg.Entrypoint) == 0 {
		return nil, invalid(errors.New("no command specified"))
	}
	if c.Host.NetworkMode == "" || c.Host.NetworkMode == "default" {
		c.Host.NetworkMode = network.DefaultName
	}
	c.Config = cfg
	if err := e.checkNetworking(c, o.IP, o.Aliases); err != nil {
		return nil, err
	}
	undoVolumes, err := e.userMounts(&c.Host, o.Mounts, ic.Volumes)
	if err != nil {
		return nil, err
	}
	if auto, size, err := idmap.ParseMode(c.Host.UsernsMode); err != nil {
		undoVolumes()
		return nil, err
	} else if auto {
		r, err := e.idRanges().Allocate(c.ID, size)
		if err != nil {
			undoVolumes()
			return nil, err
		}
		c.Host.IDMap = &r
		undo := undoVolumes
		undoVolumes = func() { undo(); e.idRanges().Release(c.ID) }
	}
	if err := e.containers.Create(c); err != nil {
		undoVolumes()
		return nil, classify(err)
	}
	e.containerEvent(c, mobyevents.ActionCreate)
	return c, nil
}
