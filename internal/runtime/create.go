package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/cgroups"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/hooks"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/runtime/syncproto"
	"github.com/berth-project/berth/internal/state"
)

// CreateOptions are create's inputs besides the id.
type CreateOptions struct {
	Bundle        string
	PidFile       string
	ConsoleSocket string
	// Console, if set, is used instead of dialing ConsoleSocket (run
	// relays the pty itself).
	Console *os.File
	NoPivot bool
	// NoNewKeyring keeps the caller's session keyring (--no-new-keyring).
	NoNewKeyring bool
	PreserveFDs  int
	// Stdio of the container's process; nil means the caller's own.
	Stdin, Stdout, Stderr *os.File

	spec *specs.Spec // already loaded by Run
}

// SyncFDEnv names the env var that tells init which fd is its end of the
// sync socket.
const SyncFDEnv = "_BERTH_SYNC_FD"

// cleanup is a stack of undo steps for a failed create.
type cleanup []func()

func (c *cleanup) push(f func()) { *c = append(*c, f) }
func (c cleanup) run() {
	for i := len(c) - 1; i >= 0; i-- {
		c[i]()
	}
}

// Create builds the container and leaves its init waiting for Start. On
// failure nothing remains: no process, cgroup, mount or state directory.
func (r *Runtime) Create(id string, o CreateOptions) (*state.Container, error) {
	c, _, err := r.create(id, o)
	return c, err
}

