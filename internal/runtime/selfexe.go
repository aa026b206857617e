package runtime

import (
	"fmt"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// selfExe returns a path through which to re-execute this binary as a
// container's init or exec process such that nothing in the container can
// write to the binary on the host (CVE-2019-5736): a container process
// that execs "#!/proc/self/exe" while one of ours runs there gets this
// binary as its own image, and could reopen it for writing through
// /proc/self/fd once we exit.
//
// The path names a read-only, detached bind mount of the binary
// (open_tree + mount_setattr): no copy, a few microseconds, and nothing
// mounted anywhere anyone can see; it goes away with its last user.
// Without the privilege for that (rootless), it is a sealed memfd copy.
// Close the returned file after the child has started.
func selfExe() (string, *os.File, error) {
	f, err := readOnlyClone()
	if err != nil {
		if f, err = sealedCopy(); err != nil {
			return "", nil, err
		}
	}
	// Above the fds the child is given (dup2'd to 3..n before execve,
	// which would otherwise clobber this one while it is the exec path).
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 100)
	_ = f.Close() // read only
	if err != nil {
		return "", nil, fmt.Errorf("protect self exe: %w", err)
	}
	return "/proc/self/fd/" + strconv.Itoa(fd), os.NewFile(uintptr(fd), "self-exe"), nil
}

func readOnlyClone() (*os.File, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, "/proc/self/exe", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		fd, err = cloneByPath()
	}
	if err != nil {
		return nil, fmt.Errorf("open_tree self exe: %w", err)
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NODEV | unix.MOUNT_ATTR_NOSUID}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		_ = unix.Close(fd) // a descriptor of ours
		return nil, fmt.Errorf("make self exe read-only: %w", err)
	}
	return os.NewFile(uintptr(fd), "self-exe"), nil
}

// cloneByPath clones the binary's mount through its path: rootless, the
// binary was started before berth joined its mount namespace, so
// /proc/self/exe names a mount of the host's namespace, which may not
// be cloned from this one; its path names this namespace's copy (locked
// to its submounts there, so only a recursive clone may be taken). The
// path counts only while it still names the running binary.
func cloneByPath() (int, error) {
	path, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return -1, err
	}
	var self, named unix.Stat_t
	if err := unix.Stat("/proc/self/exe", &self); err != nil {
		return -1, err
	}
	if err := unix.Stat(path, &named); err != nil || named.Dev != self.Dev || named.Ino != self.Ino {
		return -1, unix.ESTALE // replaced since it started: only the copy is the running binary
	}
	return unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_RECURSIVE)
}

func sealedCopy() (*os.File, error) {
	src, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("open self exe: %w", err)
	}
	defer src.Close() // read only
	fd, err := unix.MemfdCreate("berth", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd for self exe: %w", err)
	}
	f := os.NewFile(uintptr(fd), "self-exe")
	if _, err := io.Copy(f, src); err != nil {
		_ = f.Close() // a memfd that failed to fill or seal: the error is returned
		return nil, fmt.Errorf("copy self exe: %w", err)
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		_ = f.Close() // as above
		return nil, fmt.Errorf("seal self exe: %w", err)
	}
	return f, nil
}
