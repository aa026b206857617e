package profile

import (
	"slices"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/seccomp"
)

func allowed(s *specs.LinuxSeccomp, name string) bool {
	for _, r := range s.Syscalls {
		if slices.Contains(r.Names, name) && r.Action == specs.ActAllow {
			return true
		}
	}
	return false
}

func TestDefaultProfileForDockersCapabilities(t *testing.T) {
	h := Host{Arch: "amd64", Kernel: [2]int{6, 18}}
	s := Default().For(caps.Default, h)
	if s.DefaultAction != specs.ActErrno || s.DefaultErrnoRet == nil || *s.DefaultErrnoRet != 1 {
		t.Fatalf("default action %s/%v, want ERRNO(EPERM)", s.DefaultAction, s.DefaultErrnoRet)
	}
	if !slices.Equal(s.Architectures, []specs.Arch{specs.ArchX86_64, specs.ArchX86, specs.ArchX32}) {
		t.Fatalf("architectures %v", s.Architectures)
	}
	for _, name := range []string{"read", "execve", "clone", "ptrace", "arch_prctl"} {
		if !allowed(s, name) {
			t.Errorf("%s is not allowed", name)
		}
	}
	for _, name := range []string{"unshare", "mount", "keyctl", "add_key", "init_module", "finit_module", "kexec_load", "bpf", "setns", "reboot", "arm_fadvise64_64"} {
		if allowed(s, name) {
			t.Errorf("%s is allowed with Docker's default capabilities", name)
		}
	}
	// Capability-conditional rules follow the container's capabilities.
	admin := Default().For(append(slices.Clone(caps.Default), "CAP_SYS_ADMIN"), h)
	for _, name := range []string{"mount", "unshare", "setns"} {
		if !allowed(admin, name) {
			t.Errorf("%s is not allowed with CAP_SYS_ADMIN", name)
		}
	}
	// Kernel-conditional: ptrace from 4.8 on.
	if allowed(Default().For(caps.Default, Host{Arch: "amd64", Kernel: [2]int{4, 4}}), "ptrace") {
		t.Error("ptrace allowed on a 4.4 kernel")
	}
	if arm := Default().For(caps.Default, Host{Arch: "arm64", Kernel: [2]int{6, 1}}); !allowed(arm, "arm_fadvise64_64") {
		t.Error("arm-only rule missing on arm64")
	}
}

func TestDefaultProfileCompiles(t *testing.T) {
	if _, err := seccomp.Compile(Default().For(caps.Default, ThisHost())); err != nil {
		t.Fatal(err)
	}
}

func TestParseRejects(t *testing.T) {
	for _, bad := range []string{`{`, `{"syscalls":[]}`, `{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"action":"SCMP_ACT_ALLOW"}]}`,
		`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ALLOW","includes":{"minKernel":"x"}}]}`} {
		if _, err := Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}

// FuzzProfile: any profile bytes either fail to parse, or resolve and
// compile (or fail to compile) with an error, never a panic.
func FuzzProfile(f *testing.F) {
	f.Add(defaultJSON)
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["kill"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":10,"valueTwo":10,"op":"SCMP_CMP_MASKED_EQ"}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL","architectures":["SCMP_ARCH_BOGUS"],"syscalls":[{"names":["nosuch"],"action":"SCMP_ACT_TRACE"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			return
		}
		seccomp.Compile(p.For(caps.Default, ThisHost()))
	})
}