// create returns, besides the container, whether its init is our child.
func (r *Runtime) create(id string, o CreateOptions) (_ *state.Container, ourChild bool, err error) {
	if err := state.ValidateID(id); err != nil {
		return nil, false, err
	}
	bundle, err := filepath.Abs(o.Bundle)
	if err != nil {
		return nil, false, fmt.Errorf("bundle %s: %w", o.Bundle, err)
	}
	spec := o.spec
	if spec == nil {
		if spec, err = LoadSpec(bundle); err != nil {
			return nil, false, err
		}
	}
	if spec.Process != nil {
		if unknown := caps.WithoutUnknown(spec.Process.Capabilities); len(unknown) > 0 {
			r.warnf("ignoring unknown capabilities: %s", strings.Join(unknown, ", "))
		}
	}
	if err := Validate(spec); err != nil {
		return nil, false, err
	}
	if !rootfs.HasMountNamespace(spec) && (len(spec.Mounts) > 0 || len(spec.Linux.MaskedPaths) > 0 || len(spec.Linux.ReadonlyPaths) > 0) {
		r.warnf("no mount namespace: the container is chrooted into its rootfs, and the config's mounts, masked and read-only paths are not applied (they would be the host's)")
	}
	plan, err := planNamespaces(spec.Linux)
	if err != nil {
		return nil, false, err
	}
	trace("spec loaded")
	if (plan.needsConstructor()) && !nsenter.Supported() {
		return nil, false, errors.New("joining user, mount or time namespaces by path needs a cgo build of berth")
	}
	rootPath := spec.Root.Path
	if !filepath.IsAbs(rootPath) {
		rootPath = filepath.Join(bundle, rootPath)
	}
	if fi, err := os.Stat(rootPath); err != nil || !fi.IsDir() {
		return nil, false, fmt.Errorf("rootfs %s: not a directory", rootPath)
	}
	// Granting less than asked would run the process with other powers
	// than its config says; the kernel's own answer would be a bare EPERM.
	if err := grantable(spec.Process); err != nil {
		return nil, false, err
	}
	if spec.Process.Terminal && o.ConsoleSocket == "" && o.Console == nil {
		return nil, false, errors.New("process.terminal is true: --console-socket is required")
	}
	if !spec.Process.Terminal && o.ConsoleSocket != "" {
		return nil, false, errors.New("--console-socket given but process.terminal is false")
	}

	// The mkdir is the atomic claim on the id; the root lock is held only
	// around it, so concurrent creates do not wait for each other's init.
	store := r.store()
	unlock, err := store.Lock()
	if err != nil {
		return nil, false, err
	}
	dir := store.Dir(id)
	err = os.Mkdir(dir, 0o711)
	unlock()
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, false, fmt.Errorf("container with id %s already exists", id)
		}
		return nil, false, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	var undo cleanup
	defer func() {
		if err != nil {
			undo.run()
		}
	}()
	undo.push(func() { _ = os.RemoveAll(dir) }) // a failed create's; its error is returned

	c := &state.Container{
		ID: id, Bundle: bundle, Rootfs: rootPath, Created: time.Now().UTC(),
		Creating: true, Config: spec,
	}
	host, err := cgroups.DetectHost()
	if err != nil {
		return nil, false, err
	}
	c.Cgroup = cgroups.CleanPath(spec.Linux.CgroupsPath, id)
	// A rootless runtime with no cgroup delegated runs the container in
	// its own cgroup, as runc's rootless mode does, unless it was asked
	// for limits it could not enforce.
	if state.InUserNamespace() && !cgroups.Writable(host, c.Cgroup) {
		if cgroups.HasLimits(spec.Linux.Resources) {
			return nil, false, errors.New("resource limits cannot be applied: no cgroup is delegated to this user")
		}
		c.NoCgroup = true
	}
	cg := r.cgroupOf(host, c)
	// Saved once, before any cgroup exists, with the directories about to
	// be made: a crash from here on leaves delete all it needs. (Saving
	// again later would replace the file, which costs a millisecond on a
	// disk-backed /run.)
	if !c.NoCgroup {
		c.CgroupCreated = cgroups.Missing(host, c.Cgroup)
	}
	if err := store.Save(c); err != nil {
		return nil, false, err
	}
	cgCreated := false
	createCgroups := func() error {
		// A cgroup made by someone else may be frozen, which would hang
		// init as soon as it joins (runc refuses it; it stays as it is),
		// or hold processes, which then share the container's limits
		// (runc warns).
		if frozen, err := cg.Frozen(); err == nil && frozen {
			return fmt.Errorf("container's cgroup unexpectedly frozen: %s", c.Cgroup)
		}
		cgCreated = true
		err := cg.Create()
		c.CgroupCreated = cg.Created()
		if err != nil {
			return err
		}
		if pids, err := cg.Pids(); err == nil && len(pids) > 0 {
			r.warnf("container's cgroup is not empty: %d process(es) found", len(pids))
		}
		warnings, err := cg.Set(withoutDevices(spec.Linux.Resources))
		for _, w := range warnings {
			r.warnf("%s", w)
		}
		trace("cgroups created")
		return err
	}
	undo.push(func() {
		if !cgCreated {
			return
		}
		if err := cg.Destroy(); err != nil {
			r.warnf("%v", err)
		}
	})

	fifo := filepath.Join(dir, state.FifoFile)
	if err := unix.Mkfifo(fifo, 0o622); err != nil {
		return nil, false, fmt.Errorf("create exec fifo: %w", err)
	}
	// Whoever the container's user is must be able to open it for write.
	if err := os.Chmod(fifo, 0o622); err != nil {
		return nil, false, fmt.Errorf("chmod exec fifo: %w", err)
	}
	fifoFd, err := unix.Open(fifo, unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, false, fmt.Errorf("open exec fifo: %w", err)
	}
	fifoFile := os.NewFile(uintptr(fifoFd), "exec.fifo")
	defer fifoFile.Close() // ours; the child has its copy

	consoleFile := o.Console
	if spec.Process.Terminal && consoleFile == nil {
		if consoleFile, err = console.DialSocket(o.ConsoleSocket); err != nil {
			return nil, false, err
		}
		defer consoleFile.Close() // ours; the child has its copy
	}

	parentSock, childSock, extra, syncFD, err := childFiles(o.PreserveFDs)
	if err != nil {
		return nil, false, err
	}
	defer parentSock.Close() // ours; the child has its copy
	defer childSock.Close()  // ours; the child has its copy
	extra = append(extra, fifoFile)
	consoleFD := -1
	if consoleFile != nil {
		consoleFD = 3 + len(extra)
		extra = append(extra, consoleFile)
	}

	exe, exeFile, err := selfExe()
	if err != nil {
		return nil, false, err
	}
	defer exeFile.Close() // ours; the child has its copy
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       []string{InitArg0},
		Env:        []string{SyncFDEnv + "=" + strconv.Itoa(syncFD)},
		ExtraFiles: extra,
		Stdin:      orStd(o.Stdin, os.Stdin),
		Stdout:     orStd(o.Stdout, os.Stdout),
		Stderr:     orStd(o.Stderr, os.Stderr),
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: plan.cloneFlags,
			Setsid:     spec.Process.Terminal,
		},
	}
	if plan.newUserNS {
		cmd.SysProcAttr.UidMappings = idMaps(spec.Linux.UIDMappings)
		cmd.SysProcAttr.GidMappings = idMaps(spec.Linux.GIDMappings)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = true
		// Become root of the new user namespace before re-executing, or
		// the execve of init drops every capability.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, NoSetGroups: true}
	}
	// Without a Go runtime in init where the C start stage can do it all.
	native := initPlanned(spec, plan, o.NoPivot)
	if native {
		cmd.Env = append(cmd.Env, nsenter.PlanEnv+"=1")
	}
	cmd.Env = traceEnv(cmd.Env)
	if plan.needsConstructor() {
		enc, err := nsenter.Instruction{SyncFD: syncFD, Unshare: plan.unshare, Fork: plan.fork, Joins: plan.childJoins}.Encode()
		if err != nil {
			return nil, false, err
		}
		cmd.Env = append(cmd.Env, enc)
	}
	// Where a cgroup2 hierarchy exists (v2, hybrid) init is born in its
	// cgroup there, which must exist first. It joins v1 hierarchies itself
	// (cheap, see cgroups.Manager.SelfJoinFiles) unless it cannot reach or
	// write the host's cgroupfs: in a user namespace, or in a joined mount
	// namespace; then the parent moves it. On a v1-only host the cgroups
	// are made while init's Go runtime boots; init runs nothing of the
	// user's before it has joined (it waits for the bootstrap).
	selfJoin := !plan.inUserNS && !plan.needsConstructor()
	born := false
	if host.Mode != cgroups.ModeV1 && !plan.fork {
		if err := createCgroups(); err != nil {
			return nil, false, err
		}
		fd, ok, err := cg.CloneFD()
		if err != nil {
			return nil, false, err
		}
		if ok {
			defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
			cmd.SysProcAttr.UseCgroupFD, cmd.SysProcAttr.CgroupFD, born = true, fd, true
		}
	}

	// The debug lines name the steps as runc's do: tools written for
	// runc look for them.
	r.debugf("nsexec container setup")
	if err := startInit(cmd, plan.parentJoins); err != nil {
		return nil, false, err
	}
	trace("init cloned")
	_ = childSock.Close() // ours; the child has its copy
	pid := cmd.Process.Pid
	ourChild = true
	undo.push(func() {
		_ = unix.Kill(pid, unix.SIGKILL) // a child that failed to set up; it may be gone
		if ourChild {
			_ = cmd.Wait() // reaped; its status is the failure above
		}
	})
	if plan.fork {
		// The constructor forked: its child is init, and it exits.
		m, err := syncproto.Expect(parentSock, syncproto.MsgPid)
		_ = cmd.Wait() // the constructor's parent: it exits once it has forked
		ourChild = false
		if err != nil {
			return nil, false, fmt.Errorf("join namespaces: %w", err)
		}
		pid = m.Pid
	}
	if !cgCreated {
		if err := createCgroups(); err != nil {
			return nil, false, err
		}
	}
	var selfJoinFiles, selfJoinLast []string
	switch {
	case selfJoin:
		for _, f := range cg.SelfJoinFiles() {
			if mem := host.V1["memory"]; mem != "" && strings.HasPrefix(f, mem+"/") {
				selfJoinLast = append(selfJoinLast, f)
			} else {
				selfJoinFiles = append(selfJoinFiles, f)
			}
		}
	case !born || host.Mode == cgroups.ModeHybrid:
		if err := cg.Join(pid); err != nil {
			return nil, false, err
		}
	}
	st, err := state.ReadProcStat(pid)
	if err != nil {
		return nil, false, fmt.Errorf("container init exited during create: %w", r.initFailure(parentSock, err))
	}
	c.Pid, c.StartTime = pid, st.StartTime
	trace("init in cgroups")
	r.debugf("child process in init()")

	stateJSON, _ := json.Marshal(specState(c, Creating))
	filter, err := r.seccompProgram(spec)
	if err != nil {
		return nil, false, err
	}
	// Bind sources are opened by us, from inside init's mount namespace,
	// before init mounts anything: in its user namespace init's root may
	// not search a directory on the way to a source (a bundle only the
	// host's root can enter), and an fd of its own namespace is one it
	// may bind.
	var sourceIdx []int
	var sourceFDs []int
	if plan.inUserNS {
		if sourceIdx, sourceFDs, err = openBindSources(pid, spec, bundle); err != nil {
			return nil, false, err
		}
		defer func() {
			for _, fd := range sourceFDs {
				_ = unix.Close(fd) // ours; init has its copy once sent
			}
		}()
	}
	boot := &syncproto.Bootstrap{
		ID: id, Seccomp: filter, Bundle: bundle, Rootfs: rootPath, Spec: withoutSeccomp(spec), State: stateJSON,
		NoPivot: o.NoPivot, NoNewKeyring: o.NoNewKeyring, NewCgroupNS: plan.newCgroupNS, NewTimeNS: plan.newTimeNS,
		CgroupPaths: cg.Paths(), CgroupTasks: selfJoinFiles, CgroupTasksLast: selfJoinLast, PreserveFDs: o.PreserveFDs, FifoFD: syncFD + 1, ConsoleFD: consoleFD,
		InUserNS: plan.inUserNS, MountSources: sourceIdx,
	}
	if native {
		body, err := initPlan(boot, spec, filter, sourceFDs, 3+len(extra))
		if err == nil {
			err = syncproto.WriteFrame(parentSock, body)
		}
		if err != nil {
			return nil, false, r.initFailure(parentSock, err)
		}
	} else if err := syncproto.Write(parentSock, syncproto.Message{Type: syncproto.MsgBootstrap, Bootstrap: boot}); err != nil {
		return nil, false, r.initFailure(parentSock, err)
	}
	for _, fd := range sourceFDs {
		if err := syncproto.SendFd(parentSock, fd); err != nil {
			return nil, false, r.initFailure(parentSock, err)
		}
	}
	for done := false; !done; {
		m, err := syncproto.Read(parentSock)
		if err != nil {
			return nil, false, r.initFailure(parentSock, err)
		}
		switch m.Type {
		case syncproto.MsgError:
			return nil, false, &InitError{Msg: m.Error, Code: m.Code}
		case syncproto.MsgSeccompFd:
			if err := relaySeccompFd(parentSock, spec.Linux.Seccomp, c.Pid, specState(c, Creating)); err != nil {
				return nil, false, err
			}
		case syncproto.MsgRuntimeHooks:
			// Both run in the runtime's namespaces, before pivot_root.
			if spec.Hooks != nil {
				if err := hooks.Run("prestart", spec.Hooks.Prestart, stateJSON); err != nil {
					return nil, false, err
				}
				if err := hooks.Run("createRuntime", spec.Hooks.CreateRuntime, stateJSON); err != nil {
					return nil, false, err
				}
			}
			if err := syncproto.Write(parentSock, syncproto.Message{Type: syncproto.MsgHooksDone}); err != nil {
				return nil, false, err
			}
		case syncproto.MsgReady:
			trace("init ready")
			r.debugf("init: closing the pipe to signal completion")
			// Device rules last: with them init could not make /dev's
			// nodes. The user's process is still waiting for start.
			if rules := deviceRules(spec.Linux); len(rules) > 0 {
				if _, err := cg.Set(&specs.LinuxResources{Devices: rules}); err != nil {
					return nil, false, err
				}
			}
			done = true
		default:
			return nil, false, fmt.Errorf("sync: unexpected %q message from init", m.Type)
		}
	}

	c.Creating = false
	if err := store.Save(c); err != nil {
		return nil, false, err
	}
	trace("state saved")
	if o.PidFile != "" {
		if err := writePidFile(o.PidFile, pid); err != nil {
			return nil, false, err
		}
	}
	return c, ourChild, nil
}

