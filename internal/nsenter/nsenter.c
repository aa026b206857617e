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
#include <unistd.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define MAX_JOINS 8

static int sync_fd = -1;

// frame writes one syncproto message: 4-byte big-endian length + JSON.
static void frame(const char *body, size_t n) {
	uint32_t len = htonl((uint32_t)n);
	if (sync_fd < 0) return;
	if (write(sync_fd, &len, 4) != 4 || write(sync_fd, body, n) != (ssize_t)n) {
		/* nothing more we can do */
	}
}

static void fail(const char *fmt, ...) {
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
	if (sync_fd < 0) {
		// No runtime is listening (ns enter): say it on stderr.
		dprintf(2, "berth: %s\n", msg);
		_exit(1);
	}
	int n = snprintf(body, sizeof body, "{\"type\":\"error\",\"error\":\"%s\"}", esc);
	if (n > 0) frame(body, (size_t)n);
	_exit(1);
}

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
	if (env == NULL) return;
	char *s = strdup(env);
	if (s == NULL) _exit(1);
	unsetenv("_BERTH_NSENTER");

	char *save = NULL;
	char *version = strtok_r(s, ";", &save);
	char *fd = strtok_r(NULL, ";", &save);
	char *flags = strtok_r(NULL, ";", &save);
	char *dofork = strtok_r(NULL, ";", &save);
	if (fd) sync_fd = atoi(fd);
	if (!version || strcmp(version, "1") != 0 || !flags || !dofork)
		fail("nsenter: unsupported instruction %s", env);

	struct { const char *type; char *path; int fd; } joins[MAX_JOINS];
	int njoins = 0;
	for (char *tok; (tok = strtok_r(NULL, ";", &save)) != NULL;) {
		char *eq = strchr(tok, '=');
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
			frame(body, (size_t)n);
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
	free(s);
}
