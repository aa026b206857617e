package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Each bad input fails with one clear line and leaves nothing behind.
func TestBadInputFailsCleanly(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(b *bundle) // nil config.json when it removes it
		wantErr string
		code    int
	}{
		{"missing config", func(b *bundle) { os.Remove(filepath.Join(b.dir, "config.json")) }, "config.json not found", 1},
		{"invalid json", func(b *bundle) { os.WriteFile(filepath.Join(b.dir, "config.json"), []byte("{nope"), 0o644) }, "parse ", 1},
		{"unknown namespace", func(b *bundle) {
			b.spec.Linux.Namespaces = append(b.spec.Linux.Namespaces, specs.LinuxNamespace{Type: "bogus"})
			b.write()
		}, `unknown namespace type "bogus"`, 1},
		{"missing executable", func(b *bundle) { b.spec.Process.Args = []string{"nosuch"}; b.write() },
			`exec: "nosuch": executable file not found in $PATH`, 127},
		{"rootfs missing", func(b *bundle) { b.spec.Root.Path = "/nonexistent/rootfs"; b.write() }, "not a directory", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := newBundle(t, "true")
			b.write()
			tc.mutate(b)
			r := berth(t, "run", "--bundle", b.dir, b.id)
			lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
			if r.code != tc.code || len(lines) != 1 || !strings.Contains(r.stderr, tc.wantErr) {
				t.Fatalf("run = %d %q, want %d and one line with %q", r.code, r.stderr, tc.code, tc.wantErr)
			}
			assertGone(t, b.id)
		})
	}
}

func TestDuplicateIDIsRefusedAndTheFirstSurvives(t *testing.T) {
	b := newBundle(t, "sleep", "100")
	pid := b.create()
	r := berth(t, "create", "--bundle", b.dir, b.id)
	if r.code == 0 || !strings.Contains(r.stderr, "already exists") {
		t.Fatalf("second create = %d %q", r.code, r.stderr)
	}
	if s := b.state(); s.Status != "created" || s.Pid != pid {
		t.Fatalf("first container disturbed: %+v", s)
	}
}

func TestInvalidIDIsRefused(t *testing.T) {
	b := newBundle(t, "true")
	b.write()
	for _, id := range []string{"../x", "a/b", ".."} {
		r := berth(t, "create", "--bundle", b.dir, id)
		if r.code == 0 || !strings.Contains(r.stderr, "invalid container id") {
			t.Fatalf("create %q = %d %q", id, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(suiteDir, "x")); !os.IsNotExist(err) {
		t.Fatal("something was made outside the state root")
	}
}

// A mount destination that is a symlink to the host's /etc must land
// inside the rootfs (the link is resolved as if the rootfs were /).
func TestMountThroughSymlinkStaysInsideRootfs(t *testing.T) {
	rootfs := filepath.Join(suiteDir, "symlink-rootfs")
	os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755)
	os.MkdirAll(filepath.Join(rootfs, "proc"), 0o755)
	os.MkdirAll(filepath.Join(rootfs, "bin"), 0o755)
	defer os.RemoveAll(rootfs)
	data, _ := os.ReadFile(filepath.Join(*busybox, "bin", "busybox"))
	os.WriteFile(filepath.Join(rootfs, "bin", "busybox"), data, 0o755)
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "sh"))
	os.Symlink("busybox", filepath.Join(rootfs, "bin", "cat"))
	if err := os.Symlink("/etc", filepath.Join(rootfs, "evil")); err != nil {
		t.Fatal(err)
	}
	hostBefore, _ := os.ReadFile("/etc/hostname")
	src := filepath.Join(suiteDir, "planted")
	os.WriteFile(src, []byte("planted\n"), 0o644)
	defer os.Remove(src)

	b := newBundle(t, "cat", "/etc/hostname")
	b.spec.Root = &specs.Root{Path: rootfs}
	b.spec.Mounts = []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc"},
		{Destination: "/evil/hostname", Type: "bind", Source: src, Options: []string{"bind"}},
	}
	r := b.run()
	hostAfter, _ := os.ReadFile("/etc/hostname")
	if string(hostAfter) != string(hostBefore) {
		t.Fatal("the host's /etc/hostname changed")
	}
	if r.code != 0 || r.stdout != "planted\n" {
		t.Fatalf("inside: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(rootfs, "etc", "hostname")); err != nil {
		t.Fatalf("mount target was not created inside the rootfs: %v", err)
	}
}

// A capability the host's bounding set lacks cannot be granted: create
// says which, in one line, and leaves nothing. The runtime runs under
// setpriv with CAP_SYS_RESOURCE dropped from its bounding set, so the
// test means the same on any host.
func TestUngrantableCapabilityIsAClearError(t *testing.T) {
	b := newBundle(t, "true")
	c := b.spec.Process.Capabilities
	c.Bounding, c.Permitted = append(c.Bounding, "CAP_SYS_RESOURCE"), append(c.Permitted, "CAP_SYS_RESOURCE")
	b.write()
	out, err := exec.Command("setpriv", "--bounding-set", "-sys_resource", *runtimeBin, "--root", filepath.Join(suiteDir, "state"),
		"run", "--bundle", b.dir, b.id).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "CAP_SYS_RESOURCE are not in this host's bounding set") || strings.Count(strings.TrimSpace(string(out)), "\n") != 0 {
		t.Fatalf("run with an ungrantable capability: %v: %q", err, out)
	}
	assertGone(t, b.id)
}
