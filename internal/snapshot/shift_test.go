package snapshot

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func TestShiftCopyKeepsAllButTheOwners(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("chown and mknod need root (make test runs as root)")
	}
	src := filepath.Join(t.TempDir(), "src")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(src, "bin"), 0o755))
	must(os.WriteFile(filepath.Join(src, "bin", "tool"), []byte("#!/bin/sh\n"), 0o755))
	must(unix.Chmod(filepath.Join(src, "bin", "tool"), 0o4755)) // os.Chmod would drop the setuid bit of a plain number
	must(os.Link(filepath.Join(src, "bin", "tool"), filepath.Join(src, "bin", "alias")))
	must(os.Symlink("tool", filepath.Join(src, "bin", "link")))
	must(unix.Mknod(filepath.Join(src, "gone"), unix.S_IFCHR, 0)) // a whiteout
	must(os.Mkdir(filepath.Join(src, "home"), 0o750))
	must(os.Lchown(filepath.Join(src, "home"), 1000, 1000))
	must(os.Lchown(filepath.Join(src, "bin", "link"), 7, 8))
	must(os.WriteFile(filepath.Join(src, "big"), nil, 0o600))
	must(os.Lchown(filepath.Join(src, "big"), 70000, 0))
	must(unix.Lsetxattr(filepath.Join(src, "home"), "user.note", []byte("kept"), 0))
	old := unix.Timespec{Sec: 1_000_000_000}
	must(unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(src, "bin"), []unix.Timespec{old, old}, 0))

	dst := filepath.Join(t.TempDir(), "dst")
	shift := func(uid, gid uint32) (uint32, uint32) {
		f := func(id uint32) uint32 {
			if id < 65536 {
				return 100000 + id
			}
			return 0
		}
		return f(uid), f(gid)
	}
	must(ShiftCopy(src, dst, shift))
	stat := func(rel string) unix.Stat_t {
		t.Helper()
		var st unix.Stat_t
		must(unix.Lstat(filepath.Join(dst, rel), &st))
		return st
	}
	for rel, want := range map[string][3]uint32{ // uid, gid, mode
		".":        {100000, 100000, unix.S_IFDIR | 0o755},
		"bin/tool": {100000, 100000, unix.S_IFREG | 0o4755},
		"bin/link": {100007, 100008, unix.S_IFLNK | 0o777},
		"gone":     {100000, 100000, unix.S_IFCHR},
		"home":     {101000, 101000, unix.S_IFDIR | 0o750},
		"big":      {0, 100000, unix.S_IFREG | 0o600},
	} {
		st := stat(rel)
		if st.Uid != want[0] || st.Gid != want[1] || st.Mode != want[2] {
			t.Errorf("%s: uid %d gid %d mode %o, want %d %d %o", rel, st.Uid, st.Gid, st.Mode, want[0], want[1], want[2])
		}
	}
	if a, b := stat("bin/tool"), stat("bin/alias"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link not kept: %d %d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if l, _ := os.Readlink(filepath.Join(dst, "bin", "link")); l != "tool" {
		t.Errorf("symlink: %q", l)
	}
	if st := stat("gone"); st.Rdev != 0 {
		t.Errorf("whiteout rdev %d", st.Rdev)
	}
	if st := stat("bin"); st.Mtim.Sec != old.Sec {
		t.Errorf("directory time not kept: %d", st.Mtim.Sec)
	}
	buf := make([]byte, 16)
	if n, err := unix.Lgetxattr(filepath.Join(dst, "home"), "user.note", buf); err != nil || string(buf[:n]) != "kept" {
		t.Errorf("xattr: %q %v", buf[:n], err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst, "bin", "tool")); string(b) != "#!/bin/sh\n" {
		t.Errorf("content: %q", b)
	}
	// The source is left as it was.
	var st unix.Stat_t
	must(unix.Lstat(filepath.Join(src, "home"), &st))
	if st.Uid != 1000 {
		t.Errorf("source changed: %d", st.Uid)
	}
}
