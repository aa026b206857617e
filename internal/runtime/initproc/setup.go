package initproc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/console"
	"github.com/berth-project/berth/internal/hooks"
	"github.com/berth-project/berth/internal/rootfs"
	"github.com/berth-project/berth/internal/runtime/syncproto"
	"github.com/berth-project/berth/internal/seccomp"
	"github.com/berth-project/berth/internal/sys"
	"github.com/berth-project/berth/internal/trace"
)

type setup struct {
	sock *os.File
	b    *syncproto.Bootstrap
	// filter is the compiled seccomp program, nil once installed (or
	// when there is none).
	filter *seccomp.Program
	// hostProc is the host's /proc, opened before a chroot in the host's
	// mount namespace (whose rootfs has no /proc of its own); else 0,
	// and init reads the /proc mounted in its rootfs.
	hostProc int
	// sources are the bind sources the parent opened for us (see
	// Bootstrap.MountSources), by index in the spec's mounts; kept here
	// so that no finalizer closes them before they are mounted.
	sources map[int]*os.File
}

// sourcePaths names each received source by its fd, for the mount.
func (s *setup) sourcePaths() map[int]string {
	if len(s.sources) == 0 {
		return nil
	}
	out := map[int]string{}
	for i, f := range s.sources {
		out[i] = "/proc/self/fd/" + strconv.Itoa(int(f.Fd()))
	}
	return out
}

// receiveMountSources takes the bind sources the parent sends after the
// bootstrap.
func (s *setup) receiveMountSources() error {
	for _, i := range s.b.MountSources {
		f, err := syncproto.RecvFd(s.sock)
		if err != nil {
			return fmt.Errorf("receive the source of mount %d: %w", i, err)
		}
		if s.sources == nil {
			s.sources = map[int]*os.File{}
		}
		s.sources[i] = f
	}
	return nil
}

// openProc opens /proc/REL of this process.
func (s *setup) openProc(rel string, flags int) (*os.File, error) {
	if s.hostProc <= 0 {
		return os.OpenFile("/proc/"+rel, flags|unix.O_CLOEXEC, 0)
	}
	fd, err := unix.Openat(s.hostProc, rel, flags|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/proc/" + rel, Err: err}
	}
	return os.NewFile(uintptr(fd), "/proc/"+rel), nil
}