// openBindSources opens (O_PATH) the source of each bind mount from
// inside the mount namespace of init (pid), with the runtime's own
// credentials, and returns the mounts' indexes in spec.Mounts with the
// fds, in the same order. The opening thread joins that namespace and is
// then thrown away.
func openBindSources(pid int, spec *specs.Spec, bundle string) ([]int, []int, error) {
	var idx []int
	var paths []string
	for i, m := range spec.Mounts {
		if m.Type != "bind" && !slices.Contains(m.Options, "bind") && !slices.Contains(m.Options, "rbind") {
			continue
		}
		src := m.Source
		if !filepath.IsAbs(src) {
			src = filepath.Join(bundle, src)
		}
		idx, paths = append(idx, i), append(paths, src)
	}
	if len(paths) == 0 {
		return nil, nil, nil
	}
	type result struct {
		fds []int
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Never unlocked: Go ends the thread with the goroutine, so no
		// other goroutine runs in the container's mount namespace.
		goruntime.LockOSThread()
		var fds []int
		err := func() error {
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("open bind sources: unshare fs: %w", err)
			}
			ns, err := unix.Open(fmt.Sprintf("/proc/%d/ns/mnt", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("open bind sources: %w", err)
			}
			defer unix.Close(ns) // joined below, or not
			if err := unix.Setns(ns, unix.CLONE_NEWNS); err != nil {
				return fmt.Errorf("open bind sources: join the mount namespace: %w", err)
			}
			for i, p := range paths {
				fd, err := unix.Open(p, unix.O_PATH|unix.O_CLOEXEC, 0)
				if err != nil {
					return fmt.Errorf("bind mount source %s: %w", spec.Mounts[idx[i]].Source, err)
				}
				fds = append(fds, fd)
			}
			return nil
		}()
		if err != nil {
			for _, fd := range fds {
				_ = unix.Close(fd) // ours, unused
			}
			fds = nil
		}
		done <- result{fds, err}
	}()
	r := <-done
	return idx, r.fds, r.err
}

