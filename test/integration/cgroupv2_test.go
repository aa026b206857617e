package integration

import (
	"os/exec"
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
	script := `set -e
for m in $(grep ' - cgroup' /proc/self/mountinfo | cut -d' ' -f5 | sort -r); do umount -l "$m"; done
umount -l /sys/fs/cgroup
mount -t cgroup2 none /sys/fs/cgroup
exec "$0" --root "$1" run --bundle "$2" "$3"`
	out, err := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script,
		*runtimeBin, filepath.Join(suiteDir, "state"), b.dir, b.id).CombinedOutput()
	if err != nil {
		t.Fatalf("run on v2: %v\n%s", err, out)
	}
	want := "0::" + b.spec.Linux.CgroupsPath
	if !strings.Contains(string(out), want+"\n") {
		t.Fatalf("init's cgroups:\n%s\nwant a line %q", out, want)
	}
	assertGone(t, b.id)
}
