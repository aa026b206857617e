// Package engine ties the engine's parts together for every front end:
// the image service, the container store, the per-container monitor and
// the runtime, called in-process. A command is a few calls here.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/idmap"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/monitor/idle"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/runtime"
	"github.com/berth-project/berth/internal/trace"
	"github.com/berth-project/berth/internal/volume"
)

// Engine is the engine over one storage root and one runtime root.
type Engine struct {
	Paths      monitor.Paths
	Images     *image.Service
	Containers container.Store
	Runtime    *runtime.Runtime
	Volumes    volume.Store
	Networks   *network.Manager
}

// Open opens the engine; images used by containers count as in use.
func Open(root, runRoot string) (*Engine, error) {
	imgs, err := image.Open(root)
	if err != nil {
		return nil, err
	}
	e := &Engine{Paths: monitor.Paths{Root: root, RunRoot: runRoot}, Images: imgs, Containers: container.Store{Root: root}}
	e.Runtime = runtime.New(e.Paths.RuntimeRoot())
	e.Volumes = volume.Store{Root: root, InUse: e.volumeUsers}
	e.Networks = &network.Manager{Root: root, Isolated: filepath.Clean(root) != DefaultRoot}
	imgs.InUse = e.usersOf
	return e, nil
}

func (e *Engine) usersOf(id v1.Hash) []string {
	all, _ := e.Containers.List()
	var out []string
	for _, c := range all {
		if c.Image == id.String() {
			out = append(out, c.ID[:12])
		}
	}
	return out
}

// CreateOptions are `create`/`run` inputs.
type CreateOptions struct {
	// ID is the new container's, when the caller drew it (a launched
	// monitor's); else Create draws one.
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
	Host      container.Host
	// IP and Aliases are --ip and --network-alias on the first network.
	IP      string
	Aliases []string
	// Domainname is --domainname.
	Domainname string
	// Mounts are --mount flags (Host.Binds and Host.Tmpfs hold -v and
	// --tmpfs).
	Mounts []string
	// Pull says how to fetch a missing image; nil refuses.
	Pull *image.PullOptions
}

// Create records a container from an image and flags, as Docker merges
// them: arguments replace CMD, --entrypoint replaces ENTRYPOINT and
// drops the image's CMD, -e adds to the image's environment.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*container.Container, error) {
	img, err := e.Images.Get(o.Image)
	if errors.Is(err, image.ErrNotFound) && o.Pull != nil {
		img, err = e.Images.Pull(ctx, o.Image, *o.Pull)
	}
	if err != nil {
		return nil, err
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
		return nil, errors.New("no command specified")
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
	if err := e.Containers.Create(c); err != nil {
		undoVolumes()
		return nil, err
	}
	return c, nil
}

// The monitor's environment: monitorEnv passes the roots; a monitor
// reads fd 4 to its end and goes ahead only if it says "go"; with
// monitorClientEnv, fd 5 is an attached client. Fd 3 is the report.
const (
	monitorEnv       = "_BERTH_MONITOR_ROOTS"
	monitorClientEnv = "_BERTH_MONITOR_CLIENT"
	goAheadWord      = "go"
)

// Start starts a created or exited container: it launches the monitor,
// detached in its own session, and returns once the container runs (or
// with the reason it could not). The returned process is the monitor,
// for a foreground run to wait on; nil if the container runs already.
// A client, if given, is attached before the container starts.
func (e *Engine) Start(c *container.Container, client *os.File) (*os.Process, error) {
	l, err := e.Launch(c.ID, client)
	if err != nil {
		return nil, err
	}
	return e.Go(l)
}

// A Launch is a container's monitor process, started and waiting for the
// word to go. run launches it before it creates the container, so that
// the monitor's process start (a Go runtime, ~1.5 ms) overlaps create.
type Launch struct {
	ID      string
	cmd     *exec.Cmd
	report  *os.File // the monitor's start report
	goAhead *os.File
}

