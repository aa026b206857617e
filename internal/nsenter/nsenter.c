// The namespace joiner. See nsenter.go for what it does and why it is C.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "nsenter.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MAX_JOINS 8
#define MAX_TASKS 32

int berth_sync_fd = -1;

void berth_frame(const char *body, size_t n) {
	uint32_t len = htonl((uint32_t)n);
	if (berth_sync_fd < 0) return;
	if (write(berth_sync_fd, &len, 4) != 4 || write(berth_sync_fd, body, n) != (ssize_t)n) {
		/* a runtime that is gone hears nothing; the caller exits next */
	}
}

const char *berth_errstr(int err) {
	static char buf[128];
	snprintf(buf, sizeof buf, "%s", strerror(err));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z')) buf[0] += 'a' - 'A';
	return buf;
}

void berth_trace(const char *who, const char *phase) {
	const char *setting = getenv("BERTH_TRACE");
	if (setting == NULL || setting[0] == 0) return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	char line[160];
	int n = snprintf(line, sizeof line, "trace %ld.%06ld %s %s\n", (long)(ts.tv_sec % 1000), ts.tv_nsec / 1000, who, phase);
	if (n <= 0) return;
	int fd = 2, opened = 0;
	if (setting[0] == '/') {
		int f = open(setting, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
		if (f >= 0) fd = f, opened = 1;
	}
	if (write(fd, line, (size_t)n) < 0) {
		/* tracing is best effort */
	}
	if (opened) close(fd);
}

void berth_fail(int code, const char *fmt, ...) {
	char msg[768], esc[1600], body[1700];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	size_t j = 0;
	for (size_t i = 0; msg[i] && j < sizeof esc - 2; i++) {
		unsigned char c = (unsigned char)msg[i];
		if (c == '"' || c == '\\') esc[j++] = '\\';
		if (c < 0x20) c = ' ';
		esc[j++] = (char)c;
	}
	esc[j] = 0;
	if (berth_sync_fd < 0) {
		// No runtime is listening (ns enter): say it on stderr.
		dprintf(2, "berth: %s\n", msg);
		_exit(1);
	}
	int n = snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":\"%s\",\"code\":%d}", esc, code);
	if (n > 0) berth_frame(body, (size_t)n);
	_exit(1);
}

#define fail(...) berth_fail(0, __VA_ARGS__)

