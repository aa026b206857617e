// Package namespaces lists the host's namespaces as lsns does, and keeps
// one alive by bind-mounting its /proc/PID/ns file (what `ip netns add`
// does for network namespaces). Joining is package nsenter's.
package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Types are the namespace kinds, in /proc/PID/ns names.
var Types = []string{"cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"}

// Namespace is one row of List.
type Namespace struct {
	Inode   uint64
	Type    string
	NProcs  int
	Pid     int // the lowest pid in it
	UID     int
	Command string
}

// Inode returns the inode of /proc/PID/ns/typ.
func Inode(pid int, typ string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/"+typ, &st); err != nil {
		return 0, err
	}
	return st.Ino, nil
}

// List scans /proc for the namespaces of the given types (all when
// empty), lowest inode first. Processes that vanish meanwhile are skipped.
func List(types []string) ([]Namespace, error) {
	if len(types) == 0 {
		types = Types
	}
	for _, t := range types {
		if !valid(t) {
			return nil, fmt.Errorf("unknown namespace type %q (want one of %s)", t, strings.Join(Types, ", "))
		}
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	var pids []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			pids = append(pids, pid)
		}
	}
	sort.Ints(pids)
	byKey := map[[2]string]*Namespace{}
	for _, pid := range pids {
		for _, t := range types {
			ino, err := Inode(pid, t)
			if err != nil {
				continue
			}
			k := [2]string{t, strconv.FormatUint(ino, 10)}
			if ns := byKey[k]; ns != nil {
				ns.NProcs++
				continue
			}
			byKey[k] = &Namespace{Inode: ino, Type: t, NProcs: 1, Pid: pid, UID: uidOf(pid), Command: commandOf(pid)}
		}
	}
	out := make([]Namespace, 0, len(byKey))
	for _, ns := range byKey {
		out = append(out, *ns)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Inode < out[j].Inode })
	return out, nil
}

func valid(t string) bool {
	for _, x := range Types {
		if x == t {
			return true
		}
	}
	return false
}

func uidOf(pid int) int {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return -1
}

func commandOf(pid int) string {
	data, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	s := strings.TrimRight(strings.ReplaceAll(string(data), "\x00", " "), " ")
	if s == "" {
		comm, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/comm")
		s = "[" + strings.TrimSpace(string(comm)) + "]"
	}
	return s
}

// Persist bind-mounts /proc/PID/ns/typ on path (created as an empty
// file), so the namespace lives on after its last process.
func Persist(pid int, typ, path string) error {
	if !valid(typ) {
		return fmt.Errorf("unknown namespace type %q", typ)
	}
	src := "/proc/" + strconv.Itoa(pid) + "/ns/" + typ
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("persist %s namespace of %d: %w", typ, pid, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("persist to %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o444)
	if err != nil {
		return fmt.Errorf("persist to %s: %w", path, err)
	}
	_ = f.Close() // the bind target: the error above is returned
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		_ = os.Remove(path) // as above
		return fmt.Errorf("bind %s on %s: %w", src, path, err)
	}
	return nil
}

// Unpersist undoes Persist: the bind mount goes, then the file.
func Unpersist(path string) error {
	if err := unix.Unmount(path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return nil
}