// Launch starts a monitor for container id, which need not exist yet.
// Go or Abort it. A client, if given, is the monitor's first.
func (e *Engine) Launch(id string, client *os.File) (*Launch, error) {
	report, reportW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	defer reportW.Close()
	goR, goW, err := os.Pipe()
	if err != nil {
		report.Close()
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	defer goR.Close()
	roots, _ := json.Marshal([]string{e.Paths.Root, e.Paths.RunRoot})
	cmd := &exec.Cmd{
		Path:        "/proc/self/exe",
		Args:        []string{monitor.Arg0Prefix + id},
		Env:         []string{monitorEnv + "=" + string(roots), "PATH=" + os.Getenv("PATH")},
		ExtraFiles:  []*os.File{reportW, goR},
		SysProcAttr: &unix.SysProcAttr{Setsid: true},
	}
	if client != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, client)
		cmd.Env = append(cmd.Env, monitorClientEnv+"=1")
	}
	cmd.Env = trace.Env(cmd.Env)
	if err := cmd.Start(); err != nil {
		report.Close()
		goW.Close()
		return nil, fmt.Errorf("start the monitor: %w", err)
	}
	return &Launch{ID: id, cmd: cmd, report: report, goAhead: goW}, nil
}

// Abort ends a monitor that will not go ahead.
func (l *Launch) Abort() {
	l.goAhead.Close()
	l.report.Close()
	l.cmd.Process.Kill()
	l.cmd.Wait()
}

// Go hands the container to its launched monitor: under the container's
// lock it is marked as running by it, so that a second start finds it
// running, and the monitor is told to go; the lock is released before
// the monitor needs it. Go returns once the container runs, with the
// monitor's process, or nil if the container ran already.
func (e *Engine) Go(l *Launch) (*os.Process, error) {
	running, err := e.handOver(l)
	if err != nil || running {
		l.Abort()
		return nil, err
	}
	defer l.report.Close()
	l.goAhead.Close()
	if err := monitor.ReadReport(l.report); err != nil {
		l.cmd.Wait()
		return nil, err
	}
	return l.cmd.Process, nil
}

// handOver marks the container as running by l's monitor and tells it to
// go, under the container's lock, unless the container runs already.
func (e *Engine) handOver(l *Launch) (running bool, err error) {
	trace.Phase("cli", "hand over")
	unlock, err := e.Containers.Lock(l.ID)
	if err != nil {
		return false, err
	}
	defer unlock()
	c, err := e.Containers.Load(l.ID)
	if err != nil {
		return false, err
	}
	e.refresh(c)
	if c.State.Status == container.Running {
		return true, nil
	}
	pid := l.cmd.Process.Pid
	c.State = container.State{Status: container.Running, MonitorPid: pid, MonitorStart: monitor.StartTime(pid)}
	if err := e.Containers.Save(c); err != nil {
		return false, err
	}
	if _, err := io.WriteString(l.goAhead, goAheadWord); err != nil {
		return false, fmt.Errorf("start the monitor: %w", err)
	}
	return false, nil
}

// IsMonitor reports whether this process was started as a monitor.
func IsMonitor(arg0 string) bool { return strings.HasPrefix(arg0, monitor.Arg0Prefix) }

// MonitorMain is a monitor process's main.
func MonitorMain() {
	trace.Phase("monitor", "process")
	var roots []string
	if err := json.Unmarshal([]byte(os.Getenv(monitorEnv)), &roots); err != nil || len(roots) != 2 {
		fmt.Fprintln(os.Stderr, "berth monitor: started without its roots")
		os.Exit(2)
	}
	e, err := Open(roots[0], roots[1])
	report := os.NewFile(3, "report")
	if err != nil {
		fmt.Fprintln(report, err)
		os.Exit(1)
	}
	trace.Phase("monitor", "engine open")
	id := strings.TrimPrefix(os.Args[0], monitor.Arg0Prefix)
	hooks := monitor.Hooks{
		Prepare: e.prepare, Network: e.connectNetworks, Remove: func(c *container.Container) { e.forget(c, true) },
		Reattach: e.reattach, Disconnect: func(c *container.Container) { e.disconnectAll(c) }, CanIdle: canIdle,
	}
	if code, err := strconv.Atoi(os.Getenv(idle.ResumeEnv)); err == nil {
		fd, _ := strconv.Atoi(os.Getenv(idle.ListenerEnv))
		os.Exit(monitor.Resume(e.Paths, id, hooks, code, os.NewFile(uintptr(fd), "attach-socket")))
	}
	// Launched ahead: wait for the container to be handed over, or exit
	// quietly when the launch is aborted (or the CLI died).
	if word, _ := io.ReadAll(os.NewFile(4, "go-ahead")); string(word) != goAheadWord {
		os.Exit(0)
	}
	trace.Phase("monitor", "go")
	var client *os.File
	if os.Getenv(monitorClientEnv) != "" {
		client = os.NewFile(5, "client")
	}
	os.Exit(monitor.Run(e.Paths, id, hooks, report, client))
}

