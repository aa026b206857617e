package runtime

import (
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// alwaysAllowed are the device rules runc adds after a config's own, so
// that a config that denies every device (as `runc spec` writes) still
// has what every process needs: mknod of any node, the null, zero,
// full, random and tty devices, the ptys and tun. Callers of runc rely
// on them; berth adds the same.
var alwaysAllowed = func() []specs.LinuxDeviceCgroup {
	rule := func(typ string, major, minor int64, access string) specs.LinuxDeviceCgroup {
		r := specs.LinuxDeviceCgroup{Allow: true, Type: typ, Access: access}
		if major >= 0 {
			r.Major = &major
		}
		if minor >= 0 {
			r.Minor = &minor
		}
		return r
	}
	return []specs.LinuxDeviceCgroup{
		rule("c", -1, -1, "m"), rule("b", -1, -1, "m"),
		rule("c", 1, 3, "rwm"), rule("c", 1, 8, "rwm"), rule("c", 1, 7, "rwm"), // null, random, full
		rule("c", 5, 0, "rwm"), rule("c", 1, 5, "rwm"), rule("c", 1, 9, "rwm"), // tty, zero, urandom
		rule("c", 136, -1, "rwm"), rule("c", 5, 2, "rwm"), // /dev/pts/*, ptmx
		rule("c", 10, 200, "rwm"), // tun
	}
}()

// deviceRules are the device cgroup rules a container gets: its
// config's, then alwaysAllowed. A device the config creates is not
// allowed by that alone (its node exists; the rules say whether it may
// be used), as with runc. A config without rules keeps the kernel's
// default (every device).
func deviceRules(l *specs.Linux) []specs.LinuxDeviceCgroup {
	if l == nil || l.Resources == nil || len(l.Resources.Devices) == 0 {
		return nil
	}
	var out []specs.LinuxDeviceCgroup
	for _, d := range l.Resources.Devices {
		if d.Access = accessOf(d.Access); d.Access != "" {
			out = append(out, d)
		}
	}
	return append(out, alwaysAllowed...)
}

// accessOf keeps the r, w and m of a rule's access, as runc reads it
// ("rwa" is "rw"); "" (every access) stays "rwm". A rule left with none
// is "".
func accessOf(a string) string {
	if a == "" {
		return "rwm"
	}
	var b []byte
	for _, c := range []byte("rwm") {
		if strings.IndexByte(a, c) >= 0 {
			b = append(b, c)
		}
	}
	return string(b)
}
