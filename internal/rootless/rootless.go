// Package rootless runs berth for an unprivileged user: it maps the
// user's ids into a user namespace (their own uid as root, and their
// subordinate range from /etc/subuid and /etc/subgid through
// newuidmap/newgidmap), keeps that namespace and a mount namespace alive
// in a pause process (the C init's --pause), and re-executes each berth
// command inside both. There the engine is root over the mapped ids:
// it unpacks layers with their owners, mounts overlayfs, and makes the
// containers' namespaces, as it does as root; the host sees only the
// user's ids. Every command joins the same namespaces, so the overlay
// mounts of one are the mounts of the next.
package rootless

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/nsenter"
	"github.com/berth-project/berth/internal/state"
	"github.com/berth-project/berth/internal/tinyinit"
	"github.com/berth-project/berth/internal/trace"
)

// ActiveEnv marks a process that runs inside the rootless namespaces.
const ActiveEnv = "BERTH_ROOTLESS"

// Active reports whether berth runs rootless (inside the namespaces).
func Active() bool { return os.Getenv(ActiveEnv) == "1" }

// Range is one subordinate id range: host ids Start..Start+Count-1.
type Range struct {
	Start, Count uint32
}

// Identity is the user and the ids the namespace maps.
type Identity struct {
	User     string
	UID, GID uint32
	// SubUID and SubGID are the user's subordinate ranges; none when
	// the user has none, and then only the user's own ids are mapped.
	SubUID, SubGID []Range
}

// Paths are a rootless user's storage and run state.
type Paths struct {
	Root, RunRoot string
}

// DefaultPaths are XDG's: $XDG_DATA_HOME/berth (~/.local/share/berth),
// and $XDG_RUNTIME_DIR/berth or, without it, a private directory in the
// user's home.
func DefaultPaths() (Paths, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return Paths{}, fmt.Errorf("rootless: %w", err)
	}
	data := os.Getenv("XDG_DATA_HOME")
	if data == "" {
		data = filepath.Join(home, ".local", "share")
	}
	p := Paths{Root: filepath.Join(data, "berth")}
	if run := os.Getenv("XDG_RUNTIME_DIR"); run != "" {
		p.RunRoot = filepath.Join(run, "berth")
	} else {
		p.RunRoot = filepath.Join(home, ".local", "share", "berth-run")
	}
	return p, nil
}

// CurrentIdentity reads the caller's ids and subordinate ranges.
func CurrentIdentity() (Identity, error) {
	id := Identity{UID: uint32(os.Getuid()), GID: uint32(os.Getgid())}
	u, err := user.LookupId(strconv.Itoa(os.Getuid()))
	if err != nil {
		return id, fmt.Errorf("rootless: look up uid %d: %w", id.UID, err)
	}
	id.User = u.Username
	if id.SubUID, err = SubIDs("/etc/subuid", u.Username, id.UID); err != nil {
		return id, err
	}
	if id.SubGID, err = SubIDs("/etc/subgid", u.Username, id.UID); err != nil {
		return id, err
	}
	return id, nil
}

// SubIDs reads the ranges of a user (by name or uid) from a subid file
// (NAME:START:COUNT lines). A missing file has none.
func SubIDs(file, name string, uid uint32) ([]Range, error) {
	f, err := os.Open(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("rootless: %w", err)
	}
	defer f.Close() // read only
	var out []Range
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		parts := strings.Split(line, ":")
		if len(parts) != 3 || strings.HasPrefix(line, "#") || (parts[0] != name && parts[0] != strconv.FormatUint(uint64(uid), 10)) {
			continue
		}
		start, err1 := strconv.ParseUint(parts[1], 10, 32)
		count, err2 := strconv.ParseUint(parts[2], 10, 32)
		if err1 != nil || err2 != nil || count == 0 {
			continue // a malformed line maps nothing, as shadow's tools treat it
		}
		out = append(out, Range{uint32(start), uint32(count)})
	}
	return out, sc.Err()
}