// reattach is prepare's result for a resumed monitor: the bundle, and
// the unmount of the rootfs, both made by the monitor's first stage.
func (e *Engine) reattach(c *container.Container) (string, func()) {
	dir := e.Containers.Dir(c.ID)
	merged := filepath.Join(dir, "merged")
	return filepath.Join(dir, "bundle"), unmounter(merged)
}

// unmounter undoes the mount of a container's rootfs at merged.
func unmounter(merged string) func() {
	return func() { unix.Unmount(merged, unix.MNT_DETACH) }
}

// canIdle: a container on a user-defined network has its name server
// in its monitor, which the idle stage does not carry.
func canIdle(c *container.Container) bool {
	if !c.Host.OwnNetworkNamespace() {
		return true
	}
	return !slices.ContainsFunc(c.Host.Networks, func(a container.NetworkAttachment) bool { return a.Name != network.DefaultName })
}

// prepare mounts the container's rootfs (the image's layers under its
// own upper dir), writes /etc/hostname, hosts and resolv.conf, and the
// bundle. It runs in the monitor.
func (e *Engine) prepare(c *container.Container) (string, func(), error) {
	img, err := e.Images.Get(c.Image)
	if err != nil {
		return "", func() {}, err
	}
	dir := e.Containers.Dir(c.ID)
	for _, d := range []string{filepath.Join(dir, "etc"), filepath.Join(dir, "bundle")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", func() {}, err
		}
	}
	os.Chmod(dir, 0o711)                                        // a container running as non-root reaches its rootfs
	unix.Unmount(filepath.Join(dir, "merged"), unix.MNT_DETACH) // left by a monitor that was killed
	merged, unmount, err := e.mountRootfs(c, img, true)
	if err != nil {
		return "", func() {}, err
	}
	etc := filepath.Join(dir, "etc")
	err = os.WriteFile(filepath.Join(etc, "hostname"), []byte(c.Config.Hostname+"\n"), 0o644)
	if err == nil {
		err = e.prepareEtc(c, etc)
	}
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	in := container.SpecInput{Rootfs: merged, EtcDir: etc}
	if in.Joins, err = e.joins(c); err == nil {
		in.Volumes, err = e.prepareVolumes(c, merged)
	}
	if err == nil && c.Host.Init {
		in.InitBinary, err = os.Executable()
	}
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	spec, err := container.Spec(c, in)
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		unmount()
		return "", func() {}, err
	}
	bundle := filepath.Join(dir, "bundle")
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), b, 0o600); err != nil {
		unmount()
		return "", func() {}, err
	}
	return bundle, unmount, nil
}

// refresh marks a container whose monitor is gone (killed, or lost
// with /run at a reboot) as exited, and cleans what it left.
func (e *Engine) refresh(c *container.Container) {
	if c.State.Status != container.Running || monitor.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		return
	}
	e.Runtime.Kill(c.ID, unix.SIGKILL, true)
	e.Runtime.Delete(c.ID, true)
	unix.Unmount(filepath.Join(e.Containers.Dir(c.ID), "merged"), unix.MNT_DETACH)
	e.disconnectAll(c)
	c.State.Status, c.State.ExitCode, c.State.Pid, c.State.MonitorPid = container.Exited, 255, 0, 0
	c.State.FinishedAt = time.Now().UTC()
	e.Containers.Save(c)
}

// Get finds a container and brings its state up to date.
func (e *Engine) Get(ref string) (*container.Container, error) {
	c, err := e.Containers.Find(ref)
	if err != nil {
		return nil, err
	}
	e.refresh(c)
	return c, nil
}

// List returns every container, newest first, states up to date.
func (e *Engine) List() ([]*container.Container, error) {
	all, err := e.Containers.List()
	for _, c := range all {
		e.refresh(c)
	}
	return all, err
}

// Kill signals a running container's init. A user's kill or stop ends
// the container for good: no restart policy restarts it.
func (e *Engine) Kill(c *container.Container, sig unix.Signal) error {
	if c.State.Status != container.Running {
		return fmt.Errorf("container %s is not running", c.Name)
	}
	e.markStopped(c)
	return e.Runtime.Kill(c.ID, sig, false)
}

func (e *Engine) markStopped(c *container.Container) {
	e.Containers.Update(c.ID, func(c *container.Container) error {
		c.State.StopRequested = true
		return nil
	})
}

