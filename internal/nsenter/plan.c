// The process start from a flat plan. See plan.go for the format and
// why it is C.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>

#include "nsenter.h"
#include "plan.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_RAISE 2
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static uint32_t get32(const unsigned char *p) {
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const unsigned char *p) {
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

// str checks that a record is one NUL-terminated string with no other
// NUL in it.
static const char *str(const unsigned char *p, uint32_t n) {
	if (n == 0 || p[n - 1] != 0 || memchr(p, 0, n) != p + n - 1) return NULL;
	return (const char *)p;
}

int berth_plan_decode(const unsigned char *buf, size_t len, struct berth_plan *pl, char *err, size_t errlen) {
	memset(pl, 0, sizeof *pl);
	pl->umask = 022;
	pl->console_fd = -1;
	pl->first_fd = 3;
	if (len < 8 || memcmp(buf, BERTH_PLAN_MAGIC, 8) != 0) {
		snprintf(err, errlen, "start plan: not a plan of this version");
		return -1;
	}
	// Two passes: count the strings and rlimits, then point at them.
	for (int pass = 0; pass < 2; pass++) {
		size_t nargs = 0, nenv = 0, nrl = 0, nsteps = 0;
		for (size_t off = 8; off < len;) {
			if (len - off < 8) {
				snprintf(err, errlen, "start plan: truncated record header at %zu", off);
				return -1;
			}
			uint32_t tag = get32(buf + off), n = get32(buf + off + 4);
			off += 8;
			if (n > len - off) {
				snprintf(err, errlen, "start plan: record %u at %zu runs past the end", tag, off - 8);
				return -1;
			}
			const unsigned char *p = buf + off;
			off += n;
			if (pass == 0) {
				switch (tag) {
				case BERTH_REC_ARG: nargs++; break;
				case BERTH_REC_ENV: nenv++; break;
				case BERTH_REC_RLIMIT: nrl++; break;
				case BERTH_REC_STEP: nsteps++; break;
				}
				continue;
			}
			const char *s;
			switch (tag) {
			case BERTH_REC_RLIMIT:
				if (n < 21 || (s = str(p + 20, n - 20)) == NULL) goto bad;
				pl->rlimits[nrl].resource = (int)get32(p);
				pl->rlimits[nrl].soft = get64(p + 4);
				pl->rlimits[nrl].hard = get64(p + 12);
				pl->rlimits[nrl].name = s;
				nrl++;
				break;
			case BERTH_REC_OOM:
				if (n != 4) goto bad;
				pl->has_oom = 1;
				pl->oom_score_adj = (int32_t)get32(p);
				break;
			case BERTH_REC_SECCOMP:
				if (n < 16 || (n - 8) % 8 != 0 || (n - 8) / 8 > BPF_MAXINSNS) goto bad;
				pl->seccomp_flags = get32(p);
				pl->seccomp_early = get32(p + 4) != 0;
				pl->bpf = p + 8;
				pl->bpf_len = (n - 8) / 8;
				break;
			case BERTH_REC_CWD:
				if ((pl->cwd = str(p, n)) == NULL) goto bad;
				break;
			case BERTH_REC_USER: {
				if (n < 16) goto bad;
				uint32_t ng = get32(p + 12);
				if (ng > 65536 || n != 16 + 4 * ng) goto bad;
				pl->uid = get32(p);
				pl->gid = get32(p + 4);
				pl->umask = get32(p + 8) & 07777;
				pl->ngroups = ng;
				pl->groups = p + 16;
				break;
			}
			case BERTH_REC_CAPS:
				if (n != 48) goto bad;
				pl->drop_bounding = get32(p) != 0;
				pl->last_cap = (int)get32(p + 4);
				pl->bounding = get64(p + 8);
				pl->effective = get64(p + 16);
				pl->permitted = get64(p + 24);
				pl->inheritable = get64(p + 32);
				pl->ambient = get64(p + 40);
				if (pl->last_cap < 0 || pl->last_cap > 63) goto bad;
				break;
			case BERTH_REC_NNP:
				if (n != 0) goto bad;
				pl->no_new_privs = 1;
				break;
			case BERTH_REC_ARG:
				if ((s = str(p, n)) == NULL) goto bad;
				pl->args[nargs++] = (char *)s;
				break;
			case BERTH_REC_ENV:
				if ((s = str(p, n)) == NULL) goto bad;
				pl->env[nenv++] = (char *)s;
				break;
			case BERTH_REC_FDS:
				if (n != 4 || get32(p) < 3 || get32(p) > 1 << 20) goto bad;
				pl->first_fd = (int)get32(p);
				break;
			case BERTH_REC_CONSOLE:
				if (n != 12 || get32(p) > 1 << 20) goto bad;
				pl->console_fd = (int)get32(p);
				pl->console_width = get32(p + 4);
				pl->console_height = get32(p + 8);
				break;
			case BERTH_REC_STEP: {
				if (n < 40) goto bad;
				struct berth_step *st = &pl->steps[nsteps];
				st->op = get32(p);
				st->target = get32(p + 4);
				st->opts = get32(p + 8);
				st->flags = get64(p + 16);
				st->a = get64(p + 24);
				st->b = get64(p + 32);
				if (st->op == 0 || st->op > BERTH_STEP_LAST || st->target > BERTH_TARGET_EXISTING) goto bad;
				// Five strings, each NUL-terminated, filling the rest.
				const char **strs[5] = {&st->src, &st->path, &st->fstype, &st->data, &st->what};
				size_t o = 40;
				for (int i = 0; i < 5; i++) {
					const unsigned char *z = o < n ? memchr(p + o, 0, n - o) : NULL;
					if (z == NULL) goto bad;
					*strs[i] = (const char *)(p + o);
					o = (size_t)(z - p) + 1;
				}
				if (o != n) goto bad;
				nsteps++;
				break;
			}
			case BERTH_REC_SOURCES:
				if (n != 8 || get32(p) > 256 || get32(p + 4) < 3 || get32(p + 4) > 1 << 20) goto bad;
				pl->sources = get32(p);
				pl->sources_fd = get32(p + 4);
				break;
			case BERTH_REC_FIFO:
				if (n != 4 || get32(p) < 3 || get32(p) > 1 << 20) goto bad;
				pl->fifo_fd = (int)get32(p);
				break;
			default:
				snprintf(err, errlen, "start plan: unknown record %u", tag);
				return -1;
			bad:
				snprintf(err, errlen, "start plan: malformed record %u of %u bytes", tag, n);
				return -1;
			}
		}
		if (pass == 0) {
			if (nargs == 0) {
				snprintf(err, errlen, "start plan: no program to run");
				return -1;
			}
			pl->nargs = nargs;
			pl->nenv = nenv;
			pl->nrlimits = nrl;
			pl->nsteps = nsteps;
			pl->args = calloc(nargs + 1, sizeof(char *));
			pl->env = calloc(nenv + 1, sizeof(char *));
			pl->rlimits = calloc(nrl + 1, sizeof(struct berth_rlimit));
			pl->steps = calloc(nsteps + 1, sizeof(struct berth_step));
			if (pl->args == NULL || pl->env == NULL || pl->rlimits == NULL || pl->steps == NULL) {
				snprintf(err, errlen, "start plan: out of memory");
				berth_plan_free(pl);
				return -1;
			}
		}
	}
	return 0;
}

void berth_plan_free(struct berth_plan *pl) {
	free(pl->args);
	free(pl->env);
	free(pl->rlimits);
	free(pl->steps);
	pl->steps = NULL;
	pl->args = NULL;
	pl->env = NULL;
	pl->rlimits = NULL;
}

// readn reads exactly n bytes; 0 on success.
static int readn(int fd, void *buf, size_t n) {
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) return -1;
		got += (size_t)r;
	}
	return 0;
}

