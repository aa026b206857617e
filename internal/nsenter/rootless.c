// A rootless berth's first step, taken before the Go runtime: see
// berth_rootless_join.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nsenter.h"

// Defined (as 1) only by the berth CLI (cmd/berth): berth-runtime and
// the tests, run by a user, stay where they are.
extern int berth_rootless_cli __attribute__((weak));

int berth_rootless_joined;

// read_small reads a short file into buf, NUL-terminated; 0 on success.
static int read_small(const char *path, char *buf, size_t n) {
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r <= 0) return -1;
	buf[r] = 0;
	return 0;
}

// start_time is field 22 of /proc/PID/stat, 0 when unreadable.
static unsigned long long start_time(int pid) {
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if (read_small(path, buf, sizeof buf) < 0) return 0;
	char *p = strrchr(buf, ')'); // the command may hold spaces
	if (p == NULL) return 0;
	unsigned long long v = 0;
	// Fields 3 to 21 skipped: state, then 18 numbers.
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d %*d %*d %llu", &v) != 1) return 0;
	return v;
}

// berth_rootless_join moves an unprivileged user's berth command into
// the user's namespaces (internal/rootless) when the pause process that
// holds them is up: the Go stage would re-execute the whole binary to
// get there, a second start of its runtime on every command. Any doubt
// (no pause yet, a stale record) leaves it to that stage, which starts
// the pause. The paths are rootless.DefaultPaths'.
void berth_rootless_join(void) {
	if (&berth_rootless_cli == NULL || !berth_rootless_cli || geteuid() == 0) return;
	if (getenv("BERTH_ROOTLESS") != NULL || getenv("_BERTH_NSENTER") != NULL || getenv("_BERTH_SYNC_FD") != NULL) return;
	char run[4096];
	const char *v = getenv("BERTH_ROOT"), *home = getenv("HOME"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (v != NULL && v[0]) n = snprintf(run, sizeof run, "%s", v);
	else if (xdg != NULL && xdg[0]) n = snprintf(run, sizeof run, "%s/berth", xdg);
	else if (home != NULL && home[0]) n = snprintf(run, sizeof run, "%s/.local/share/berth-run", home);
	else return;
	if (n <= 0 || (size_t)n >= sizeof run - 32) return;
	char file[4200], rec[64];
	snprintf(file, sizeof file, "%s/rootless/pause.pid", run);
	int pid;
	unsigned long long start;
	if (read_small(file, rec, sizeof rec) < 0 || sscanf(rec, "%d %llu", &pid, &start) != 2 || pid <= 0) return;
	char user[64], mnt[64];
	snprintf(user, sizeof user, "/proc/%d/ns/user", pid);
	snprintf(mnt, sizeof mnt, "/proc/%d/ns/mnt", pid);
	int ufd = open(user, O_RDONLY | O_CLOEXEC), mfd = open(mnt, O_RDONLY | O_CLOEXEC);
	// The start time after the opens: the namespaces are the pause's,
	// not those of a process that took its pid since.
	if (ufd < 0 || mfd < 0 || start_time(pid) != start) {
		if (ufd >= 0) close(ufd);
		if (mfd >= 0) close(mfd);
		return;
	}
	if (setns(ufd, CLONE_NEWUSER) < 0) {
		close(ufd);
		close(mfd);
		return; // still the user's own: the Go stage says why
	}
	// Past this point there is no way back: a failure is the command's.
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		dprintf(2, "berth: rootless: become root in the user namespace: %s\n", berth_errstr(errno));
		_exit(1);
	}
	if (setns(mfd, CLONE_NEWNS) < 0) {
		dprintf(2, "berth: rootless: join the mount namespace: %s\n", berth_errstr(errno));
		_exit(1);
	}
	close(ufd);
	close(mfd);
	berth_rootless_joined = 1;
}
