// A container init's steps from a start plan: the root filesystem
// (mounts, devices, links, pivot_root, masked and read-only paths) and
// the namespace work around it. rootfs.Steps compiles them from the
// spec; the checks here are the ones of package rootfs, in C.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "nsenter.h"
#include "plan.h"

#ifndef MOUNT_ATTR_SIZE_VER0
struct mount_attr {
	uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef KEYCTL_JOIN_SESSION_KEYRING
#define KEYCTL_JOIN_SESSION_KEYRING 1
#endif

#define MAX_LATE 8

static int root_fd = -1;
static int late[MAX_LATE];
static int nlate;

// rel turns a clean absolute path into one relative to the root.
static const char *rel(const char *path) {
	while (*path == '/') path++;
	return *path ? path : ".";
}

// in_root opens path inside the root with every symlink resolved as if
// the root were "/": a link in the image cannot send a mount to the host.
static int in_root(const char *path, int flags) {
	struct open_how how = {.flags = (uint64_t)(flags | O_CLOEXEC), .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS};
	for (;;) {
		int fd = (int)syscall(SYS_openat2, root_fd, rel(path), &how, sizeof how);
		if (fd < 0 && (errno == EINTR || errno == EAGAIN)) continue;
		return fd;
	}
}

// mkdir_all makes path (and its parents) inside the root, the last one
// an empty file when as_file, and returns an O_PATH fd on it, or -1 with
// errno set.
static int mkdir_all(const char *path, int as_file) {
	int fd = in_root(path, O_PATH);
	if (fd >= 0 || errno != ENOENT) return fd;
	char parent[PATH_MAX];
	if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
		errno = ENAMETOOLONG;
		return -1;
	}
	char *slash = strrchr(parent, '/');
	const char *name = slash ? slash + 1 : parent;
	int pfd;
	if (slash == NULL || slash == parent) {
		pfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	} else {
		*slash = 0;
		pfd = mkdir_all(parent, 0);
	}
	if (pfd < 0) return -1;
	int dfd = openat(pfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	int e = errno;
	close(pfd);
	if (dfd < 0) {
		errno = e;
		return -1;
	}
	int r;
	if (as_file) {
		r = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (r >= 0) close(r);
	} else {
		r = mkdirat(dfd, name, 0755);
	}
	e = errno;
	close(dfd);
	if (r < 0 && e != EEXIST) {
		errno = e;
		return -1;
	}
	return in_root(path, O_PATH);
}

// locked returns the flags of the mount at path that a remount must
// repeat.
static unsigned long locked(const char *path) {
	struct statvfs s;
	if (statvfs(path, &s) < 0) return 0;
	unsigned long f = 0;
	if (s.f_flag & ST_RDONLY) f |= MS_RDONLY;
	if (s.f_flag & ST_NOSUID) f |= MS_NOSUID;
	if (s.f_flag & ST_NODEV) f |= MS_NODEV;
	if (s.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
	if (s.f_flag & ST_NOATIME) f |= MS_NOATIME;
	if (s.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
	if (s.f_flag & ST_RELATIME) f |= MS_RELATIME;
	return f;
}

static void do_mount(const struct berth_step *st) {
	char target[64], data[1024];
	const char *tp = st->path;
	const char *d = st->data;
	int fd = -1;
	if (st->opts & BERTH_OPT_DIR_ONLY) {
		struct stat s;
		if (fstatat(root_fd, rel(st->path), &s, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(s.st_mode))
			berth_fail(0, "%s: %s must be mounted on ordinary directory", st->what, st->fstype);
	}
	if (st->opts & BERTH_OPT_TMPFS_MODE) {
		// A tmpfs that names no mode gets the mode of the directory it
		// covers, as runc does; one made for it keeps the default. What
		// is there is the target too.
		fd = in_root(st->path, O_PATH);
		struct stat s;
		if (fd >= 0 && fstat(fd, &s) == 0 && S_ISDIR(s.st_mode)) {
			snprintf(data, sizeof data, "%s%smode=%o", d, *d ? "," : "", (unsigned)(s.st_mode & 07777));
			d = data;
		}
	}
	if (st->target != BERTH_TARGET_ABS) {
		if (fd < 0)
			fd = st->target == BERTH_TARGET_EXISTING ? in_root(st->path, O_PATH) : mkdir_all(st->path, st->target == BERTH_TARGET_FILE);
		if (fd < 0) berth_fail(0, "%s: open %s in rootfs: %s", st->what, st->path, berth_errstr(errno));
		snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
		tp = target;
	}
	unsigned long flags = (unsigned long)st->flags;
	if (st->opts & BERTH_OPT_LOCKED) flags |= locked(tp);
	int r = mount(*st->src ? st->src : NULL, tp, *st->fstype ? st->fstype : NULL, flags, *d ? d : NULL);
	if (r < 0 && errno == EPERM && (st->opts & BERTH_OPT_LOCKED_RETRY)) {
		// In a user namespace the flags the mount already has are
		// locked: a remount must repeat them.
		flags |= locked(tp);
		r = mount(NULL, tp, NULL, flags, NULL);
	}
	if (r < 0 && errno == EPERM && (st->opts & BERTH_OPT_SYSFS_BIND)) {
		// A user namespace that does not own the network namespace may
		// not mount sysfs: the host's, read-only, as runc shows.
		r = mount("/sys", tp, NULL, MS_BIND | MS_REC, NULL);
		if (r == 0) {
			int again = in_root(st->path, O_PATH);
			char t2[64];
			snprintf(t2, sizeof t2, "/proc/self/fd/%d", again);
			flags = MS_BIND | MS_REMOUNT | (unsigned long)st->b;
			r = again < 0 ? -1 : mount(NULL, t2, NULL, flags, NULL);
			if (r < 0 && errno == EPERM) r = mount(NULL, t2, NULL, flags | locked(t2), NULL);
			if (again >= 0) close(again);
		}
	}
	if (r < 0 && errno == EINVAL && (st->opts & BERTH_OPT_DEVPTS_NO_GID)) {
		// One gid mapped: there is no tty group (gid=5), and the
		// terminals belong to the caller's group, as in runc.
		char nogid[1024] = "";
		size_t o = 0;
		char copy[1024];
		snprintf(copy, sizeof copy, "%s", d);
		char *save = NULL;
		for (char *opt = strtok_r(copy, ",", &save); opt; opt = strtok_r(NULL, ",", &save)) {
			if (strncmp(opt, "gid=", 4) == 0) continue;
			o += (size_t)snprintf(nogid + o, sizeof nogid - o, "%s%s", o ? "," : "", opt);
			if (o >= sizeof nogid) break;
		}
		r = mount(st->src, tp, st->fstype, flags, nogid[0] ? nogid : NULL);
	}
	if (r < 0)
		berth_fail(0, "%s: mount %s on %s type %s flags %#lx data %s: %s", st->what, st->src, st->path, st->fstype, flags, d, berth_errstr(errno));
	if (fd >= 0) close(fd);
}

static void do_setattr(const struct berth_step *st) {
	int fd = in_root(st->path, O_PATH);
	if (fd < 0) berth_fail(0, "%s: open %s in rootfs: %s", st->what, st->path, berth_errstr(errno));
	struct mount_attr attr = {.attr_set = st->a, .attr_clr = st->b};
	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) < 0)
		berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	close(fd);
}

// open_dir_of opens the directory that will hold path in the root,
// making it, and points *name at the last component.
static int open_dir_of(const struct berth_step *st, char *buf, size_t n, const char **name) {
	snprintf(buf, n, "%s", st->path);
	char *slash = strrchr(buf, '/');
	*name = slash ? slash + 1 : buf;
	int pfd;
	if (slash == NULL || slash == buf) {
		pfd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	} else {
		*slash = 0;
		pfd = mkdir_all(buf, 0);
	}
	if (pfd < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	int dfd = openat(pfd, ".", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (dfd < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	close(pfd);
	return dfd;
}

static void do_mknod(const struct berth_step *st) {
	char buf[PATH_MAX];
	const char *name;
	int dfd = open_dir_of(st, buf, sizeof buf, &name);
	mode_t perm = (mode_t)(st->a & 07777);
	// Replace whatever the image had at that path; mknod applies the
	// umask, so the mode is set exactly after.
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	if (mknodat(dfd, name, (mode_t)st->a, (dev_t)st->flags) < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	if (fchmodat(dfd, name, perm, 0) < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	if (fchownat(dfd, name, (uid_t)(st->b >> 32), (gid_t)(st->b & 0xffffffff), AT_SYMLINK_NOFOLLOW) < 0)
		berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	close(dfd);
}

static void do_symlink(const struct berth_step *st) {
	char buf[PATH_MAX];
	const char *name;
	int dfd = open_dir_of(st, buf, sizeof buf, &name);
	if ((st->opts & BERTH_OPT_REPLACE) && unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	if (symlinkat(st->src, dfd, name) < 0 && errno != EEXIST) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	close(dfd);
}

// do_pivot makes the rootfs the root and detaches the old one entirely;
// pivot_root(".", ".") stacks the old root under the new one, so no
// directory in the image is needed to hold it.
static void do_pivot(const struct berth_step *st) {
	int old = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (old < 0) berth_fail(0, "open old root: %s", berth_errstr(errno));
	int nr = open(st->path, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
	if (nr < 0) berth_fail(0, "open new root %s: %s", st->path, berth_errstr(errno));
	if (fchdir(nr) < 0) berth_fail(0, "chdir to new root: %s", berth_errstr(errno));
	if (syscall(SYS_pivot_root, ".", ".") < 0) berth_fail(0, "pivot_root %s: %s", st->path, berth_errstr(errno));
	if (fchdir(old) < 0) berth_fail(0, "chdir to old root: %s", berth_errstr(errno));
	// A slave first, so the detach cannot propagate to the host.
	if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0) berth_fail(0, "make old root rslave: %s", berth_errstr(errno));
	if (umount2(".", MNT_DETACH) < 0) berth_fail(0, "detach old root: %s", berth_errstr(errno));
	if (chdir("/") < 0) berth_fail(0, "chdir /: %s", berth_errstr(errno));
	close(old);
	close(nr);
	if (root_fd >= 0) close(root_fd);
	root_fd = -1;
}

static void do_write(const struct berth_step *st) {
	int fd = open(st->path, O_WRONLY | O_CLOEXEC);
	size_t n = strlen(st->src);
	if (fd < 0 || write(fd, st->src, n) != (ssize_t)n) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	close(fd);
}

static void do_readonly(const struct berth_step *st) {
	if (mount(st->path, st->path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		if (errno == ENOENT) return;
		berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	}
	unsigned long f = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC | locked(st->path);
	if (mount(NULL, st->path, NULL, f, NULL) < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
}

static void do_mask(const struct berth_step *st) {
	struct stat s;
	if (stat(st->path, &s) < 0) {
		if (errno == ENOENT) return;
		berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
	}
	int r = S_ISDIR(s.st_mode) ? mount("tmpfs", st->path, "tmpfs", MS_RDONLY, "size=0k") : mount("/dev/null", st->path, NULL, MS_BIND, NULL);
	if (r < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
}

// do_loopback brings lo up in a new network namespace, as runc and crun
// do: programs that talk to 127.0.0.1 inside expect it up.
static void do_loopback(void) {
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0) berth_fail(0, "bring lo up: %s", berth_errstr(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) berth_fail(0, "bring lo up: %s", berth_errstr(errno));
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) berth_fail(0, "bring lo up: %s", berth_errstr(errno));
	close(s);
}

void berth_steps_run(const struct berth_plan *pl) {
	for (size_t i = 0; i < pl->nsteps; i++) {
		const struct berth_step *st = &pl->steps[i];
		if (st->target != BERTH_TARGET_ABS && root_fd < 0 && st->op != BERTH_STEP_ROOT)
			berth_fail(0, "%s: start plan: a step in the root before the root is open", st->what);
		switch (st->op) {
		case BERTH_STEP_MOUNT: do_mount(st); break;
		case BERTH_STEP_SETATTR: do_setattr(st); break;
		case BERTH_STEP_ROOT:
			root_fd = open(st->path, O_PATH | O_DIRECTORY | O_CLOEXEC);
			if (root_fd < 0) berth_fail(0, "open rootfs %s: %s", st->path, berth_errstr(errno));
			break;
		case BERTH_STEP_MKNOD: do_mknod(st); break;
		case BERTH_STEP_SYMLINK: do_symlink(st); break;
		case BERTH_STEP_PIVOT:
			berth_trace("init", "mounts done");
			do_pivot(st);
			berth_trace("init", "pivoted");
			break;
		case BERTH_STEP_WRITE: do_write(st); break;
		case BERTH_STEP_READONLY: do_readonly(st); break;
		case BERTH_STEP_MASK: do_mask(st); break;
		case BERTH_STEP_HOSTNAME:
			if (sethostname(st->src, strlen(st->src)) < 0) berth_fail(0, "set hostname \"%s\": %s", st->src, berth_errstr(errno));
			break;
		case BERTH_STEP_DOMAIN:
			if (setdomainname(st->src, strlen(st->src)) < 0) berth_fail(0, "set domainname \"%s\": %s", st->src, berth_errstr(errno));
			break;
		case BERTH_STEP_KEYRING:
			// A session keyring of its own, so keys do not leak between
			// containers or from the host's session.
			if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, st->src, 0, 0, 0) < 0 && errno != ENOSYS)
				berth_fail(0, "join a new session keyring: %s", berth_errstr(errno));
			break;
		case BERTH_STEP_UNSHARE:
			if (unshare((int)st->flags) < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
			break;
		case BERTH_STEP_LOOPBACK: do_loopback(); break;
		case BERTH_STEP_LATE_OPEN:
			if (nlate == MAX_LATE) berth_fail(0, "%s: too many", st->what);
			if ((late[nlate] = open(st->path, O_WRONLY | O_CLOEXEC)) < 0) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
			nlate++;
			break;
		case BERTH_STEP_LATE_WRITE:
			for (int j = 0; j < nlate; j++) {
				if (write(late[j], "0", 1) != 1) berth_fail(0, "%s: %s", st->what, berth_errstr(errno));
				close(late[j]);
			}
			nlate = 0;
			break;
		}
	}
}