// childFiles makes the sync socketpair and lays out the fds a re-executed
// child gets: 0-2 stdio, 3.. the preserved ones, then the sync socket at
// syncFD; callers append theirs after it.
func childFiles(preserve int) (parent, child *os.File, extra []*os.File, syncFD int, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, nil, 0, fmt.Errorf("create sync socket: %w", err)
	}
	parent = os.NewFile(uintptr(fds[0]), "sync-parent")
	child = os.NewFile(uintptr(fds[1]), "sync-child")
	for i := 0; i < preserve; i++ {
		extra = append(extra, os.NewFile(uintptr(3+i), "preserved-"+strconv.Itoa(3+i)))
	}
	syncFD = 3 + len(extra)
	return parent, child, append(extra, child), syncFD, nil
}

// initFailure turns a broken sync channel into the child's own words if
// it managed to send them, else into the generic reason.
func (r *Runtime) initFailure(sock *os.File, cause error) error {
	_ = sock.SetReadDeadline(time.Now().Add(100 * time.Millisecond)) // a socket: cannot fail
	if m, err := syncproto.Read(sock); err == nil && m.Type == syncproto.MsgError {
		return &InitError{Msg: m.Error, Code: m.Code}
	}
	if errors.Is(cause, syncproto.ErrClosed) {
		return errors.New("container init exited before it was ready")
	}
	return cause
}

