//go:build linux && cgo

package seccomp

import (
	"errors"
	"fmt"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Load installs s on the calling thread (the one that will execve). It
// does not set no_new_privs: the process spec decides that.
func Load(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	def, err := action(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return fmt.Errorf("seccomp default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	defer f.Release()
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return fmt.Errorf("seccomp: %w", err)
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(archName(string(a)))
		if err != nil {
			return fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
		if err := f.AddArch(arch); err != nil {
			return fmt.Errorf("seccomp architecture %s: %w", a, err)
		}
	}
	for _, flag := range s.Flags {
		switch flag {
		case specs.LinuxSeccompFlagLog:
			err = f.SetLogBit(true)
		case specs.LinuxSeccompFlagSpecAllow:
			err = f.SetSSB(true)
		case "SECCOMP_FILTER_FLAG_TSYNC":
			// Nothing to do: the filter is loaded by the one thread that
			// survives execve.
		default:
			err = fmt.Errorf("unknown flag")
		}
		if err != nil {
			return fmt.Errorf("seccomp flag %s: %w", flag, err)
		}
	}
	for _, rule := range s.Syscalls {
		act, err := action(rule.Action, rule.ErrnoRet)
		if err != nil {
			return fmt.Errorf("seccomp rule for %v: %w", rule.Names, err)
		}
		if act == def {
			continue // libseccomp refuses rules that restate the default
		}
		conds, err := conditions(rule.Args)
		if err != nil {
			return fmt.Errorf("seccomp rule for %v: %w", rule.Names, err)
		}
		for _, name := range rule.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // not a syscall of this architecture
			}
			if len(conds) == 0 {
				err = f.AddRule(sc, act)
			} else {
				err = f.AddRuleConditional(sc, act, conds)
			}
			if err != nil {
				return fmt.Errorf("seccomp rule for %s: %w", name, err)
			}
		}
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("load seccomp filter: %w", err)
	}
	return nil
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
		return libseccomp.ActInvalid, errors.New("SCMP_ACT_NOTIFY is not supported yet")
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
