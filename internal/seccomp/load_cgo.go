//go:build linux && cgo

package seccomp

import (
	"errors"
	"fmt"
	"os"
	"slices"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Compile turns s into a BPF program and the seccomp(2) flags to install
// it with. It runs before the process's rlimits apply: libseccomp
// allocates, and an RLIMIT_AS would make it fail. A nil s gives a nil
// program.
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, nil
	}
	p := &Program{}
	if s.DefaultAction == specs.ActNotify {
		// Every syscall, the runtime's own hand-over of the listener
		// included, would wait for an agent that has no fd yet.
		return nil, errors.New("seccomp: SCMP_ACT_NOTIFY cannot be the default action")
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	defer f.Release()
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	// A binary tree of syscall numbers rather than a chain: the kernel
	// runs the filter for every syscall number when it is installed (to
	// cache the ones always allowed), so Docker's profile of ~350 names
	// costs a chain's length each time, ~0.8 ms per container start.
	if err := f.SetOptimize(2); err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(string(a)))
		if err != nil {
			return nil, fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return nil, fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
	}
	for _, flag := range s.Flags {
		switch flag {
		case specs.LinuxSeccompFlagLog:
			p.Flags |= unix.SECCOMP_FILTER_FLAG_LOG
		case specs.LinuxSeccompFlagSpecAllow:
			p.Flags |= unix.SECCOMP_FILTER_FLAG_SPEC_ALLOW
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Nothing to do: the filter is installed by the one thread
			// that survives execve.
		default:
			return nil, fmt.Errorf("seccomp flag %s: unknown flag", flag)
		}
	}
	maxNr := -1 // the highest native syscall the rules name
	for _, rule := range s.Syscalls {
		act, err := action(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", rule.Names, err)
		}
		if act == def {
			continue // libseccomp refuses rules that restate the default
		}
		if rule.Action == specs.ActNotify {
			if s.ListenerPath == "" {
				return nil, fmt.Errorf("seccomp rule for %v: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath", rule.Names)
			}
			// init writes to its sync socket after the filter is in:
			// a notified write would wait on the agent that the runtime
			// only connects once init is past that point.
			if slices.Contains(rule.Names, "write") {
				return nil, errors.New("seccomp: SCMP_ACT_NOTIFY cannot be used for the write syscall")
			}
			p.Notify = true
		}
		conds, err := conditions(rule.Args)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", rule.Names, err)
		}
		for _, name := range rule.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // not a syscall of this architecture
			}
			maxNr = max(maxNr, int(sc))
			switch {
			case len(conds) == 0:
				err = f.AddRule(sc, act)
			case repeatsIndex(rule.Args):
				// Conditions on the same argument are alternatives (as
				// runc reads them): one rule each.
				for _, c := range conds {
					if err = f.AddRuleConditional(sc, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(sc, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("seccomp rule for %s: %w", name, err)
			}
		}
	}
	// libseccomp writes the program to a file: a memfd keeps it off disk.
	mfd, err := unix.MemfdCreate("seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("seccomp: %w", err)
	}
	mf := os.NewFile(uintptr(mfd), "seccomp")
	defer mf.Close() // the exported program was read from it
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	if p.Code, err = os.ReadFile(fmt.Sprintf("/proc/self/fd/%d", mfd)); err != nil {
		return nil, fmt.Errorf("compile seccomp filter: %w", err)
	}
	if len(p.Code) == 0 || len(p.Code)%8 != 0 {
		return nil, fmt.Errorf("compile seccomp filter: program of %d bytes", len(p.Code))
	}
	// A default that allows has no reason for the stub: an unknown
	// syscall runs.
	if arch := nativeArch(); arch != 0 && maxNr >= 0 && s.DefaultAction != specs.ActAllow && s.DefaultAction != specs.ActLog {
		p.Code = withENOSYSStub(p.Code, arch, uint32(maxNr))
	}
	return p, nil
}

func action(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	errno := int16(unix.EPERM)
	if errnoRet != nil {
		errno = int16(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(errno), nil
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(errno), nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	case specs.ActNotify:
		return libseccomp.ActNotify, nil
	}
	return libseccomp.ActInvalid, fmt.Errorf("unknown action %q", a)
}

var operators = map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
	specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
	specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
	specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
	specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
}

func conditions(args []specs.LinuxSeccompArg) ([]libseccomp.ScmpCondition, error) {
	var out []libseccomp.ScmpCondition
	for _, a := range args {
		op, ok := operators[a.Op]
		if !ok {
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		vals := []uint64{a.Value}
		if a.Op == specs.OpMaskedEqual {
			vals = append(vals, a.ValueTwo)
		}
		c, err := libseccomp.MakeCondition(a.Index, op, vals...)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

// repeatsIndex reports whether two conditions test the same argument.
func repeatsIndex(args []specs.LinuxSeccompArg) bool {
	seen := map[uint]bool{}
	for _, a := range args {
		if seen[a.Index] {
			return true
		}
		seen[a.Index] = true
	}
	return false
}

func libraryVersion() string {
	major, minor, micro := libseccomp.GetLibraryVersion()
	return fmt.Sprintf("%d.%d.%d", major, minor, micro)
}
