// --init's PID 1 in C, run from a constructor before the Go runtime
// starts. See tinyinit_cgo.go for why.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PAUSE_ARG "--pause"

static int is_terminal(int fd) {
	struct termios t;
	return tcgetattr(fd, &t) == 0;
}

static void run_command(char **argv, const sigset_t *old) {
	setpgid(0, 0);
	// The terminal's foreground, so ^C on a tty reaches the command as it
	// would on a host (SIGTTOU is still blocked here).
	if (is_terminal(0)) tcsetpgrp(0, getpid());
	sigprocmask(SIG_SETMASK, old, NULL);
	execvp(argv[0], argv);
	int code = errno == ENOENT ? 127 : 126;
	fprintf(stderr, "init: %s: %s\n", argv[0], strerror(errno));
	_exit(code);
}

// pause is a pod's PID 1 (init --pause): it holds the pod's namespaces,
// reaps what is re-parented to it, and ends at SIGTERM or SIGINT.
static void pause_forever(const sigset_t *all) {
	for (;;) {
		int sig = sigwaitinfo(all, NULL);
		if (sig == SIGTERM || sig == SIGINT) _exit(0);
		if (sig == SIGCHLD) while (waitpid(-1, NULL, WNOHANG) > 0) {}
	}
}

void berth_tinyinit(int argc, char **argv) {
	if (argc < 1 || strcmp(argv[0], "/dev/init") != 0) return;
	// Every signal is blocked from the first instruction: one that comes
	// before we can forward it waits instead of killing PID 1.
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (argc == 2 && strcmp(argv[1], PAUSE_ARG) == 0) pause_forever(&all);
	int first = 1;
	if (first < argc && strcmp(argv[first], "--") == 0) first++;
	if (first >= argc) {
		fputs("init: no command\n", stderr);
		_exit(127);
	}
	pid_t child = fork();
	if (child < 0) {
		fprintf(stderr, "init: fork: %s\n", strerror(errno));
		_exit(126);
	}
	if (child == 0) run_command(argv + first, &old);
	int tty = is_terminal(0);
	for (;;) {
		int sig = sigwaitinfo(&all, NULL);
		if (sig < 0) continue; // EINTR
		if (sig != SIGCHLD) {
			if (sig == SIGTTIN || sig == SIGTTOU || (sig == SIGWINCH && !tty)) continue;
			kill(-child, sig); // the whole group, as a shell's job control would
			continue;
		}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child) continue; // an orphan re-parented to us
			if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
			_exit(WEXITSTATUS(status));
		}
	}
}
