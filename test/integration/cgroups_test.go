package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/cgroups"
)

func i64p(v int64) *int64   { return &v }
func u64p(v uint64) *uint64 { return &v }

// v1dir is the container's directory in a v1 hierarchy of this host.
func v1dir(t *testing.T, b *bundle, controller string) string {
	t.Helper()
	h, err := cgroups.DetectHost()
	if err != nil || h.V1[controller] == "" {
		t.Fatalf("no v1 %s hierarchy here", controller)
	}
	return filepath.Join(h.V1[controller], b.spec.Linux.CgroupsPath)
}

func waitExit(t *testing.T, b *bundle) {
	t.Helper()
	waitFor(t, func() bool { reapZombies(); return b.state().Status == "stopped" })
}

func TestMemoryLimitKillsAHog(t *testing.T) {
	b := newBundle(t, "tail", "/dev/zero") // buffers forever: no newline
	b.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(16 << 20), Swap: i64p(16 << 20)}}
	b.create()
	// The event stream reports the kill, then ends with the container.
	out, err := os.Create(filepath.Join(b.dir, "events"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	events := exec.Command(*runtimeBin, "--root", filepath.Join(suiteDir, "state"), "events", "--interval", "1s", b.id)
	events.Stdout, events.Stderr = out, out
	if err := events.Start(); err != nil {
		t.Fatal(err)
	}
	if r := berth(t, "start", b.id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if err := events.Wait(); err != nil {
		t.Fatalf("events: %v", err)
	}
	oom, err := os.ReadFile(filepath.Join(v1dir(t, b, "memory"), "memory.oom_control"))
	if err != nil || !strings.Contains(string(oom), "oom_kill 1") {
		t.Fatalf("memory.oom_control: %q %v", oom, err)
	}
	data, _ := os.ReadFile(out.Name())
	if !strings.Contains(string(data), `{"type":"oom","id":"`+b.id+`"}`) {
		t.Fatalf("no oom event in:\n%s", data)
	}
}

func TestEventsStatsReportUsageAndLimits(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(64 << 20)}, Pids: &specs.LinuxPids{Limit: i64p(30)}}
	b.create()
	berth(t, "start", b.id)
	r := berth(t, "events", "--stats", b.id)
	var ev struct {
		Type string
		ID   string
		Data cgroups.Stats
	}
	if err := json.Unmarshal([]byte(r.stdout), &ev); err != nil {
		t.Fatalf("events --stats: %q %v", r.stdout, err)
	}
	m := ev.Data.Memory.Usage
	if ev.Type != "stats" || ev.ID != b.id || m.Limit != 64<<20 || m.Usage == 0 || ev.Data.Pids.Current != 1 || ev.Data.Pids.Limit != 30 {
		t.Fatalf("stats: %+v", ev)
	}
}

func TestPidsLimitContainsAForkBomb(t *testing.T) {
	b := newBundle(t, "sh", "-c", "(i=0; while [ $i -lt 100 ]; do sleep 30 & i=$((i+1)); done) 2>/dev/null; cd /proc; set -- [0-9]*; echo $#")
	b.spec.Linux.Resources = &specs.LinuxResources{Pids: &specs.LinuxPids{Limit: i64p(20)}}
	r := b.run()
	n, err := strconv.Atoi(strings.TrimSpace(r.stdout))
	// 20 tasks at most: sh and the sleeps that fit; counted with builtins,
	// since the limit leaves no fork for a pipeline.
	if err != nil || n > 20 || n < 5 {
		t.Fatalf("processes inside: %q (%s)", r.stdout, r.stderr)
	}
}

func TestCPUQuotaHalfACore(t *testing.T) {
	b := newBundle(t, "sh", "-c", "while :; do :; done")
	b.spec.Linux.Resources = &specs.LinuxResources{CPU: &specs.LinuxCPU{Quota: i64p(50000), Period: u64p(100000)}}
	b.create()
	berth(t, "start", b.id)
	acct := filepath.Join(v1dir(t, b, "cpuacct"), "cpuacct.usage")
	read := func() int64 {
		d, _ := os.ReadFile(acct)
		n, _ := strconv.ParseInt(strings.TrimSpace(string(d)), 10, 64)
		return n
	}
	u0, t0 := read(), time.Now()
	time.Sleep(time.Second)
	used := float64(read()-u0) / float64(time.Since(t0).Nanoseconds())
	// The kernel enforces the ceiling; a busy machine may give less.
	if used > 0.6 {
		t.Fatalf("a 0.5 CPU quota let the loop use %.2f CPUs", used)
	}
	t.Logf("used %.2f CPUs under a 0.5 quota", used)
}

