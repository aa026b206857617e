// The start plan's records and its decoded form (see plan.go).
#ifndef BERTH_PLAN_H
#define BERTH_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_PLAN_MAGIC "BRTHPLN1"

// Record tags; plan.go's constants carry the same numbers.
enum {
	BERTH_REC_RLIMIT = 1,  // u32 resource, u64 soft, u64 hard, name
	BERTH_REC_OOM = 2,     // i32 oom_score_adj
	BERTH_REC_SECCOMP = 3, // u32 flags, u32 early, BPF instructions
	BERTH_REC_CWD = 4,     // string
	BERTH_REC_USER = 5,    // u32 uid, gid, umask, ngroups, groups...
	BERTH_REC_CAPS = 6,    // u32 drop bounding, u32 last cap, u64 bounding, effective, permitted, inheritable, ambient
	BERTH_REC_NNP = 7,     // empty
	BERTH_REC_ARG = 8,     // string, one per argument
	BERTH_REC_ENV = 9,     // string, one per variable
	BERTH_REC_FDS = 10,    // u32 the first fd not preserved
	BERTH_REC_CONSOLE = 11, // u32 console socket fd, u32 width, u32 height
	BERTH_REC_STEP = 12,    // u32 op, target, opts, 0; u64 flags, a, b; strings src, path, fstype, data, what
	BERTH_REC_FIFO = 13,    // u32 the exec fifo's O_PATH fd
	BERTH_REC_SOURCES = 14, // u32 how many fds follow the plan, u32 the fd the first goes to
};

// Step kinds and options, as in plan.go.
enum {
	BERTH_STEP_MOUNT = 1,
	BERTH_STEP_SETATTR = 2,
	BERTH_STEP_ROOT = 3,
	BERTH_STEP_MKNOD = 4,
	BERTH_STEP_SYMLINK = 5,
	BERTH_STEP_PIVOT = 6,
	BERTH_STEP_WRITE = 7,
	BERTH_STEP_READONLY = 8,
	BERTH_STEP_MASK = 9,
	BERTH_STEP_HOSTNAME = 10,
	BERTH_STEP_DOMAIN = 11,
	BERTH_STEP_KEYRING = 12,
	BERTH_STEP_UNSHARE = 13,
	BERTH_STEP_LOOPBACK = 14,
	BERTH_STEP_LATE_OPEN = 15,
	BERTH_STEP_LATE_WRITE = 16,
	BERTH_STEP_LAST = 16,
};
enum { BERTH_TARGET_ABS = 0, BERTH_TARGET_DIR = 1, BERTH_TARGET_FILE = 2, BERTH_TARGET_EXISTING = 3 };
enum {
	BERTH_OPT_TMPFS_MODE = 1,
	BERTH_OPT_DIR_ONLY = 2,
	BERTH_OPT_LOCKED = 4,
	BERTH_OPT_REPLACE = 8,
	BERTH_OPT_SYSFS_BIND = 16,
	BERTH_OPT_DEVPTS_NO_GID = 32,
	BERTH_OPT_LOCKED_RETRY = 64,
};

struct berth_step {
	uint32_t op, target, opts;
	uint64_t flags, a, b;
	const char *src, *path, *fstype, *data, *what;
};

struct berth_rlimit {
	int resource;
	uint64_t soft, hard;
	const char *name;
};

// berth_plan points into the buffer it was decoded from; only the
// arrays are its own.
struct berth_plan {
	struct berth_rlimit *rlimits;
	size_t nrlimits;
	int has_oom;
	int32_t oom_score_adj;
	const unsigned char *bpf; // BPF instructions, bpf_len of them
	size_t bpf_len;
	uint32_t seccomp_flags;
	int seccomp_early; // before the user switch (no no_new_privs)
	const char *cwd;
	uint32_t uid, gid, umask;
	const unsigned char *groups; // ngroups u32s
	size_t ngroups;
	int drop_bounding, last_cap;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	char **args, **env; // NULL-terminated
	size_t nargs, nenv;
	int first_fd;
	int console_fd; // -1: no terminal
	uint32_t console_width, console_height;
	struct berth_step *steps;
	size_t nsteps;
	int fifo_fd; // 0: none
	uint32_t sources, sources_fd;
};

// berth_steps_run does a plan's steps; on failure it reports and exits.
void berth_steps_run(const struct berth_plan *pl);

// berth_plan_decode checks buf and fills pl; on failure it returns -1
// with the reason in err.
int berth_plan_decode(const unsigned char *buf, size_t len, struct berth_plan *pl, char *err, size_t errlen);
void berth_plan_free(struct berth_plan *pl);

#endif