static void install_seccomp(const struct berth_plan *pl) {
	struct sock_fprog prog = {.len = (unsigned short)pl->bpf_len, .filter = (struct sock_filter *)pl->bpf};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, pl->seccomp_flags, &prog) < 0)
		berth_fail(0, "install seccomp filter: %s", berth_errstr(errno));
}

// console opens a pty in the container's devpts, sends the master over
// the console socket (runc's protocol: the name as data, the fd as
// SCM_RIGHTS) and makes the slave our stdio and controlling terminal.
static void console(const struct berth_plan *pl) {
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0) berth_fail(0, "open /dev/ptmx: %s", berth_errstr(errno));
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0) berth_fail(0, "unlock pty: %s", berth_errstr(errno));
	int slave = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) berth_fail(0, "open pty slave: %s", berth_errstr(errno));
	if (pl->console_width || pl->console_height) {
		struct winsize ws = {.ws_row = (unsigned short)pl->console_height, .ws_col = (unsigned short)pl->console_width};
		if (ioctl(m, TIOCSWINSZ, &ws) < 0) berth_fail(0, "set console size: %s", berth_errstr(errno));
	}
	char name[32] = "/dev/ptmx";
	struct iovec iov = {.iov_base = name, .iov_len = strlen(name)};
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof cbuf);
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m, sizeof(int));
	if (sendmsg(pl->console_fd, &msg, 0) < 0) berth_fail(0, "send console fd: %s", berth_errstr(errno));
	close(m);
	close(pl->console_fd);
	for (int fd = 0; fd < 3; fd++)
		if (dup3(slave, fd, 0) < 0) berth_fail(0, "dup console to fd %d: %s", fd, berth_errstr(errno));
	close(slave);
	setsid(); // fails only for a process group leader, which we are not
	if (ioctl(0, TIOCSCTTY, 0) < 0) berth_fail(0, "set controlling terminal: %s", berth_errstr(errno));
}