// installSeccomp installs the compiled filter once. A filter that
// notifies an agent hands its listener fd to the parent, which passes it
// on to linux.seccomp.listenerPath.
func (s *setup) installSeccomp() error {
	f := s.filter
	s.filter = nil
	fd, err := f.Install()
	if err != nil || fd < 0 {
		return err
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	if err := syncproto.Write(s.sock, syncproto.Message{Type: syncproto.MsgSeccompFd}); err != nil {
		return err
	}
	return syncproto.SendFd(s.sock, fd)
}

// prepare does everything up to ready and returns the resolved path of
// the program to execute.
func (s *setup) prepare() (string, error) {
	b, spec := s.b, s.b.Spec
	proc := spec.Process
	if err := s.receiveMountSources(); err != nil {
		return "", err
	}
	// Join the v1 cgroups first, from this thread: it is the one that
	// execs, and then it is the whole process.
	if err := joinSelf(b.CgroupTasks); err != nil {
		return "", err
	}
	// A session keyring of its own, so keys do not leak between
	// containers or from the host's session (runc names it the same way).
	if !b.NoNewKeyring {
		if _, err := unix.KeyctlJoinSessionKeyring("_ses." + b.ID); err != nil && !errors.Is(err, unix.ENOSYS) {
			return "", fmt.Errorf("join a new session keyring: %w", err)
		}
	}
	// Opened now, written just before ready: after pivot_root the host's
	// cgroupfs is out of reach.
	var late []*os.File
	for _, f := range b.CgroupTasksLast {
		t, err := os.OpenFile(f, os.O_WRONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			return "", fmt.Errorf("join cgroup %s: %w", filepath.Dir(f), err)
		}
		defer t.Close() // read only
		late = append(late, t)
	}
	// The cgroup namespace takes our cgroups at this instant as its root,
	// so it is made after the last join.
	cgroupNSDone := false
	newCgroupNS := func() error {
		if !b.NewCgroupNS || cgroupNSDone {
			return nil
		}
		cgroupNSDone = true
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
			return fmt.Errorf("create cgroup namespace: %w", err)
		}
		return nil
	}
	if len(b.CgroupTasksLast) == 0 {
		if err := newCgroupNS(); err != nil {
			return "", err
		}
	}
	if b.NewTimeNS {
		if err := newTimeNamespace(spec.Linux.TimeOffsets); err != nil {
			return "", err
		}
	}
	if NewNetworkNamespace(spec) {
		if err := loopbackUp(); err != nil {
			return "", err
		}
	}
	trace.Phase("init", "bootstrap read")
	// Without a mount namespace every mount would be the host's: the
	// rootfs is only chrooted into (the runtime warned about the rest).
	ownMounts := rootfs.HasMountNamespace(spec)
	var err error
	if ownMounts {
		err = rootfs.Prepare(sys.Linux{}, rootfs.Config{
			Spec: spec, Rootfs: b.Rootfs, CgroupPaths: b.CgroupPaths,
			NewCgroupNS: b.NewCgroupNS, InUserNS: b.InUserNS, Bundle: b.Bundle,
			Sources: s.sourcePaths(),
		})
		if err != nil {
			return "", err
		}
	}
	if h := spec.Hooks; h != nil && (len(h.Prestart) > 0 || len(h.CreateRuntime) > 0) {
		if err := syncproto.Write(s.sock, syncproto.Message{Type: syncproto.MsgRuntimeHooks}); err != nil {
			return "", err
		}
		if _, err := syncproto.Expect(s.sock, syncproto.MsgHooksDone); err != nil {
			return "", err
		}
	}
	if h := spec.Hooks; h != nil && len(h.CreateContainer) > 0 {
		// In the rootfs, as runc runs them: hooks written for it use
		// paths relative to it.
		if err := unix.Chdir(b.Rootfs); err != nil {
			return "", fmt.Errorf("chdir to the rootfs: %w", err)
		}
		if err := hooks.Run("createContainer", h.CreateContainer, b.State); err != nil {
			return "", err
		}
	}
	trace.Phase("init", "mounts done")
	switch {
	case !ownMounts:
		s.hostProc, err = chrootInto(b.Rootfs)
	case b.NoPivot:
		err = rootfs.MoveRoot(b.Rootfs)
	default:
		err = rootfs.PivotRoot(b.Rootfs)
	}
	if err != nil {
		return "", err
	}
	trace.Phase("init", "pivoted")
	if ownMounts {
		if err := rootfs.Finish(sys.Linux{}, spec); err != nil {
			return "", err
		}
	}
	trace.Phase("init", "masked")
	if proc.Terminal {
		if err := s.setupConsole(proc); err != nil {
			return "", err
		}
	}
	if spec.Hostname != "" {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return "", fmt.Errorf("set hostname %q: %w", spec.Hostname, err)
		}
	}
	if spec.Domainname != "" {
		if err := unix.Setdomainname([]byte(spec.Domainname)); err != nil {
			return "", fmt.Errorf("set domainname %q: %w", spec.Domainname, err)
		}
	}
	// The memory hierarchy last: from here on, what init allocates is the
	// container's (while it still has the capabilities to make the cgroup
	// namespace).
	for _, t := range late {
		if _, err := t.Write([]byte("0")); err != nil {
			return "", fmt.Errorf("join cgroup %s: %w", filepath.Dir(t.Name()), err)
		}
	}
	if err := newCgroupNS(); err != nil {
		return "", err
	}
	return s.processSetup(proc)
}

