package integration

import (
	"os"
	"os/exec"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"path/filepath"
	"strings"
	"testing"
)

// The v2 (unified) implementation, checked on this hybrid host: in a
// private mount namespace with every v1 hierarchy unmounted and cgroup2
// mounted at /sys/fs/cgroup, berth sees a pure v2 host and puts init into
// its cgroup at clone time.
func TestPureV2HostPlacesInitInItsCgroup(t *testing.T) {
	b := newBundle(t, "cat", "/proc/self/cgroup")
	// Without a cgroup namespace the full path is visible.
	b.spec.Linux.Namespaces = b.spec.Linux.Namespaces[:5]
	b.write()
	out, err := runOnV2(b)
	if err != nil {
		t.Fatalf("run on v2: %v\n%s", err, out)
	}
	want := "0::" + b.spec.Linux.CgroupsPath
	if !strings.Contains(string(out), want+"\n") {
		t.Fatalf("init's cgroups:\n%s\nwant a line %q", out, want)
	}
	assertGone(t, b.id)
}

// runOnV2 runs the bundle in a private mount namespace where only cgroup2
// is mounted, so berth sees a pure v2 host.
func runOnV2(b *bundle) ([]byte, error) {
	script := `set -e
for m in $(grep ' - cgroup' /proc/self/mountinfo | cut -d' ' -f5 | sort -r); do umount -l "$m"; done
umount -l /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
exec "$0" --root "$1" run --bundle "$2" "$3"`
	return exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script,
		*runtimeBin, filepath.Join(suiteDir, "state"), b.dir, b.id).CombinedOutput()
}

// On cgroup v2, device rules become an eBPF program on the cgroup: a
// deny-all rule denies a device the config made (its node is there),
// and the devices every process needs stay allowed, as with runc.
func TestV2DeviceRulesAreEnforcedByAnEBPFProgram(t *testing.T) {
	b := newBundle(t, "sh", "-c", "echo x > /dev/null && echo NULL-OK; head -c1 /dev/zero >/dev/null 2>&1 && echo ZERO-OPEN; (exec 3</dev/fuse-like) 2>&1 | grep -q 'not permitted' && echo FUSE-DENIED")
	one, three := int64(1), int64(3)
	b.spec.Linux.Resources = &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{
		{Allow: false, Access: "rwm"},
		{Allow: true, Type: "c", Major: &one, Minor: &three, Access: "rw"},
	}}
	mode := os.FileMode(0o666)
	b.spec.Linux.Devices = []specs.LinuxDevice{{Path: "/dev/fuse-like", Type: "c", Major: 10, Minor: 229, FileMode: &mode}}
	b.write()
	out, err := runOnV2(b)
	if err != nil || string(out) != "NULL-OK\nZERO-OPEN\nFUSE-DENIED\n" {
		t.Fatalf("inside: %v %q", err, out)
	}
	assertGone(t, b.id)
}