// fix_stdio_owner gives the process's stdio to its user, as the Go stage
// does (see fixStdioOwner there).
static void fix_stdio_owner(uid_t uid) {
	for (int fd = 0; fd < 3; fd++) {
		struct stat st;
		if (fstat(fd, &st) < 0) {
			if (errno == EBADF) continue;
			berth_fail(0, "stat fd %d: %s", fd, berth_errstr(errno));
		}
		if (st.st_uid == uid || (S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3))) continue;
		if (fchown(fd, uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM && errno != EROFS)
			berth_fail(0, "give fd %d to uid %u: %s", fd, (unsigned)uid, berth_errstr(errno));
	}
}

static void user_and_caps(const struct berth_plan *pl) {
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0) berth_fail(0, "capget: %s", berth_errstr(errno));
	uint64_t have = (uint64_t)data[0].permitted | (uint64_t)data[1].permitted << 32;
	uint64_t eff = pl->effective & have, perm = pl->permitted & have, inh = pl->inheritable & have;
	uint64_t amb = pl->ambient & have, bound = pl->bounding & have;
	if (pl->drop_bounding) {
		for (int i = 0; i <= pl->last_cap; i++) {
			if (bound & (1ULL << i)) continue;
			if (prctl(PR_CAPBSET_DROP, i, 0, 0, 0) < 0 && errno != EINVAL)
				berth_fail(0, "drop capability %d from bounding set: %s", i, berth_errstr(errno));
		}
	}
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) berth_fail(0, "set keepcaps: %s", berth_errstr(errno));
	gid_t *groups = NULL;
	if (pl->ngroups > 0) {
		groups = calloc(pl->ngroups, sizeof(gid_t));
		if (groups == NULL) berth_fail(0, "setgroups: out of memory");
		for (size_t i = 0; i < pl->ngroups; i++) groups[i] = get32(pl->groups + 4 * i);
	}
	// Raw syscalls: glibc's wrappers would signal every thread, and this
	// process has one, but the raw call is what the Go stage makes too.
	if (syscall(SYS_setgroups, pl->ngroups, groups) < 0 && !(errno == EPERM && pl->ngroups == 0)) {
		char list[256] = "";
		size_t o = 0;
		for (size_t i = 0; i < pl->ngroups && o < sizeof list - 12; i++)
			o += (size_t)snprintf(list + o, sizeof list - o, i ? " %u" : "%u", (unsigned)groups[i]);
		berth_fail(0, "setgroups [%s]: %s", list, berth_errstr(errno));
	}
	free(groups);
	if (syscall(SYS_setresgid, pl->gid, pl->gid, pl->gid) < 0) berth_fail(0, "setgid %u: %s", pl->gid, berth_errstr(errno));
	if (syscall(SYS_setresuid, pl->uid, pl->uid, pl->uid) < 0) berth_fail(0, "setuid %u: %s", pl->uid, berth_errstr(errno));
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) berth_fail(0, "clear keepcaps: %s", berth_errstr(errno));
	for (int i = 0; i < 2; i++) {
		data[i].effective = (uint32_t)(eff >> (32 * i));
		data[i].permitted = (uint32_t)(perm >> (32 * i));
		data[i].inheritable = (uint32_t)(inh >> (32 * i));
	}
	if (syscall(SYS_capset, &hdr, data) < 0) berth_fail(0, "capset: %s", berth_errstr(errno));
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		berth_fail(0, "clear ambient capabilities: %s", berth_errstr(errno));
	uint64_t raisable = amb & perm & inh;
	for (int i = 0; i < 64; i++) {
		if (!(raisable & (1ULL << i))) continue;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, i, 0, 0) < 0)
			berth_fail(0, "raise ambient capability %d: %s", i, berth_errstr(errno));
	}
}