// processSetup applies the process attributes of proc, for a container's
// init and for an exec alike, and reports ready. It returns the resolved
// program path.
func (s *setup) processSetup(proc *specs.Process) (string, error) {
	// Compiled by the runtime; installed as late as possible.
	s.filter = s.b.Seccomp
	for _, rl := range proc.Rlimits {
		if err := setRlimit(rl); err != nil {
			return "", err
		}
	}
	if proc.OOMScoreAdj != nil {
		v := strconv.Itoa(*proc.OOMScoreAdj)
		f, err := s.openProc("self/oom_score_adj", os.O_WRONLY)
		if err == nil {
			_, err = f.Write([]byte(v))
			_ = f.Close() // written, or the write's error is returned
		}
		if err != nil {
			return "", fmt.Errorf("set oom_score_adj %s: %w", v, err)
		}
	}
	// Without no_new_privs a filter can only be installed while we still
	// hold CAP_SYS_ADMIN: before the user switch. With it, right before
	// execve, so it constrains none of our own set-up.
	//
	// A filter with a notify listener goes in here too: its fd must reach
	// the agent before the container is ready.
	if !proc.NoNewPrivileges || (s.filter != nil && s.filter.Notify) {
		if err := s.installSeccomp(); err != nil {
			return "", err
		}
	}
	// The cwd is entered first with our own rights, as runc does: a
	// directory the user cannot search is still the cwd. One that only
	// the user may enter (a volume chowned to it) is tried again after
	// the switch.
	chdirErr := unix.Chdir(proc.Cwd)
	if chdirErr != nil && !errors.Is(chdirErr, unix.EACCES) && !errors.Is(chdirErr, unix.EPERM) {
		return "", fmt.Errorf("chdir to cwd %q set in config.json: %w", proc.Cwd, chdirErr)
	}
	if err := fixStdioOwner(int(proc.User.UID)); err != nil {
		return "", err
	}
	if err := applyUserAndCaps(proc); err != nil {
		return "", err
	}
	unix.Umask(0o022)
	if proc.User.Umask != nil {
		unix.Umask(int(*proc.User.Umask))
	}
	if chdirErr != nil {
		if err := unix.Chdir(proc.Cwd); err != nil {
			return "", fmt.Errorf("chdir to cwd %q set in config.json: %w", proc.Cwd, err)
		}
	}
	if proc.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return "", fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	path, err := lookPath(proc.Args[0], proc.Env)
	if err != nil {
		return "", err
	}
	if err := s.closeInheritedFds(3 + s.b.PreserveFDs); err != nil {
		return "", err
	}
	trace.Phase("init", "ready")
	if err := syncproto.Write(s.sock, syncproto.Message{Type: syncproto.MsgReady}); err != nil {
		return "", err
	}
	_ = s.sock.Close() // the sync socket, done with
	return path, nil
}

// prepareExec readies a process that joins a running container: the C
// constructor has entered its namespaces and the runtime its cgroups, so
// only the process attributes remain.
func (s *setup) prepareExec() (string, error) {
	proc := s.b.Spec.Process
	if proc.Terminal {
		if err := s.setupConsole(proc); err != nil {
			return "", err
		}
	}
	return s.processSetup(proc)
}

// execProcess becomes the exec'd program.
func (s *setup) execProcess(path string) error {
	proc := s.b.Spec.Process
	if err := s.installSeccomp(); err != nil {
		return err
	}
	err := syscall.Exec(path, proc.Args, proc.Env)
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &execError{err: fmt.Errorf("exec %s: %w", path, err), code: code}
}

// execute waits for start and becomes the user's process.
func (s *setup) execute(path string) error {
	spec := s.b.Spec
	// Reopening the O_PATH fd through /proc blocks until start opens the
	// fifo for reading. /proc/self/fd of our own process is always ours
	// to open, whatever user we have become.
	f, err := s.openProc("self/fd/"+strconv.Itoa(s.b.FifoFD), os.O_WRONLY)
	if err != nil {
		return fmt.Errorf("open exec fifo: %w", err)
	}
	if _, err := f.Write([]byte{'0'}); err != nil {
		return fmt.Errorf("write exec fifo: %w", err)
	}
	// f stays open: it is close-on-exec, so start sees EOF exactly when
	// execve has replaced us, and runs poststart hooks only after that.
	_ = unix.Close(s.b.FifoFD) // the exec fifo, written
	// startContainer hooks run in the container as its process would,
	// under its seccomp filter too (as with runc).
	if err := s.installSeccomp(); err != nil {
		return err
	}
	if h := spec.Hooks; h != nil && len(h.StartContainer) > 0 {
		if err := hooks.Run("startContainer", h.StartContainer, s.b.State); err != nil {
			return err
		}
	}
	trace.Phase("init", "execve")
	err = syscall.Exec(path, spec.Process.Args, spec.Process.Env)
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &execError{err: fmt.Errorf("exec %s: %w", path, err), code: code}
}