// Size is how many ids the namespace maps: the user's own, then each
// subordinate range after it.
func (id Identity) Size(subs []Range) uint32 {
	n := uint32(1)
	for _, r := range subs {
		n += r.Count
	}
	return n
}

// mapArgs are newuidmap's (or newgidmap's) triples: 0 is the user's own
// id, 1.. the subordinate ranges in order.
func mapArgs(own uint32, subs []Range) []string {
	args := []string{"0", strconv.FormatUint(uint64(own), 10), "1"}
	next := uint32(1)
	for _, r := range subs {
		args = append(args, strconv.FormatUint(uint64(next), 10), strconv.FormatUint(uint64(r.Start), 10), strconv.FormatUint(uint64(r.Count), 10))
		next += r.Count
	}
	return args
}

// Enter re-executes the calling berth command inside the user's
// namespaces, making them first if no pause process holds them. It
// returns only as root (nothing to do) or on an error; warn gets the
// one-line warnings of a first start.
func Enter(warn func(string)) error {
	if nsenter.JoinedRootless() {
		// The constructor joined the namespaces already (the pause was
		// up): what the re-execution below would pass on, set here.
		paths, err := activePaths()
		if err != nil {
			return err
		}
		for k, v := range map[string]string{ActiveEnv: "1", "BERTH_STORAGE": paths.Root, "BERTH_ROOT": paths.RunRoot} {
			if err := os.Setenv(k, v); err != nil {
				return fmt.Errorf("rootless: %w", err)
			}
		}
		trace.Phase("cli", "rootless namespaces joined before Go")
		return nil
	}
	if os.Geteuid() == 0 {
		return nil
	}
	if !nsenter.Supported() {
		return errors.New("rootless: this berth was built without cgo, which joining the user namespace needs")
	}
	paths, err := activePaths()
	if err != nil {
		return err
	}
	for _, d := range []string{paths.Root, paths.RunRoot} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("rootless: %w", err)
		}
	}
	pid, err := ensurePause(paths.RunRoot, warn)
	if err != nil {
		return err
	}
	join, err := nsenter.Instruction{SyncFD: -1, Joins: []nsenter.Join{
		{Type: "user", Path: fmt.Sprintf("/proc/%d/ns/user", pid)},
		{Type: "mnt", Path: fmt.Sprintf("/proc/%d/ns/mnt", pid)},
	}}.Encode()
	if err != nil {
		return err
	}
	env := append(os.Environ(), join, ActiveEnv+"=1", "BERTH_STORAGE="+paths.Root, "BERTH_ROOT="+paths.RunRoot)
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("rootless: %w", err)
	}
	return fmt.Errorf("rootless: re-execute in the user namespace: %w", syscall.Exec(self, os.Args, env))
}

// activePaths are the user's stores: DefaultPaths, or BERTH_STORAGE and
// BERTH_ROOT where set. nsenter's rootless.c finds the pause under the
// same RunRoot.
func activePaths() (Paths, error) {
	paths, err := DefaultPaths()
	if err != nil {
		return Paths{}, err
	}
	if v := os.Getenv("BERTH_STORAGE"); v != "" {
		paths.Root = v
	}
	if v := os.Getenv("BERTH_ROOT"); v != "" {
		paths.RunRoot = v
	}
	return paths, nil
}

// PauseFile holds the pause process's pid and start time.
func PauseFile(runRoot string) string { return filepath.Join(runRoot, "rootless", "pause.pid") }

