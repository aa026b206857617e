//go:build linux && cgo

package nsenter

import (
	"reflect"
	"strings"
	"testing"
)

func samplePlan() *Plan {
	oom := -500
	return &Plan{
		Args: []string{"/bin/sh", "-c", "echo hi"}, Env: []string{"PATH=/bin", "A="},
		Cwd: "/work", UID: 1000, GID: 1001, Groups: []uint32{5, 6, 7}, Umask: 0o027,
		Rlimits:     []Rlimit{{Resource: 7, Soft: 1024, Hard: 4096, Name: "RLIMIT_NOFILE"}},
		OOMScoreAdj: &oom, Seccomp: make([]byte, 16), SeccompFlags: 4, SeccompEarly: true,
		Caps:       &Caps{DropBounding: true, LastCap: 40, Bounding: 1<<40 | 3, Effective: 1, Permitted: 3, Inheritable: 0, Ambient: 2},
		NoNewPrivs: true, FirstFD: 5, Console: &Console{FD: 4, Width: 80, Height: 24},
		Steps: []Step{
			{Op: StepMount, Target: TargetDir, Opts: OptTmpfsMode, Flags: 6, Src: "tmpfs", Path: "/tmp", FSType: "tmpfs", Data: "size=1m", What: "mount /tmp"},
			{Op: StepMknod, Path: "/dev/null", A: 0o20666, Flags: 259, B: 1<<32 | 2},
			{Op: StepPivot, Path: "/rootfs"},
		},
		FifoFD: 6, Sources: 2, SourcesFD: 9,
	}
}

func TestPlanRoundTrip(t *testing.T) {
	want := samplePlan()
	b, err := want.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", got, want)
	}
	// The smallest plan: a program and nothing else, with the defaults.
	b, err = (&Plan{Args: []string{"true"}, Umask: 0o22}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err = decodePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Cwd != "" || got.FirstFD != 3 || got.Console != nil || got.Umask != 0o22 || got.Caps.DropBounding || len(got.Env) != 0 {
		t.Fatalf("defaults: %+v", got)
	}
}

func TestPlanRefusals(t *testing.T) {
	if _, err := (&Plan{}).Encode(); err == nil {
		t.Fatal("a plan without a program encoded")
	}
	if _, err := (&Plan{Args: []string{"a\x00b"}}).Encode(); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("NUL in an argument: %v", err)
	}
	good, _ := samplePlan().Encode()
	for name, b := range map[string][]byte{
		"no magic":          []byte("BRTHPLN0"),
		"short header":      append(append([]byte{}, good...), 1, 0, 0),
		"length too long":   append([]byte(planMagic), 8, 0, 0, 0, 200, 0, 0, 0, 'x', 0),
		"unterminated":      append([]byte(planMagic), 8, 0, 0, 0, 1, 0, 0, 0, 'x'),
		"inner NUL":         append([]byte(planMagic), 8, 0, 0, 0, 3, 0, 0, 0, 'x', 0, 0),
		"unknown record":    append(append([]byte{}, good...), 99, 0, 0, 0, 0, 0, 0, 0),
		"no program":        []byte(planMagic),
		"bad seccomp":       append(append([]byte{}, good...), 3, 0, 0, 0, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4),
		"groups overrun":    append(append([]byte{}, good...), 5, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0),
		"step of 4 strings": append(append(append([]byte{}, good...), 12, 0, 0, 0, 44, 0, 0, 0, 1, 0, 0, 0), append(make([]byte, 36), 0, 0, 0, 0)...),
		"unknown step":      append(append(append([]byte{}, good...), 12, 0, 0, 0, 45, 0, 0, 0, 99, 0, 0, 0), append(make([]byte, 36), 0, 0, 0, 0, 0)...),
	} {
		if _, err := decodePlan(b); err == nil {
			t.Errorf("%s: decoded", name)
		}
	}
}

func FuzzPlanDecode(f *testing.F) {
	good, _ := samplePlan().Encode()
	f.Add(good)
	f.Add([]byte(planMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodePlan(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes again to a plan that decodes the same.
		again, err := p.Encode()
		if err != nil {
			return // a NUL-free decode always re-encodes; odd seccomp lengths do not
		}
		q, err := decodePlan(again)
		if err != nil || !reflect.DeepEqual(p, q) {
			t.Fatalf("re-decode of %q: %v\n%+v\n%+v", b, err, p, q)
		}
	})
}
