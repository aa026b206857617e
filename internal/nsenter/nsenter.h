// What the C stages of package nsenter share: the sync socket to the
// runtime, failure reports in syncproto's frame, and trace lines.
#ifndef BERTH_NSENTER_H
#define BERTH_NSENTER_H

#include <stddef.h>
#include <stdint.h>

// berth_sync_fd is the child's end of the sync socket, -1 when no
// runtime listens.
extern int berth_sync_fd;

// berth_frame writes one syncproto frame: 4-byte big-endian length + body.
void berth_frame(const char *body, size_t n);

// berth_fail reports a failure as a syncproto error message with the
// exit code a shell would give (0: none) and exits; with no runtime
// listening it says it on stderr.
void berth_fail(int code, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));

// berth_errstr is strerror in Go's words (lower case), so a failure
// reads the same from either stage of init.
const char *berth_errstr(int err);

// berth_trace prints a BERTH_TRACE phase line as package trace does.
void berth_trace(const char *who, const char *phase);

// berth_plan_run applies the start plan the runtime sends over the sync
// socket and execs the container's process; it never returns.
void berth_plan_run(void) __attribute__((noreturn));

// berth_rootless_join moves a rootless berth command into the user's
// namespaces when their holder is up; berth_rootless_joined says so.
void berth_rootless_join(void);
extern int berth_rootless_joined;

#endif
