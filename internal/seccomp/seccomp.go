// Package seccomp loads a runtime-spec seccomp filter into the calling
// thread. It compiles through libseccomp (cgo, Debian's libseccomp-dev,
// linked statically): libseccomp handles every action, every argument
// operator including masked-equal, and the multi-architecture
// dispatch (x86_64 with its x32 and i386 compat layers), which the
// maintained pure-Go compiler does not (native arch only, no masked-equal).
package seccomp

import (
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Notifies reports whether s has a rule that notifies an agent: its
// compiled filter (Program.Notify) hands a listener to
// linux.seccomp.listenerPath while the container is set up.
func Notifies(s *specs.LinuxSeccomp) bool {
	return s != nil && slices.ContainsFunc(s.Syscalls, func(r specs.LinuxSyscall) bool { return r.Action == specs.ActNotify })
}

// archName maps SCMP_ARCH_X86_64 to libseccomp's "amd64" and so on.
func archName(a string) string {
	n := strings.ToLower(strings.TrimPrefix(a, "SCMP_ARCH_"))
	switch n {
	case "x86_64":
		return "amd64"
	case "aarch64":
		return "arm64"
	}
	return n
}
