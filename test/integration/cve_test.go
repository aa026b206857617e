package integration

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// writableRootfs copies the busybox fixture for a test that writes to
// its rootfs, and removes it afterwards.
func writableRootfs(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp(suiteDir, "rootfs-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if out, err := exec.Command("cp", "-a", *busybox+"/.", dir).CombinedOutput(); err != nil {
		t.Fatalf("copy rootfs: %v: %s", err, out)
	}
	os.Chmod(dir, 0o755)
	return dir
}

// The attack of CVE-2019-5736, in the form this kernel still allows: a
// process in the container opens the runtime's binary through
// /proc/PID/exe of a runtime process that has entered the container (an
// exec, here), keeps the fd, and once the process is gone writes to the
// binary through /proc/self/fd. (The shebang form, "#!/proc/self/exe",
// fails on this kernel with ENOENT before any runtime defence: a magic
// link to a file outside the process's root is not followed by exec.)
//
// berth's defences: its processes in the container are non-dumpable
// until they exec the user's program, so the open is refused; and they
// run from a read-only mount of the binary, so even a container that may
// ptrace them (CAP_SYS_PTRACE) gets EROFS on the write. Each test runs a
// private copy of the runtime: a failed defence damages only the copy.
func TestCVE2019_5736RuntimeBinaryCannotBeOverwritten(t *testing.T) {
	t.Run("default-caps-exe-not-openable", func(t *testing.T) {
		caught, denied, result, changed := runtimeExeAttack(t, nil)
		if changed || caught {
			t.Fatalf("the container opened the runtime's binary (caught=%v, changed=%v, attacker: %q)", caught, changed, result)
		}
		if !denied {
			t.Fatal("the attacker never met a runtime process: the attack was not exercised")
		}
	})
	t.Run("ptrace-cap-binary-read-only", func(t *testing.T) {
		caught, _, result, changed := runtimeExeAttack(t, []string{"CAP_SYS_PTRACE"})
		if !caught {
			t.Fatal("the attacker never caught a runtime process: the attack was not exercised")
		}
		if changed {
			t.Fatalf("the runtime binary on the host was overwritten (attacker: %q)", result)
		}
		if !strings.Contains(result, "Read-only file system") {
			t.Fatalf("the write should fail with EROFS; the attacker reports %q", result)
		}
	})
}

// runtimeExeAttack runs the attacker as the container's PID 1 and execs
// into the container until it catches a runtime process or gives up.
func runtimeExeAttack(t *testing.T, caps []string) (caught, denied bool, result string, changed bool) {
	rt := filepath.Join(suiteDir, "cve-2019-5736-runtime")
	orig, err := os.ReadFile(*runtimeBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rt, orig, 0o755); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(rt)
	rootfs := writableRootfs(t)
	attacker := `exec 2>>/denied
while :; do
  for p in /proc/[0-9]*; do
    [ "$p" = /proc/1 ] && continue
    exec 3<"$p/exe" || continue
    if ! cmp -s /proc/self/fd/3 /bin/busybox; then
      echo caught > /caught
      sleep 0.3
      if echo pwned 2>/err >/proc/self/fd/3; then echo WROTE > /result; else cat /err > /result; fi
      exit 0
    fi
    exec 3<&-
  done
done`
	b := newBundle(t, "sh", "-c", attacker)
	b.spec.Root.Path, b.spec.Root.Readonly = rootfs, false
	c := b.spec.Process.Capabilities
	c.Bounding, c.Effective, c.Permitted = append(c.Bounding, caps...), append(c.Effective, caps...), append(c.Permitted, caps...)
	b.write()
	// Output to a file, not a pipe: the detached container's init would
	// hold a pipe open.
	logf, err := os.CreateTemp(suiteDir, "cve-log")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(logf.Name())
	defer logf.Close()
	run := func(args ...string) error {
		cmd := exec.Command(rt, append([]string{"--root", filepath.Join(suiteDir, "state")}, args...)...)
		cmd.Stdout, cmd.Stderr = logf, logf
		return cmd.Run()
	}
	if err := run("run", "--detach", "--bundle", b.dir, b.id); err != nil {
		out, _ := os.ReadFile(logf.Name())
		t.Fatalf("run: %v: %s", err, out)
	}
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(filepath.Join(rootfs, "caught")); err == nil {
			caught = true
			break
		}
		run("exec", b.id, "/bin/true")
	}
	for i := 0; caught && i < 200 && result == ""; i++ {
		time.Sleep(10 * time.Millisecond)
		r, _ := os.ReadFile(filepath.Join(rootfs, "result"))
		result = string(r)
	}
	d, _ := os.ReadFile(filepath.Join(rootfs, "denied"))
	denied = strings.Contains(string(d), "Permission denied")
	now, _ := os.ReadFile(rt)
	return caught, denied, result, !bytes.Equal(now, orig)
}