func newTimeNamespace(offsets map[string]specs.LinuxTimeOffset) error {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		return fmt.Errorf("create time namespace: %w", err)
	}
	if len(offsets) == 0 {
		return nil
	}
	var b strings.Builder
	for clock, o := range offsets {
		fmt.Fprintf(&b, "%s %d %d\n", clock, o.Secs, o.Nanosecs)
	}
	// Offsets can be written only until the first process enters the
	// namespace; ours does at execve.
	if err := os.WriteFile("/proc/self/timens_offsets", []byte(b.String()), 0); err != nil {
		return fmt.Errorf("set time namespace offsets: %w", err)
	}
	return nil
}

func (s *setup) setupConsole(proc *specs.Process) error {
	if s.b.ConsoleFD < 0 {
		return errors.New("process.terminal is true but no console socket was passed")
	}
	sock := os.NewFile(uintptr(s.b.ConsoleFD), "console-socket")
	defer sock.Close() // the console socket: the master was sent over it
	master, slave, err := console.OpenPty()
	if err != nil {
		return err
	}
	defer master.Close() // ours; the console socket carried a copy
	if cs := proc.ConsoleSize; cs != nil {
		if err := console.SetSize(master, cs.Width, cs.Height); err != nil {
			return err
		}
	}
	if err := console.SendFd(sock, master); err != nil {
		return err
	}
	for fd := 0; fd < 3; fd++ {
		if err := unix.Dup3(int(slave.Fd()), fd, 0); err != nil {
			return fmt.Errorf("dup console to fd %d: %w", fd, err)
		}
	}
	_ = slave.Close() // the dups on 0-2 are the ones used
	// A process the nsenter constructor forked is not a session leader
	// yet; one that is gets EPERM here, which changes nothing.
	_, _ = unix.Setsid() // fails only for a process group leader, which init is not
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return nil
}

var rlimitTypes = map[string]int{
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_CPU": unix.RLIMIT_CPU,
	"RLIMIT_DATA": unix.RLIMIT_DATA, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS,
	"RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK, "RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE,
	"RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO, "RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING, "RLIMIT_STACK": unix.RLIMIT_STACK,
}

// RlimitNumber is the RLIMIT_* number of a spec's rlimit type.
func RlimitNumber(name string) (int, bool) {
	t, ok := rlimitTypes[name]
	return t, ok
}

// setRlimit uses package syscall on purpose: its Setrlimit tells the Go
// runtime not to restore the original RLIMIT_NOFILE at execve.
func setRlimit(rl specs.POSIXRlimit) error {
	t, ok := rlimitTypes[rl.Type]
	if !ok {
		return fmt.Errorf("unknown rlimit %q", rl.Type)
	}
	if err := syscall.Setrlimit(t, &syscall.Rlimit{Cur: rl.Soft, Max: rl.Hard}); err != nil {
		return fmt.Errorf("set %s to %d/%d: %w", rl.Type, rl.Soft, rl.Hard, err)
	}
	return nil
}

// chrootInto makes dir the root of a process that shares the host's
// mount namespace, and returns the host's /proc, opened before, for
// init's own use until it execs (close-on-exec).
func chrootInto(dir string) (int, error) {
	proc, err := unix.Open("/proc", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("open /proc: %w", err)
	}
	if err := unix.Chroot(dir); err != nil {
		_ = unix.Close(proc) // ours, unused
		return 0, fmt.Errorf("chroot to %s: %w", dir, err)
	}
	if err := unix.Chdir("/"); err != nil {
		_ = unix.Close(proc) // ours, unused
		return 0, fmt.Errorf("chdir to the new root: %w", err)
	}
	return proc, nil
}

// fixStdioOwner gives the process's stdio to its user, as runc does, so
// that a process that is not root can reopen its terminal
// (/proc/self/fd/0, tty(1) and ssh-like programs do). /dev/null and
// files the user owns already are left; an owner the user namespace
// cannot map, or a file we may not change, stays as it is.
func fixStdioOwner(uid int) error {
	for fd := 0; fd < 3; fd++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			if errors.Is(err, unix.EBADF) {
				continue // closed: nothing to own
			}
			return fmt.Errorf("stat fd %d: %w", fd, err)
		}
		if int(st.Uid) == uid || st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == unix.Mkdev(1, 3) {
			continue
		}
		if err := unix.Fchown(fd, uid, -1); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EROFS) {
			return fmt.Errorf("give fd %d to uid %d: %w", fd, uid, err)
		}
	}
	return nil
}