// executable judges p as execve would, with our effective rights
// (capabilities included): 0, or the reason in Go's words.
static int executable(const char *p, char *why, size_t n) {
	struct stat st;
	if (stat(p, &st) < 0) {
		int e = errno;
		snprintf(why, n, "stat %s: %s", p, berth_errstr(e));
		return e == ENOENT || e == ENOTDIR ? ENOENT : EACCES;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(why, n, "is a directory: permission denied");
		return EACCES;
	}
	if (faccessat(AT_FDCWD, p, X_OK, AT_EACCESS) < 0) {
		snprintf(why, n, "permission denied: permission denied");
		return EACCES;
	}
	return 0;
}

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// look_path finds name as a shell would, failing in the words and with
// the exit codes of the Go stage's lookPath.
static char *look_path(const struct berth_plan *pl) {
	const char *name = pl->args[0];
	char why[600];
	if (strchr(name, '/') != NULL) {
		int e = executable(name, why, sizeof why);
		if (e) berth_fail(e == ENOENT ? 127 : 126, "exec: \"%s\": %s", name, why);
		return (char *)name;
	}
	const char *path = DEFAULT_PATH;
	for (size_t i = 0; i < pl->nenv; i++)
		if (strncmp(pl->env[i], "PATH=", 5) == 0) path = pl->env[i] + 5;
	char denied[600] = "";
	static char full[4096];
	for (const char *d = path;; d++) {
		const char *end = strchr(d, ':');
		size_t dl = end ? (size_t)(end - d) : strlen(d);
		int n = dl == 0 ? snprintf(full, sizeof full, "%s", name) : snprintf(full, sizeof full, "%.*s/%s", (int)dl, d, name);
		if (n > 0 && (size_t)n < sizeof full) {
			int e = executable(full, why, sizeof why);
			if (e == 0) return full;
			if (e == EACCES && denied[0] == 0) snprintf(denied, sizeof denied, "%s", why);
		}
		if (end == NULL) break;
		d = end;
	}
	if (denied[0]) berth_fail(126, "exec: \"%s\": %s", name, denied);
	berth_fail(127, "exec: \"%s\": executable file not found in $PATH", name);
}

// cloexec_from marks every fd from first upward close-on-exec, so
// nothing of the runtime's reaches the container's process.
static void cloexec_from(int first) {
	if (syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC) == 0) return;
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) berth_fail(0, "list open fds: %s", berth_errstr(errno));
	int self = dirfd(d);
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || fd < first || fd == self) continue;
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
}

// berth_plan_apply does what the Go stage's processSetup does, in its
// order, and returns the program to execute.
static char *berth_plan_apply(const struct berth_plan *pl) {
	if (pl->console_fd >= 0) console(pl);
	for (size_t i = 0; i < pl->nrlimits; i++) {
		const struct berth_rlimit *r = &pl->rlimits[i];
		struct rlimit rl = {.rlim_cur = r->soft, .rlim_max = r->hard};
		if (setrlimit(r->resource, &rl) < 0)
			berth_fail(0, "set %s to %llu/%llu: %s", r->name, (unsigned long long)r->soft, (unsigned long long)r->hard, berth_errstr(errno));
	}
	if (pl->has_oom) {
		char v[16];
		int n = snprintf(v, sizeof v, "%d", pl->oom_score_adj);
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, v, (size_t)n) != n) berth_fail(0, "set oom_score_adj %s: %s", v, berth_errstr(errno));
		close(fd);
	}
	if (pl->bpf && pl->seccomp_early) install_seccomp(pl);
	const char *cwd = pl->cwd ? pl->cwd : "/";
	int chdir_err = chdir(cwd) < 0 ? errno : 0;
	if (chdir_err && chdir_err != EACCES && chdir_err != EPERM)
		berth_fail(0, "chdir to cwd \"%s\" set in config.json: %s", cwd, berth_errstr(chdir_err));
	fix_stdio_owner(pl->uid);
	user_and_caps(pl);
	umask(pl->umask);
	if (chdir_err && chdir(cwd) < 0) berth_fail(0, "chdir to cwd \"%s\" set in config.json: %s", cwd, berth_errstr(errno));
	if (pl->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		berth_fail(0, "set no_new_privs: %s", berth_errstr(errno));
	char *path = look_path(pl);
	cloexec_from(pl->first_fd);
	return path;
}