// startInit starts init. Namespaces the parent joins are entered by a
// locked thread that then clones: the child inherits them. That thread is
// never unlocked, so Go discards it instead of reusing it elsewhere.
func startInit(cmd *exec.Cmd, joins []nsenter.Join) error {
	if len(joins) == 0 {
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start container init: %w", err)
		}
		return nil
	}
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		for _, j := range joins {
			fd, err := unix.Open(j.Path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				errc <- fmt.Errorf("open %s namespace %s: %w", j.Type, j.Path, err)
				return
			}
			err = unix.Setns(fd, int(cloneFlag[j.Type]))
			_ = unix.Close(fd) // a descriptor of ours
			if err != nil {
				errc <- fmt.Errorf("join %s namespace %s: %w", j.Type, j.Path, err)
				return
			}
		}
		if err := cmd.Start(); err != nil {
			errc <- fmt.Errorf("start container init: %w", err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

// withoutDevices returns r without its device rules (applied later).
func withoutDevices(r *specs.LinuxResources) *specs.LinuxResources {
	if r == nil || len(r.Devices) == 0 {
		return r
	}
	c := *r
	c.Devices = nil
	return &c
}

func idMaps(m []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(m))
	for i, e := range m {
		out[i] = syscall.SysProcIDMap{ContainerID: int(e.ContainerID), HostID: int(e.HostID), Size: int(e.Size)}
	}
	return out
}

func orStd(f, def *os.File) *os.File {
	if f != nil {
		return f
	}
	return def
}

func writePidFile(path string, pid int) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("pid file %s: %w", path, err)
	}
	return state.WriteFileAtomic(abs, []byte(strconv.Itoa(pid)), 0o644)
}

// grantable refuses a process that asks for capabilities this host's
// bounding set lacks: granting less would run it with other powers than
// its config says, and the kernel's own answer would be a bare EPERM.
func grantable(p *specs.Process) error {
	if missing := caps.Unavailable(p.Capabilities); len(missing) > 0 {
		return fmt.Errorf("capabilities %s are not in this host's bounding set, so no process here can have them: drop them from the config", strings.Join(missing, ", "))
	}
	return nil
}