// Wait waits until the container has exited and its monitor is done,
// and returns its exit code.
func (e *Engine) Wait(ctx context.Context, c *container.Container) (int, error) {
	for {
		cur, err := e.Containers.Load(c.ID)
		if err != nil {
			if errors.Is(err, container.ErrNotFound) { // --rm removed it
				return c.State.ExitCode, nil
			}
			return 0, err
		}
		e.refresh(cur)
		if cur.State.Status != container.Running && !monitor.Alive(cur.State.MonitorPid, cur.State.MonitorStart) {
			return cur.State.ExitCode, nil
		}
		c = cur
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop sends the stop signal, then SIGKILL after timeout.
func (e *Engine) Stop(ctx context.Context, c *container.Container, timeout time.Duration) error {
	if c.State.Status != container.Running && !monitor.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		return nil
	}
	e.markStopped(c)
	sig := unix.SIGTERM
	if s := c.Config.StopSignal; s != "" {
		if n := unix.SignalNum(strings.ToUpper(ensureSIG(s))); n != 0 {
			sig = n
		}
	}
	e.Runtime.Kill(c.ID, sig, false)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if _, err := e.Wait(wctx, c); err == nil {
		return nil
	}
	e.Runtime.Kill(c.ID, unix.SIGKILL, true)
	_, err := e.Wait(ctx, c)
	return err
}

func ensureSIG(s string) string {
	if strings.HasPrefix(strings.ToUpper(s), "SIG") {
		return s
	}
	return "SIG" + s
}

// Remove deletes a container; a running one only with force (killed
// first). With volumes its anonymous volumes go too.
func (e *Engine) Remove(ctx context.Context, c *container.Container, force, volumes bool) error {
	if c.State.Status == container.Running || monitor.Alive(c.State.MonitorPid, c.State.MonitorStart) {
		if !force {
			return fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", c.Name)
		}
		e.markStopped(c)
		e.Runtime.Kill(c.ID, unix.SIGKILL, true)
		if _, err := e.Wait(ctx, c); err != nil {
			return err
		}
	}
	unlock, err := e.Containers.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	e.Runtime.Delete(c.ID, true)
	unix.Unmount(filepath.Join(e.Containers.Dir(c.ID), "merged"), unix.MNT_DETACH)
	if err := e.disconnectAll(c); err != nil {
		return fmt.Errorf("remove container %s: network teardown: %w", c.Name, err)
	}
	return e.forget(c, volumes)
}

// forget removes a stopped container's record and what it holds: its
// ID range, and with volumes its anonymous volumes.
func (e *Engine) forget(c *container.Container, volumes bool) error {
	if err := e.Containers.Remove(c); err != nil {
		return err
	}
	var errs []error
	if c.Host.IDMap != nil {
		errs = append(errs, e.idRanges().Release(c.ID)) // no-op for a --uidmap range
	}
	if volumes {
		errs = append(errs, e.removeAnonymousVolumes(c))
	}
	return errors.Join(errs...)
}

// LogPath is a container's log file.
func (e *Engine) LogPath(c *container.Container) string {
	return filepath.Join(e.Containers.Dir(c.ID), "container.log")
}

// Rename gives a container a new name; the name claim moves atomically.
func (e *Engine) Rename(c *container.Container, name string) error {
	old := c.Name
	c.Name = name
	if err := e.Containers.ClaimName(c); err != nil {
		return err
	}
	_, err := e.Containers.Update(c.ID, func(cur *container.Container) error {
		cur.Name = name
		return nil
	})
	if err != nil {
		e.Containers.ReleaseName(name)
		return err
	}
	e.Containers.ReleaseName(old)
	return nil
}

// Rootfs returns a container's root filesystem for reading (export,
// cp): the live mount while it runs, else its layers mounted for the
// call. The returned function undoes that mount.
func (e *Engine) Rootfs(c *container.Container) (string, func(), error) {
	if c.State.Status == container.Running {
		return filepath.Join(e.Containers.Dir(c.ID), "merged"), func() {}, nil
	}
	img, err := e.Images.Get(c.Image)
	if err != nil {
		return "", nil, err
	}
	return e.mountRootfs(c, img, false)
}

// mountRootfs mounts the image's layers under the container's own upper
// dir at <container>/merged, in the caller's mount namespace.
// With mapped, a container with a user namespace gets its layers through
// idmapped mounts (its own start); cp and export read them as they are.
func (e *Engine) mountRootfs(c *container.Container, img *image.Image, mapped bool) (string, func(), error) {
	dir := e.Containers.Dir(c.ID)
	upper, work, merged := filepath.Join(dir, "upper"), filepath.Join(dir, "work"), filepath.Join(dir, "merged")
	for _, d := range []string{upper, work, merged} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", nil, err
		}
	}
	if mapped && c.Host.IDMap != nil {
		if err := e.mountMapped(c, img, merged); err != nil {
			return "", nil, err
		}
		return merged, unmounter(merged), nil
	}
	mounts, err := e.Images.Snapshots.Mounts(img.ChainIDs, upper, work)
	if err != nil {
		return "", nil, err
	}
	if err := mountOverlay(merged, work, strings.Join(mounts[0].Options, ","), mapped && c.Host.AutoRemove); err != nil {
		return "", nil, fmt.Errorf("mount the container's root filesystem: %w", err)
	}
	return merged, unmounter(merged), nil
}

