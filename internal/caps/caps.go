// Package caps owns Linux capability sets: names to numbers, and applying
// the five sets of a runtime-spec process (bounding, effective, permitted,
// inheritable, ambient) to the calling thread.
package caps

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// names lists the capabilities by number, as in linux/capability.h.
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",
	"CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// Known returns every capability name this build knows, lowest first.
func Known() []string { return append([]string(nil), names...) }

// LastCap is the highest capability the running kernel supports.
func LastCap() int {
	data, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil {
			return n
		}
	}
	return len(names) - 1
}

// Parse turns names into a bit set. Unknown names are an error; names the
// kernel does not support (newer than cap_last_cap) are dropped, as the
// kernel could not grant them anyway.
func Parse(list []string, last int) (uint64, error) {
	var set uint64
	for _, n := range list {
		i := index(n)
		if i < 0 {
			return 0, fmt.Errorf("unknown capability %q", n)
		}
		if i <= last {
			set |= 1 << uint(i)
		}
	}
	return set, nil
}

// WithoutUnknown removes from c the names this build knows no
// capability for, and returns them: runc runs such a config (one written
// for a newer kernel) without them, with a warning.
func WithoutUnknown(c *specs.LinuxCapabilities) []string {
	if c == nil {
		return nil
	}
	var unknown []string
	for _, set := range []*[]string{&c.Bounding, &c.Effective, &c.Permitted, &c.Inheritable, &c.Ambient} {
		*set = slices.DeleteFunc(slices.Clone(*set), func(n string) bool {
			if index(n) >= 0 {
				return false
			}
			if !slices.Contains(unknown, n) {
				unknown = append(unknown, n)
			}
			return true
		})
	}
	return unknown
}

func index(name string) int {
	u := strings.ToUpper(name)
	if !strings.HasPrefix(u, "CAP_") {
		u = "CAP_" + u
	}
	for i, n := range names {
		if n == u {
			return i
		}
	}
	return -1
}

// Sets is a process's capabilities as bit sets.
type Sets struct {
	Bounding, Effective, Permitted, Inheritable, Ambient uint64
}

// FromSpec converts a spec's capabilities. A nil spec means no
// capabilities at all, which is what runc does too.
func FromSpec(c *specs.LinuxCapabilities) (Sets, error) {
	var s Sets
	if c == nil {
		return s, nil
	}
	last := LastCap()
	var err error
	for _, p := range []struct {
		dst  *uint64
		list []string
		set  string
	}{
		{&s.Bounding, c.Bounding, "bounding"}, {&s.Effective, c.Effective, "effective"},
		{&s.Permitted, c.Permitted, "permitted"}, {&s.Inheritable, c.Inheritable, "inheritable"},
		{&s.Ambient, c.Ambient, "ambient"},
	} {
		if *p.dst, err = Parse(p.list, last); err != nil {
			return s, fmt.Errorf("%s capabilities: %w", p.set, err)
		}
	}
	return s, nil
}

// current returns the calling thread's permitted set.
func current() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[0].Permitted) | uint64(data[1].Permitted)<<32, nil
}

// Unavailable lists the capabilities c asks for that the calling process
// does not hold itself and so cannot grant (a host may run the runtime
// with a reduced bounding set).
func Unavailable(c *specs.LinuxCapabilities) []string {
	s, err := FromSpec(c)
	if err != nil {
		return nil
	}
	have, err := current()
	if err != nil {
		return nil
	}
	want := s.Bounding | s.Effective | s.Permitted | s.Inheritable | s.Ambient
	var out []string
	for i := range names {
		if want&^have&(1<<uint(i)) != 0 {
			out = append(out, names[i])
		}
	}
	return out
}

// Restrict drops from every set what the process cannot grant; the
// runtime has already refused configs that ask for such (Unavailable).
func (s Sets) Restrict() (Sets, error) {
	have, err := current()
	if err != nil {
		return s, err
	}
	s.Bounding &= have
	s.Effective &= have
	s.Permitted &= have
	s.Inheritable &= have
	s.Ambient &= have
	return s, nil
}

// DropBounding removes every capability not in keep from the bounding set.
// It needs CAP_SETPCAP, so it runs before the user switch drops privilege.
func DropBounding(keep uint64) error {
	last := LastCap()
	for i := 0; i <= last; i++ {
		if keep&(1<<uint(i)) != 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(i), 0, 0, 0); err != nil {
			if err == unix.EINVAL { // not supported by this kernel
				continue
			}
			return fmt.Errorf("drop %s from bounding set: %w", names[i], err)
		}
	}
	return nil
}

// Apply sets the effective, permitted and inheritable sets of the calling
// thread, then raises the ambient ones. The kernel raises only what is
// both permitted and inheritable; the others are left out, as runc
// leaves them: its own `runc spec` lists ambient capabilities with no
// inheritable set (CVE-2022-29162), and that config must run.
func Apply(s Sets) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	for i := 0; i < 2; i++ {
		data[i].Effective = uint32(s.Effective >> (32 * i))
		data[i].Permitted = uint32(s.Permitted >> (32 * i))
		data[i].Inheritable = uint32(s.Inheritable >> (32 * i))
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	raisable := s.Ambient & s.Permitted & s.Inheritable
	for i := 0; i < 64; i++ {
		if raisable&(1<<uint(i)) == 0 {
			continue
		}
		if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_RAISE, uintptr(i), 0, 0); err != nil {
			return fmt.Errorf("raise ambient %s: %w", names[i], err)
		}
	}
	return nil
}

// Default is the engine's default capability set, Docker's 14: what a
// container gets in its bounding, effective and permitted sets unless
// --cap-add/--cap-drop/--privileged say otherwise. The inheritable and
// ambient sets stay empty (CVE-2022-29162: an inheritable set lets a
// non-root exec gain capabilities through file capabilities).
var Default = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}