func TestPauseStopsACounterAndResumeContinuesIt(t *testing.T) {
	b := newBundle(t, "sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count.new; mv /tmp/count.new /tmp/count; done")
	pid := b.create()
	berth(t, "start", b.id)
	count := func() int {
		d, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/root/tmp/count")
		n, _ := strconv.Atoi(strings.TrimSpace(string(d)))
		return n
	}
	waitFor(t, func() bool { return count() > 10 })
	if r := berth(t, "pause", b.id); r.code != 0 {
		t.Fatalf("pause: %s", r.stderr)
	}
	if s := b.state(); s.Status != "paused" {
		t.Fatalf("status after pause: %s", s.Status)
	}
	c1 := count()
	time.Sleep(200 * time.Millisecond)
	if c2 := count(); c2 != c1 {
		t.Fatalf("paused counter moved from %d to %d", c1, c2)
	}
	if r := berth(t, "pause", b.id); r.code == 0 {
		t.Fatal("pausing a paused container succeeded")
	}
	if r := berth(t, "resume", b.id); r.code != 0 {
		t.Fatalf("resume: %s", r.stderr)
	}
	waitFor(t, func() bool { return count() > c1 })
	// A paused container can still be deleted by force.
	berth(t, "pause", b.id)
	if r := berth(t, "delete", "--force", b.id); r.code != 0 {
		t.Fatalf("delete --force of a paused container: %s", r.stderr)
	}
	assertGone(t, b.id)
}

func TestUpdateRaisesAMemoryLimitLive(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: i64p(32 << 20)}}
	b.create()
	berth(t, "start", b.id)
	limit := filepath.Join(v1dir(t, b, "memory"), "memory.limit_in_bytes")
	if r := berth(t, "update", "--memory", "64m", "--pids-limit", "50", b.id); r.code != 0 {
		t.Fatalf("update: %s", r.stderr)
	}
	if d, _ := os.ReadFile(limit); strings.TrimSpace(string(d)) != strconv.Itoa(64<<20) {
		t.Fatalf("memory.limit_in_bytes = %q", d)
	}
	if d, _ := os.ReadFile(filepath.Join(v1dir(t, b, "pids"), "pids.max")); strings.TrimSpace(string(d)) != "50" {
		t.Fatalf("pids.max = %q", d)
	}
	res := filepath.Join(b.dir, "res.json")
	os.WriteFile(res, []byte(`{"cpu":{"shares":256}}`), 0o644)
	if r := berth(t, "update", "-r", res, b.id); r.code != 0 {
		t.Fatalf("update -r: %s", r.stderr)
	}
	if d, _ := os.ReadFile(filepath.Join(v1dir(t, b, "cpu"), "cpu.shares")); strings.TrimSpace(string(d)) != "256" {
		t.Fatalf("cpu.shares = %q", d)
	}
	r := berth(t, "ps", "--format", "json", b.id)
	var pids []int
	if err := json.Unmarshal([]byte(r.stdout), &pids); err != nil || len(pids) != 1 || pids[0] != b.state().Pid {
		t.Fatalf("ps: %q %v", r.stdout, err)
	}
}

// On this hybrid host hugetlb lives on the cgroup2 side: the limit is
// written there, with the controller enabled down the path.
func TestHugetlbLimitOnTheCgroup2Side(t *testing.T) {
	h, err := cgroups.DetectHost()
	if err != nil {
		t.Fatal(err)
	}
	ctrls, _ := os.ReadFile(filepath.Join(h.Unified, "cgroup.controllers"))
	if h.V1["hugetlb"] != "" || !strings.Contains(string(ctrls), "hugetlb") {
		t.Skip("hugetlb is not on the cgroup2 side of this host") // the v1 writer is unit-tested
	}
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Resources = &specs.LinuxResources{HugepageLimits: []specs.LinuxHugepageLimit{{Pagesize: "2MB", Limit: 4 << 21}}}
	b.create()
	got, err := os.ReadFile(filepath.Join(h.Unified, b.spec.Linux.CgroupsPath, "hugetlb.2MB.max"))
	if err != nil || strings.TrimSpace(string(got)) != strconv.Itoa(4<<21) {
		t.Fatalf("hugetlb.2MB.max = %q, %v", got, err)
	}
}

// A deprecated kernel-memory limit is applied or reported, never dropped
// in silence (this kernel accepts the write and keeps no limit).
func TestKernelMemoryLimitIsAppliedOrWarnedAbout(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	b.spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Kernel: i64p(1 << 20)}}
	b.write()
	r := berth(t, "create", "--bundle", b.dir, b.id)
	if r.code != 0 {
		t.Fatalf("create: %s", r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(v1dir(t, b, "memory"), "memory.kmem.limit_in_bytes"))
	applied := strings.TrimSpace(string(got)) == strconv.Itoa(1<<20)
	if !applied && !strings.Contains(r.stderr, "memory.kernel") {
		t.Fatalf("kernel memory limit neither applied (%q) nor reported: %q", got, r.stderr)
	}
}
