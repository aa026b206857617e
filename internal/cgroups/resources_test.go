package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	v2 "github.com/berth-project/berth/internal/cgroups/v2"
)

func i64(v int64) *int64   { return &v }
func u64(v uint64) *uint64 { return &v }
func u16(v uint16) *uint16 { return &v }
func yes() *bool           { b := true; return &b }

// fakeFiles pre-creates the control files a kernel would offer, so that a
// write to a file the host lacks is told apart (it fails as missing).
func fakeFiles(t *testing.T, dir string, files ...string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for _, f := range files {
		os.WriteFile(filepath.Join(dir, f), nil, 0o644)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(data)
}

var sample = &specs.LinuxResources{
	Memory: &specs.LinuxMemory{Limit: i64(64 << 20), Reservation: i64(32 << 20), Swap: i64(128 << 20),
		Kernel: i64(1 << 20), Swappiness: u64(10), DisableOOMKiller: yes()},
	CPU:  &specs.LinuxCPU{Shares: u64(512), Quota: i64(50000), Period: u64(100000), Cpus: "0", Mems: "0"},
	Pids: &specs.LinuxPids{Limit: i64(64)},
	BlockIO: &specs.LinuxBlockIO{Weight: u16(500), LeafWeight: u16(300),
		ThrottleReadBpsDevice: []specs.LinuxThrottleDevice{{LinuxBlockIODevice: specs.LinuxBlockIODevice{Major: 8, Minor: 0}, Rate: 1048576}}},
}

func TestV1SetWritesEachControllerAndWarnsForMissingKnobs(t *testing.T) {
	base := t.TempDir()
	h := &Host{Mode: ModeV1, V1: map[string]string{}}
	files := map[string][]string{
		"memory": {"memory.limit_in_bytes", "memory.soft_limit_in_bytes", "memory.memsw.limit_in_bytes", "memory.swappiness", "memory.oom_control"},
		"cpu":    {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"},
		"cpuset": {"cpuset.cpus", "cpuset.mems"},
		"pids":   {"pids.max"},
		"blkio":  {"blkio.throttle.read_bps_device"},
	}
	for c, fs := range files {
		h.V1[c] = filepath.Join(base, c)
		fakeFiles(t, filepath.Join(base, c, "grp"), fs...)
	}
	m := New(h, State{Path: "/grp"})
	warnings, err := m.Set(sample)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"memory/grp/memory.limit_in_bytes": "67108864", "memory/grp/memory.memsw.limit_in_bytes": "134217728",
		"memory/grp/memory.oom_control": "1", "cpu/grp/cpu.shares": "512", "cpu/grp/cpu.cfs_quota_us": "50000",
		"cpuset/grp/cpuset.cpus": "0", "pids/grp/pids.max": "64", "blkio/grp/blkio.throttle.read_bps_device": "8:0 1048576",
	} {
		if got := read(t, filepath.Join(base, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	// kernel memory, blkio weight and leaf weight are absent here.
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{"memory.kernel", "blockIO.weight", "blockIO.leafWeight"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no warning for %s in %q", want, joined)
		}
	}
}

func TestV1SetFailsWhenAControllerIsNotMounted(t *testing.T) {
	h := &Host{Mode: ModeV1, V1: map[string]string{"memory": t.TempDir()}}
	_, err := New(h, State{Path: "/grp"}).Set(&specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64(5)}})
	if err == nil || !strings.Contains(err.Error(), "pids cgroup controller is not mounted") {
		t.Fatalf("err = %v", err)
	}
}

func TestV2SetConvertsAndEnablesControllers(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids\n"), 0o644)
	fakeFiles(t, root, "cgroup.subtree_control")
	fakeFiles(t, filepath.Join(root, "grp"), "cgroup.subtree_control")
	fakeFiles(t, filepath.Join(root, "grp", "c1"), "memory.max", "memory.low", "memory.swap.max", "cpu.weight", "cpu.max",
		"cpuset.cpus", "cpuset.mems", "pids.max", "io.weight", "io.max")
	m := New(&Host{Mode: ModeV2, Unified: root}, State{Path: "/grp/c1"})
	warnings, err := m.Set(sample)
	if err != nil {
		t.Fatal(err)
	}
	for f, want := range map[string]string{
		"grp/c1/memory.max": "67108864", "grp/c1/memory.swap.max": "67108864", "grp/c1/cpu.weight": "20",
		"grp/c1/cpu.max": "50000 100000", "grp/c1/pids.max": "64", "grp/c1/io.max": "8:0 rbps=1048576",
		"grp/cgroup.subtree_control": "+pids", // the last write of several
	} {
		if got := read(t, filepath.Join(root, f)); got != want {
			t.Errorf("%s = %q, want %q", f, got, want)
		}
	}
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{"swappiness", "kernel", "disableOOMKiller", "leafWeight"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no warning for %s in %q", want, joined)
		}
	}
}

// The device filter, read back as (code, dst, src, off, imm) tuples.
func TestV2DeviceFilterProgram(t *testing.T) {
	maj, min := int64(1), int64(3)
	code, err := v2.DeviceFilter([]specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &maj, Minor: &min, Access: "rw"},
	})
	if err != nil {
		t.Fatal(err)
	}
	type in struct {
		code, dst, src uint8
		off            int16
		imm            int32
	}
	var got []in
	for i := 0; i+8 <= len(code); i += 8 {
		got = append(got, in{code[i], code[i+1] & 0xf, code[i+1] >> 4, int16(uint16(code[i+2]) | uint16(code[i+3])<<8),
			int32(uint32(code[i+4]) | uint32(code[i+5])<<8 | uint32(code[i+6])<<16 | uint32(code[i+7])<<24)})
	}
	want := []in{
		{0x61, 2, 1, 0, 0}, {0xbf, 3, 2, 0, 0}, {0x57, 2, 0, 0, 0xffff}, {0x77, 3, 0, 0, 16},
		{0x61, 4, 1, 4, 0}, {0x61, 5, 1, 8, 0},
		// last rule first: char 1:3 rw -> allow
		{0x55, 2, 0, 7, 2}, {0xbf, 6, 3, 0, 0}, {0x57, 6, 0, 0, 1}, {0x55, 6, 0, 4, 0},
		{0x55, 4, 0, 3, 1}, {0x55, 5, 0, 2, 3}, {0xb7, 0, 0, 0, 1}, {0x95, 0, 0, 0, 0},
		// deny all, which ends the program
		{0xb7, 0, 0, 0, 0}, {0x95, 0, 0, 0, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("%d instructions, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("insn %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := v2.DeviceFilter([]specs.LinuxDeviceCgroup{{Type: "x"}}); err == nil {
		t.Error("unknown device type accepted")
	}
}

func TestV2Conversions(t *testing.T) {
	if w := v2.SharesToWeight(1024); w != 39 {
		t.Errorf("SharesToWeight(1024) = %d, want 39", w)
	}
	if w := v2.SharesToWeight(2); w != 1 {
		t.Errorf("SharesToWeight(2) = %d", w)
	}
	if w := v2.SharesToWeight(262144); w != 10000 {
		t.Errorf("SharesToWeight(max) = %d", w)
	}
	if s := v2.CPUMax(nil, u64(50000)); s != "max 50000" {
		t.Errorf("CPUMax = %q", s)
	}
	if _, err := v2.SwapMax(i64(10), i64(20)); err == nil {
		t.Error("swap below limit accepted")
	}
}