static const struct { const char *name; int flag; } order[] = {
	{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET},   {"pid", CLONE_NEWPID}, {"cgroup", CLONE_NEWCGROUP},
	{"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};

// detach makes this process one that nobody owns: it forks, the parent
// writes the child's pid as a line to fd and exits, and the child goes
// on once the parent is gone, so the pid is the first thing on fd. The
// engine starts its monitors so: whoever launched one reaps only the
// short-lived parent, and the monitor is re-parented to the host's init.
// It is done here, before the Go runtime, because a fork is all it
// costs; in Go it would be a second process start.
static void detach(const char *env) {
	int fd = atoi(env);
	int gate[2];
	if (pipe2(gate, O_CLOEXEC) < 0) _exit(1);
	pid_t child = fork();
	if (child < 0) _exit(1);
	if (child > 0) {
		dprintf(fd, "%d\n", (int)child);
		_exit(0);
	}
	close(gate[1]);
	char b;
	// EOF once the parent has exited (and written the pid).
	while (read(gate[0], &b, 1) < 0 && errno == EINTR) {
	}
	close(gate[0]);
}

void berth_nsenter(void) {
	berth_rootless_join();
	const char *det = getenv("_BERTH_DETACH_FD");
	if (det != NULL) {
		char fd[16];
		snprintf(fd, sizeof fd, "%s", det);
		unsetenv("_BERTH_DETACH_FD");
		detach(fd);
	}
	// A container's init runs our binary inside the container: make it
	// non-dumpable before anything else, so processes already in joined
	// namespaces cannot open /proc/PID/exe and later overwrite the host's
	// runtime binary (CVE-2019-5736). execve of the user's process resets
	// this from the new binary.
	if (getenv("_BERTH_SYNC_FD") != NULL) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	const char *env = getenv("_BERTH_NSENTER");
	if (env == NULL) {
		// A container's init with nothing to join: its namespaces are
		// new, made by clone.
		const char *sfd = getenv("_BERTH_SYNC_FD");
		if (getenv("_BERTH_PLAN") != NULL && sfd != NULL) {
			berth_sync_fd = atoi(sfd);
			berth_plan_run();
		}
		return;
	}
	char *s = strdup(env);
	if (s == NULL) _exit(1);
	unsetenv("_BERTH_NSENTER");

	char *save = NULL;
	char *version = strtok_r(s, ";", &save);
	char *fd = strtok_r(NULL, ";", &save);
	char *flags = strtok_r(NULL, ";", &save);
	char *dofork = strtok_r(NULL, ";", &save);
	if (fd) berth_sync_fd = atoi(fd);
	if (!version || strcmp(version, "1") != 0 || !flags || !dofork)
		fail("nsenter: unsupported instruction %s", env);

	struct { const char *type; char *path; int fd; } joins[MAX_JOINS];
	int njoins = 0;
	struct { char *path; int fd; } tasks[MAX_TASKS];
	int ntasks = 0;
	for (char *tok; (tok = strtok_r(NULL, ";", &save)) != NULL;) {
		char *eq = strchr(tok, '=');
		if (eq && strncmp(tok, "tasks=", 6) == 0) {
			// A v1 tasks file to move ourselves into once forked,
			// opened now: the host's cgroupfs is out of reach after
			// the mount namespace changes.
			if (ntasks == MAX_TASKS) fail("nsenter: too many cgroups %s", tok);
			tasks[ntasks].path = eq + 1;
			tasks[ntasks].fd = open(eq + 1, O_WRONLY | O_CLOEXEC);
			if (tasks[ntasks].fd < 0) fail("join cgroup %s: %s", eq + 1, strerror(errno));
			ntasks++;
			continue;
		}
		if (!eq || njoins == MAX_JOINS) fail("nsenter: bad join %s", tok);
		*eq = 0;
		joins[njoins].type = tok;
		joins[njoins].path = eq + 1;
		// Open every path before joining anything: after the mount
		// namespace changes they may name something else or nothing.
		joins[njoins].fd = open(eq + 1, O_RDONLY | O_CLOEXEC);
		if (joins[njoins].fd < 0)
			fail("open %s namespace %s: %s", tok, eq + 1, strerror(errno));
		njoins++;
	}
	for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
		for (int i = 0; i < njoins; i++) {
			if (strcmp(joins[i].type, order[o].name) != 0) continue;
			if (setns(joins[i].fd, order[o].flag) < 0)
				fail("join %s namespace %s: %s", joins[i].type, joins[i].path, strerror(errno));
			close(joins[i].fd);
			if (order[o].flag == CLONE_NEWUSER) {
				// Become the namespace's root: our host ids mean nothing
				// there, and files we create must have a mapped owner.
				if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
					fail("become root in user namespace %s: %s", joins[i].path, strerror(errno));
			}
		}
	}
	long unshare_flags = strtol(flags, NULL, 10);
	if (unshare_flags && unshare((int)unshare_flags) < 0)
		fail("unshare namespaces %#lx: %s", unshare_flags, strerror(errno));
	if (strcmp(dofork, "1") == 0 || strcmp(dofork, "2") == 0) {
		pid_t pid = fork();
		if (pid < 0) fail("fork into pid namespace: %s", strerror(errno));
		if (pid > 0 && dofork[0] == '1') {
			char body[64];
			int n = snprintf(body, sizeof body, "{\"type\":\"pid\",\"pid\":%d}", (int)pid);
			berth_frame(body, (size_t)n);
			_exit(0);
		}
		if (pid > 0) {
			// Mode 2 (ns enter): stay and hand the child's status up,
			// as nsenter(1) does.
			int status;
			while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
	}
	// The thread that will execve moves itself into each v1 cgroup: one
	// thread moved by itself takes no global lock, where a process moved
	// through cgroup.procs waits for an RCU grace period (see
	// cgroups.Manager.SelfJoinFiles). Nothing of the container's runs yet.
	for (int i = 0; i < ntasks; i++) {
		if (write(tasks[i].fd, "0", 1) != 1) fail("join cgroup %s: %s", tasks[i].path, strerror(errno));
		close(tasks[i].fd);
	}
	free(s);
	if (getenv("_BERTH_PLAN") != NULL) berth_plan_run();
}