// CVE-2021-30465 / CVE-2023-27561 class: while containers are created, a
// mount destination inside the rootfs is swapped between a directory and
// a symlink to a host directory (as a second container sharing the
// volume could). berth resolves destinations inside the rootfs
// (openat2 RESOLVE_IN_ROOT) and mounts through the resolved fd, so every
// mount lands inside the container's root: it is visible there, and the
// host directory is never touched.
func TestCVE2021_30465MountDestinationSwapRace(t *testing.T) {
	rootfs := writableRootfs(t)
	victim := filepath.Join(suiteDir, "victim-30465")
	os.MkdirAll(victim, 0o755)
	defer os.RemoveAll(victim)
	race := filepath.Join(rootfs, "mnt", "race")
	os.MkdirAll(race, 0o755)
	if err := os.Symlink(victim, race+".l"); err != nil {
		t.Fatal(err)
	}
	// The swap exchanges the directory and the symlink atomically. Removing
	// or renaming over a directory would lazily unmount whatever another
	// mount namespace has mounted on it (the kernel does so since 3.18), so
	// a removal-based swap can make the container's tmpfs vanish, which
	// looks the same from inside as a mount that went outside its root.
	swap := func() error {
		return unix.Renameat2(unix.AT_FDCWD, race, unix.AT_FDCWD, race+".l", unix.RENAME_EXCHANGE)
	}
	if err := swap(); err != nil {
		t.Fatalf("exchange %s: %v", race, err)
	}
	swap()
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			swap() // error-free: both names always exist
			time.Sleep(200 * time.Microsecond)
		}
	}()
	var ok, viaLink int
	for i := 0; i < 40; i++ {
		b := newBundle(t, "cat", "/proc/self/mountinfo")
		b.spec.Root.Path, b.spec.Root.Readonly = rootfs, false
		b.spec.Mounts = append(b.spec.Mounts, specs.Mount{Destination: "/mnt/race", Type: "tmpfs", Source: "tmpfs", Options: []string{"size=64k"}})
		r := b.run()
		if r.code != 0 {
			continue // the swap made the destination unusable: refused, fine
		}
		ok++
		var landed string
		for _, line := range strings.Split(r.stdout, "\n") {
			f := strings.Fields(line)
			if len(f) > 8 && strings.Contains(line, " - tmpfs ") && strings.Contains(line, "size=64k") {
				landed = f[4]
			}
		}
		// A mount point the container's mountinfo shows is inside its
		// root (the directory may have been swapped to race.l after the
		// mount); one outside would not be listed at all.
		switch landed {
		case "/mnt/race", "/mnt/race.l":
		case victim: // the symlink, followed inside the container's root
			viaLink++
		default:
			t.Errorf("run %d: the tmpfs is not inside the container (mount point %q)", i, landed)
		}
	}
	close(stop)
	<-done
	if ents, _ := os.ReadDir(victim); len(ents) != 0 {
		t.Fatalf("the host directory was written: %v", ents)
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), victim) {
		t.Fatal("a mount landed on the host directory")
	}
	t.Logf("%d runs succeeded, %d of them through the swapped-in symlink", ok, viaLink)
	if ok == 0 {
		t.Fatal("no run succeeded: the race was not exercised")
	}
}