// ensurePause returns the pid of the live pause process, starting one
// (under a lock, so that concurrent first commands make one) if none.
func ensurePause(runRoot string, warn func(string)) (int, error) {
	dir := filepath.Join(runRoot, "rootless")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return 0, fmt.Errorf("rootless: %w", err)
	}
	if pid, ok := livePause(runRoot); ok {
		return pid, nil
	}
	unlock, err := state.Flock(filepath.Join(dir, "pause.lock"))
	if err != nil {
		return 0, err
	}
	defer unlock()
	if pid, ok := livePause(runRoot); ok {
		return pid, nil // another command started it meanwhile
	}
	id, err := CurrentIdentity()
	if err != nil {
		return 0, err
	}
	pid, err := startPause(id, warn)
	if err != nil {
		return 0, err
	}
	st, err := state.ReadProcStat(pid)
	if err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL) // our child, gone already or useless: the error is returned
		return 0, fmt.Errorf("rootless: the namespace holder: %w", err)
	}
	rec := fmt.Sprintf("%d %d\n", pid, st.StartTime)
	if err := state.WriteFileAtomic(PauseFile(runRoot), []byte(rec), 0o600); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL) // our child, useless unrecorded: the write's error is returned
		return 0, err
	}
	return pid, nil
}

// livePause reads the pause file and checks that its process lives.
func livePause(runRoot string) (int, bool) {
	b, err := os.ReadFile(PauseFile(runRoot))
	if err != nil {
		return 0, false
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil || pid <= 0 {
		return 0, false
	}
	return pid, state.Alive(pid, start)
}

// startPause starts the C init's pause in a new user and mount
// namespace, and maps the user's ids into it.
func startPause(id Identity, warn func(string)) (int, error) {
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer null.Close() // the child has its copies
	cmd := &exec.Cmd{
		Path:   "/proc/self/exe",
		Args:   []string{container.InitPath, tinyinit.PauseArg},
		Stdin:  null,
		Stdout: null,
		Stderr: null,
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			Setsid:     true,
		},
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("rootless: start the namespace holder: %w", err)
	}
	pid := cmd.Process.Pid
	if err := writeMaps(pid, id, warn); err != nil {
		_ = cmd.Process.Kill() // useless without its maps: the error is returned
		_ = cmd.Wait()         // reaps it
		return 0, err
	}
	// The holder is never waited for: it lives on after this command,
	// re-parented to init once the command ends.
	_ = cmd.Process.Release() // only frees Go's handle
	return pid, nil
}

// writeMaps maps the user's ids into pid's user namespace: with
// subordinate ranges through the setuid helpers, else just the user's
// own ids, which the user may write alone.
func writeMaps(pid int, id Identity, warn func(string)) error {
	if len(id.SubUID) > 0 && len(id.SubGID) > 0 {
		for _, m := range []struct {
			tool string
			own  uint32
			subs []Range
		}{{"newuidmap", id.UID, id.SubUID}, {"newgidmap", id.GID, id.SubGID}} {
			path, err := exec.LookPath(m.tool)
			if err != nil {
				return fmt.Errorf("rootless: %s is needed to map the subordinate ids of %s (Debian: apt-get install uidmap)", m.tool, id.User)
			}
			out, err := exec.Command(path, append([]string{strconv.Itoa(pid)}, mapArgs(m.own, m.subs)...)...).CombinedOutput()
			if err != nil {
				return fmt.Errorf("rootless: %s: %s", m.tool, strings.TrimSpace(string(out)))
			}
		}
		return nil
	}
	warn(fmt.Sprintf("no subordinate ids for %s in /etc/subuid and /etc/subgid: only uid %d and gid %d are mapped (as root) in containers", id.User, id.UID, id.GID))
	proc := fmt.Sprintf("/proc/%d/", pid)
	if err := os.WriteFile(proc+"uid_map", []byte(fmt.Sprintf("0 %d 1\n", id.UID)), 0); err != nil {
		return fmt.Errorf("rootless: write uid_map: %w", err)
	}
	// Without a helper, the kernel takes a gid map only once setgroups
	// is denied.
	if err := os.WriteFile(proc+"setgroups", []byte("deny"), 0); err != nil {
		return fmt.Errorf("rootless: write setgroups: %w", err)
	}
	if err := os.WriteFile(proc+"gid_map", []byte(fmt.Sprintf("0 %d 1\n", id.GID)), 0); err != nil {
		return fmt.Errorf("rootless: write gid_map: %w", err)
	}
	return nil
}
