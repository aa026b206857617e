package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/berth-project/berth/internal/caps"
	"github.com/berth-project/berth/internal/seccomp/profile"
)

// probeRootfs is a writable busybox copy holding the static probe
// program at /probe.
func probeRootfs(t *testing.T) string {
	t.Helper()
	bin := probeBinary(t)
	rootfs := writableRootfs(t)
	if out, err := exec.Command("cp", bin, filepath.Join(rootfs, "probe")).CombinedOutput(); err != nil {
		t.Fatalf("copy probe: %v: %s", err, out)
	}
	return rootfs
}

// probeBinary builds the static probe program once per suite.
func probeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(suiteDir, "probe")
	if _, err := os.Stat(bin); err != nil {
		cmd := exec.Command("go", "build", "-o", bin, "./testdata/probe")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build probe: %v: %s", err, out)
		}
	}
	return bin
}

// withDefaults gives a bundle the engine's defaults: Docker's
// capabilities (inheritable empty) and, when seccomp is set, Docker's
// seccomp profile resolved for them.
func withDefaults(b *bundle, rootfs string, seccomp bool) {
	b.spec.Root.Path, b.spec.Root.Readonly = rootfs, false
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps.Default, Effective: caps.Default, Permitted: caps.Default}
	if seccomp {
		b.spec.Linux.Seccomp = profile.Default().For(caps.Default, profile.ThisHost())
	}
}