// applyUserAndCaps switches to the process user and leaves exactly the
// configured capabilities: the bounding set is cut while we still have
// CAP_SETPCAP, KEEPCAPS carries permitted caps across setuid, and the
// other sets are set last. The raw syscalls act on this thread only,
// which is the one that will execve.
func applyUserAndCaps(proc *specs.Process) error {
	sets, err := caps.FromSpec(proc.Capabilities)
	if err != nil {
		return err
	}
	if sets, err = sets.Restrict(); err != nil {
		return err
	}
	if proc.Capabilities != nil {
		if err := caps.DropBounding(sets.Bounding); err != nil {
			return err
		}
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set keepcaps: %w", err)
	}
	u := proc.User
	gids := make([]int, len(u.AdditionalGids))
	for i, g := range u.AdditionalGids {
		gids[i] = int(g)
	}
	if err := unix.Setgroups(gids); err != nil {
		// A user namespace with setgroups denied cannot clear them; only
		// an explicit request for additional groups makes that fatal.
		if !(errors.Is(err, unix.EPERM) && len(gids) == 0) {
			return fmt.Errorf("setgroups %v: %w", u.AdditionalGids, err)
		}
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setgid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setuid %d: %w", u.UID, e)
	}
	if err := unix.Prctl(unix.PR_SET_KEEPCAPS, 0, 0, 0, 0); err != nil {
		return fmt.Errorf("clear keepcaps: %w", err)
	}
	return caps.Apply(sets)
}

const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// lookPath finds name as a shell would, in the container's PATH, and
// fails in the words Go's os/exec uses, which users know from Docker.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			code := 126 // there, but not to be run
			if errors.Is(err, os.ErrNotExist) {
				code = 127
			}
			return "", &execError{err: fmt.Errorf("exec: %q: %w", name, err), code: code}
		}
		return name, nil
	}
	pathEnv := defaultPath
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			pathEnv = e[5:]
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if errors.Is(err, os.ErrPermission) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", &execError{err: fmt.Errorf("exec: %q: %w", name, denied), code: 126}
	}
	return "", &execError{err: fmt.Errorf("exec: %q: executable file not found in $PATH", name), code: 127}
}

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("is a directory: %w", os.ErrPermission)
	}
	// With our effective rights, capabilities included, as execve
	// checks them: access(2) would judge by the real uid and drop
	// CAP_DAC_OVERRIDE, which lets a user run a binary only its owner
	// may execute.
	if err := unix.Faccessat(unix.AT_FDCWD, p, unix.X_OK, unix.AT_EACCESS); err != nil {
		return fmt.Errorf("permission denied: %w", os.ErrPermission)
	}
	return nil
}

// closeInheritedFds marks every fd from first upward close-on-exec, so
// nothing of the runtime's (a host directory, say: CVE-2024-21626)
// reaches the container's process. The fds we still need are O_CLOEXEC
// already and are closed explicitly.
func (s *setup) closeInheritedFds(first int) error {
	d, err := s.openProc("self/fd", os.O_RDONLY|unix.O_DIRECTORY)
	if err != nil {
		return fmt.Errorf("list open fds: %w", err)
	}
	ents, err := d.ReadDir(-1)
	_ = d.Close() // read
	if err != nil {
		return fmt.Errorf("list open fds: %w", err)
	}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < first {
			continue
		}
		unix.CloseOnExec(fd)
	}
	return nil
}

// joinSelf moves the calling thread into each v1 cgroup whose tasks file
// is listed (see cgroups.Manager.SelfJoinFiles).
func joinSelf(tasks []string) error {
	for _, f := range tasks {
		if err := os.WriteFile(f, []byte("0"), 0); err != nil {
			return fmt.Errorf("join cgroup %s: %w", filepath.Dir(f), err)
		}
	}
	return nil
}

// NewNetworkNamespace reports whether the container gets a network
// namespace of its own, new (not joined by path).
func NewNetworkNamespace(spec *specs.Spec) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == specs.NetworkNamespace {
			return ns.Path == ""
		}
	}
	return false
}

// loopbackUp brings lo up in the container's new network namespace, as
// runc and crun do: a new namespace's lo starts down, and programs that
// talk to 127.0.0.1 inside expect it up. One ioctl from here, where a
// caller outside would have to enter the namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring lo up: %w", err)
	}
	return nil
}
