// Package profile holds the engine's default seccomp profile, Docker's,
// as data (default.json), and turns a profile in Docker's format into the
// runtime-spec filter for one container: rules conditional on
// capabilities, architectures or kernel versions are kept or dropped for
// that container's capabilities and this host.
package profile

//go:generate go run ./gen default.json

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

//go:embed default.json
var defaultJSON []byte

// Profile is a seccomp profile in Docker's format.
type Profile struct {
	DefaultAction   specs.LinuxSeccompAction `json:"defaultAction"`
	DefaultErrnoRet *uint                    `json:"defaultErrnoRet,omitempty"`
	ArchMap         []struct {
		Arch      specs.Arch   `json:"architecture"`
		SubArches []specs.Arch `json:"subArchitectures"`
	} `json:"archMap,omitempty"`
	Architectures []specs.Arch             `json:"architectures,omitempty"`
	ListenerPath  string                   `json:"listenerPath,omitempty"`
	Flags         []specs.LinuxSeccompFlag `json:"flags,omitempty"`
	Syscalls      []Rule                   `json:"syscalls"`
}

// Rule is one syscall rule, kept only where its filters say.
type Rule struct {
	Name     string                   `json:"name,omitempty"`
	Names    []string                 `json:"names,omitempty"`
	Action   specs.LinuxSeccompAction `json:"action"`
	Args     []specs.LinuxSeccompArg  `json:"args,omitempty"`
	ErrnoRet *uint                    `json:"errnoRet,omitempty"`
	Includes *Filter                  `json:"includes,omitempty"`
	Excludes *Filter                  `json:"excludes,omitempty"`
}

// Filter conditions a rule: on all its capabilities being held (or any,
// for excludes), on the host's architecture, on a minimum kernel.
type Filter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

// Default is Docker's default profile.
func Default() *Profile {
	p, err := Parse(defaultJSON)
	if err != nil {
		panic("embedded default seccomp profile: " + err.Error()) // a build defect, not input
	}
	return p
}

// Parse reads a profile (seccomp=profile.json).
func Parse(b []byte) (*Profile, error) {
	var p Profile
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("seccomp profile: %w", err)
	}
	if p.DefaultAction == "" {
		return nil, fmt.Errorf("seccomp profile: no defaultAction")
	}
	for i, r := range p.Syscalls {
		if r.Name == "" && len(r.Names) == 0 {
			return nil, fmt.Errorf("seccomp profile: rule %d names no syscall", i)
		}
		if r.Action == "" {
			return nil, fmt.Errorf("seccomp profile: rule %d has no action", i)
		}
		for _, f := range []*Filter{r.Includes, r.Excludes} {
			if f != nil && f.MinKernel != "" {
				if _, err := parseKernel(f.MinKernel); err != nil {
					return nil, fmt.Errorf("seccomp profile: rule %d: %w", i, err)
				}
			}
		}
	}
	return &p, nil
}

// Host describes what a profile is resolved against.
type Host struct {
	Arch   string // Go's name: amd64, arm64, ...
	Kernel [2]int // major, minor
}

// ThisHost is the running machine.
func ThisHost() Host {
	h := Host{Arch: runtime.GOARCH}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		if k, err := parseKernel(unix.ByteSliceToString(u.Release[:])); err == nil {
			h.Kernel = k
		}
	}
	return h
}

func parseKernel(s string) ([2]int, error) {
	var k [2]int
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return k, fmt.Errorf("kernel version %q: want MAJOR.MINOR", s)
	}
	var err error
	if k[0], err = strconv.Atoi(parts[0]); err != nil {
		return k, fmt.Errorf("kernel version %q: %w", s, err)
	}
	minor := parts[1]
	if i := strings.IndexFunc(minor, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minor = minor[:i]
	}
	if k[1], err = strconv.Atoi(minor); err != nil {
		return k, fmt.Errorf("kernel version %q: %w", s, err)
	}
	return k, nil
}

// seccompArch is libseccomp's name for a Go architecture.
var seccompArch = map[string]specs.Arch{
	"amd64": specs.ArchX86_64, "386": specs.ArchX86, "arm64": specs.ArchAARCH64, "arm": specs.ArchARM,
	"ppc64le": specs.ArchPPC64LE, "s390x": specs.ArchS390X, "riscv64": specs.ArchRISCV64,
	"mips64le": specs.ArchMIPSEL64, "loong64": "SCMP_ARCH_LOONGARCH64",
}

// For resolves the profile for a container holding caps (its bounding
// set) on host h.
func (p *Profile) For(caps []string, h Host) *specs.LinuxSeccomp {
	out := &specs.LinuxSeccomp{
		DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet,
		ListenerPath: p.ListenerPath, Flags: p.Flags, Architectures: p.Architectures,
	}
	native := seccompArch[h.Arch]
	for _, a := range p.ArchMap {
		if a.Arch == native {
			out.Architectures = append([]specs.Arch{a.Arch}, a.SubArches...)
		}
	}
	for _, r := range p.Syscalls {
		if !r.applies(caps, h) {
			continue
		}
		names := r.Names
		if r.Name != "" {
			names = append([]string{r.Name}, names...)
		}
		out.Syscalls = append(out.Syscalls, specs.LinuxSyscall{Names: names, Action: r.Action, Args: r.Args, ErrnoRet: r.ErrnoRet})
	}
	return out
}

func (r Rule) applies(caps []string, h Host) bool {
	if f := r.Includes; f != nil {
		for _, c := range f.Caps {
			if !slices.Contains(caps, c) {
				return false
			}
		}
		if len(f.Arches) > 0 && !slices.Contains(f.Arches, h.Arch) {
			return false
		}
		if f.MinKernel != "" {
			k, _ := parseKernel(f.MinKernel) // checked by Parse
			if h.Kernel[0] < k[0] || h.Kernel[0] == k[0] && h.Kernel[1] < k[1] {
				return false
			}
		}
	}
	if f := r.Excludes; f != nil {
		for _, c := range f.Caps {
			if slices.Contains(caps, c) {
				return false
			}
		}
		if slices.Contains(f.Arches, h.Arch) {
			return false
		}
	}
	return true
}