// A default-profile container cannot make a user namespace, use the
// kernel keyring, mount, or load a kernel module. Without the profile
// the first two work (or fail for another reason): the profile is what
// blocks them.
func TestDefaultSeccompProfileBlocksEscapeSyscalls(t *testing.T) {
	rootfs := probeRootfs(t)
	b := newBundle(t, "/probe", "syscalls")
	withDefaults(b, rootfs, true)
	r := b.run()
	for _, want := range []string{"unshare-user=EPERM", "keyctl=EPERM", "mount=EPERM", "finit_module=EPERM", "init_module=EPERM"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("with the default profile, want %s; probe says:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	c := newBundle(t, "/probe", "syscalls")
	withDefaults(c, rootfs, false)
	r = c.run()
	if strings.Contains(r.stdout, "unshare-user=EPERM") || !strings.Contains(r.stdout, "keyctl=ok") {
		t.Fatalf("without a profile unshare(CLONE_NEWUSER) and keyctl are not blocked by seccomp; probe says:\n%s%s", r.stdout, r.stderr)
	}
}

// no_new_privs keeps a setuid-root binary from raising the effective
// uid of a non-root process; without it the bit works.
func TestNoNewPrivilegesStopsSetuid(t *testing.T) {
	rootfs := probeRootfs(t)
	suid := filepath.Join(rootfs, "suid-probe")
	if out, err := exec.Command("cp", filepath.Join(rootfs, "probe"), suid).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	os.Chown(suid, 0, 0)
	if err := os.Chmod(suid, os.ModeSetuid|0o755); err != nil {
		t.Fatal(err)
	}
	for _, nnp := range []bool{true, false} {
		b := newBundle(t, "/suid-probe", "euid")
		withDefaults(b, rootfs, false)
		b.spec.Process.User = specs.User{UID: 1000, GID: 1000}
		b.spec.Process.NoNewPrivileges = nnp
		r := b.run()
		want := map[bool]string{true: "1000\n", false: "0\n"}[nnp]
		if r.stdout != want {
			t.Errorf("noNewPrivileges=%v: euid %q, want %q (%s)", nnp, r.stdout, want, r.stderr)
		}
	}
}

// CVE-2024-21626: a host directory fd leaked into the container, reached
// as process.cwd = /proc/self/fd/N. No fd of the runtime's survives into
// the container, so such a cwd does not resolve, and the container sees
// only its stdio.
func TestCVE2024_21626NoLeakedFdAsCwd(t *testing.T) {
	for n := 3; n <= 12; n++ {
		b := newBundle(t, "sh", "-c", "readlink /proc/self/cwd")
		b.spec.Process.Cwd = fmt.Sprintf("/proc/self/fd/%d", n)
		r := b.run()
		if r.code == 0 && !strings.HasPrefix(r.stdout, "/proc/") {
			t.Errorf("cwd /proc/self/fd/%d: the container started in %q", n, strings.TrimSpace(r.stdout))
		}
	}
	b := newBundle(t, "sh", "-c", "ls /proc/self/fd")
	if r := b.run(); strings.Fields(r.stdout) == nil || strings.Join(strings.Fields(r.stdout), " ") != "0 1 2 3" {
		t.Fatalf("fds inside the container: %q (want 0 1 2 and ls's own 3)", r.stdout)
	}
	// The same through exec.
	e := newBundle(t, "sleep", "100")
	e.write()
	if r := berth(t, "run", "--detach", "--bundle", e.dir, e.id); r.code != 0 {
		t.Fatalf("run: %s", r.stderr)
	}
	for n := 3; n <= 12; n++ {
		r := berth(t, "exec", "--cwd", fmt.Sprintf("/proc/self/fd/%d", n), e.id, "sh", "-c", "readlink /proc/self/cwd")
		if r.code == 0 && !strings.HasPrefix(r.stdout, "/proc/") {
			t.Errorf("exec --cwd /proc/self/fd/%d: the process started in %q", n, strings.TrimSpace(r.stdout))
		}
	}
	if r := berth(t, "exec", e.id, "sh", "-c", "ls /proc/self/fd"); strings.Join(strings.Fields(r.stdout), " ") != "0 1 2 3" {
		t.Fatalf("fds of an exec'd process: %q", r.stdout)
	}
}

// Masked /proc paths stay masked for a container with the default
// capabilities: it can neither unmount the mask nor mount a fresh proc,
// and /proc/sys is read-only.
func TestMaskedPathsCannotBeUnmasked(t *testing.T) {
	b := newBundle(t, "sh", "-c", `
umount /proc/keys 2>/dev/null && echo UNMASKED
mkdir -p /tmp/p && mount -t proc proc /tmp/p 2>/dev/null && echo MOUNTED
echo 1 > /proc/sys/vm/drop_caches 2>/dev/null && echo WROTE
echo 1 > /proc/sysrq-trigger 2>/dev/null && echo SYSRQ
wc -c < /proc/keys; wc -c < /proc/timer_list`)
	b.spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps.Default, Effective: caps.Default, Permitted: caps.Default}
	b.spec.Linux.MaskedPaths = append(b.spec.Linux.MaskedPaths, "/proc/sysrq-trigger")
	r := b.run()
	if strings.Join(strings.Fields(r.stdout), " ") != "0 0" {
		t.Fatalf("masked paths: %q %q", r.stdout, r.stderr)
	}
}

// Each container gets a session keyring of its own; --no-new-keyring
// keeps the caller's.
func TestSessionKeyringPerContainer(t *testing.T) {
	rootfs := probeRootfs(t)
	keyring := func(extra ...string) string {
		b := newBundle(t, "/probe", "keyring")
		withDefaults(b, rootfs, false)
		b.write()
		r := berth(t, append(append([]string{"run"}, extra...), "--bundle", b.dir, b.id)...)
		if r.code != 0 {
			t.Fatalf("run: %s", r.stderr)
		}
		return strings.TrimSpace(r.stdout)
	}
	a, b := keyring(), keyring()
	if a == b || !strings.Contains(a, "_ses.") {
		t.Fatalf("two containers' session keyrings: %q and %q", a, b)
	}
	if k := keyring("--no-new-keyring"); strings.Contains(k, "_ses.testsession") {
		t.Fatalf("--no-new-keyring made a new keyring: %q", k)
	}
}