// mountOverlay mounts a container's overlay at merged. A volatile one
// (a --rm container's, as Podman does) never syncs its upper dir, and
// so neither the whole host filesystem at unmount: what a container
// that is removed when it ends wrote never needs to reach the disk, and
// blocks never written are freed without a discard. A crash leaves its
// work dir marked (work/incompat/volatile); the container is removed in
// any case, so a new volatile mount clears the mark. Kernels before
// 5.10 lack the option, and get a plain mount.
func mountOverlay(merged, work, opts string, volatile bool) error {
	if volatile {
		os.RemoveAll(filepath.Join(work, "incompat"))
		if err := unix.Mount("overlay", merged, "overlay", 0, opts+",volatile"); err == nil || !errors.Is(err, unix.EINVAL) {
			return err
		}
	}
	return unix.Mount("overlay", merged, "overlay", 0, opts)
}

// searchable makes sure the container's root, in its user namespace,
// can reach its rootfs: every directory on the way needs o+x, as with
// Docker's userns-remap. berth's own directories get it; another one
// that lacks it is a one-line error.
func searchable(dir string) error {
	root := filepath.Dir(filepath.Dir(dir)) // the storage root
	for _, d := range []string{root, filepath.Dir(dir), dir, filepath.Join(root, "volumes")} {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			os.Chmod(d, fi.Mode().Perm()|0o011)
		}
	}
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("--userns: %s is not searchable by the container's user (chmod o+x %s)", d, d)
		}
		if d == "/" {
			return nil
		}
	}
}

func (e *Engine) idRanges() idmap.Allocator {
	return idmap.Allocator{File: filepath.Join(e.Paths.Root, "userns-ranges.json")}
}

// mountMapped mounts the overlay rootfs of a container with a user
// namespace: every image layer through an idmapped mount with the
// container's mapping, so files owned by root on disk are the container
// root's, with no chown of the shared layers. The staging mounts go once
// overlay holds its layers.
func (e *Engine) mountMapped(c *container.Container, img *image.Image, merged string) error {
	dir := e.Containers.Dir(c.ID)
	if err := searchable(dir); err != nil {
		return err
	}
	userns, err := idmap.UserNamespace(*c.Host.IDMap)
	if err != nil {
		return err
	}
	defer userns.Close()
	staging := filepath.Join(dir, "idmapped")
	var staged []string
	defer func() {
		for _, s := range staged {
			unix.Unmount(s, unix.MNT_DETACH)
		}
		os.RemoveAll(staging)
	}()
	var lowers []string
	for i := len(img.ChainIDs) - 1; i >= 0; i-- { // overlayfs lists the top first
		t := filepath.Join(staging, "l"+strconv.Itoa(i))
		if err := idmap.MountMapped(e.Images.Snapshots.Dir(img.ChainIDs[i]), t, userns); err != nil {
			return err
		}
		staged = append(staged, t)
		lowers = append(lowers, t)
	}
	// The upper dir is not idmapped: overlay writes it with its
	// mounter's credentials (host root, which an idmapped mount could
	// not map). What the container writes is stored under its host IDs,
	// and the top of the upper dir belongs to the container's root so
	// that it can create files in /.
	upper := filepath.Join(dir, "upper")
	if err := os.Lchown(upper, int(c.Host.IDMap.Start), int(c.Host.IDMap.Start)); err != nil {
		return err
	}
	work := filepath.Join(dir, "work")
	opts := "lowerdir=" + strings.Join(lowers, ":") + ",upperdir=" + upper + ",workdir=" + work + ",index=off"
	if err := mountOverlay(merged, work, opts, c.Host.AutoRemove); err != nil {
		return fmt.Errorf("mount the container's root filesystem on idmapped layers: %w", err)
	}
	return nil
}