// receive_sources takes the bind sources sent after the plan and puts
// them where its steps name them.
static void receive_sources(const struct berth_plan *pl) {
	for (uint32_t i = 0; i < pl->sources; i++) {
		char b;
		struct iovec iov = {.iov_base = &b, .iov_len = 1};
		char cbuf[CMSG_SPACE(sizeof(int))];
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
		ssize_t r;
		while ((r = recvmsg(berth_sync_fd, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
		}
		struct cmsghdr *c = r == 1 ? CMSG_FIRSTHDR(&msg) : NULL;
		if (c == NULL || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int)))
			berth_fail(0, "receive the source of bind mount %u: %s", i, r < 0 ? berth_errstr(errno) : "no fd in the message");
		int fd;
		memcpy(&fd, CMSG_DATA(c), sizeof fd);
		int want = (int)(pl->sources_fd + i);
		if (fd != want) {
			if (dup3(fd, want, O_CLOEXEC) < 0) berth_fail(0, "place the source of bind mount %u: %s", i, berth_errstr(errno));
			close(fd);
		}
	}
}

// wait_for_start blocks until start opens the exec fifo for reading:
// reopening our O_PATH fd of it for writing waits for a reader. The
// reopened fd is close-on-exec, so start sees EOF exactly when execve
// has replaced us.
static void wait_for_start(int fifo) {
	char p[64];
	snprintf(p, sizeof p, "/proc/self/fd/%d", fifo);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		dprintf(2, "berth init: open exec fifo: %s\n", berth_errstr(errno));
		_exit(1);
	}
	if (write(fd, "0", 1) != 1) {
		dprintf(2, "berth init: write exec fifo: %s\n", berth_errstr(errno));
		_exit(1);
	}
	close(fifo);
}

void berth_plan_run(void) {
	berth_trace("init", "plan main");
	uint32_t len;
	if (readn(berth_sync_fd, &len, 4) < 0) _exit(1); // the runtime went away
	len = ntohl(len);
	if (len > 64 << 20) berth_fail(0, "start plan of %u bytes is too large", len);
	unsigned char *buf = malloc(len ? len : 1);
	if (buf == NULL) berth_fail(0, "start plan: out of memory");
	if (readn(berth_sync_fd, buf, len) < 0) _exit(1);
	struct berth_plan pl;
	char err[256];
	if (berth_plan_decode(buf, len, &pl, err, sizeof err) < 0) berth_fail(0, "%s", err);
	berth_trace("init", "plan read");
	receive_sources(&pl);
	if (pl.nsteps > 0) {
		berth_steps_run(&pl);
		berth_trace("init", "steps done");
	}
	char *path = berth_plan_apply(&pl);
	berth_trace("init", "ready");
	static const char ready[] = "{\"type\":\"ready\"}";
	berth_frame(ready, sizeof ready - 1);
	close(berth_sync_fd);
	berth_sync_fd = -1;
	// Past ready the runtime is gone: stderr is all that is left.
	if (pl.fifo_fd > 0) wait_for_start(pl.fifo_fd);
	if (pl.bpf && !pl.seccomp_early) install_seccomp(&pl);
	berth_trace("init", "execve");
	execve(path, pl.args, pl.env);
	int e = errno;
	dprintf(2, "berth init: exec %s: %s\n", path, berth_errstr(e));
	_exit(e == ENOENT ? 127 : 126);
}
