// Package initproc is the container's init stage: the re-executed runtime
// binary, already inside the container's new namespaces, that builds the
// root filesystem, applies the process attributes (console, hostname,
// rlimits, user, capabilities, no_new_privs), reports ready, waits on the
// exec fifo for start, and execve()s the user's process, which becomes
// the container's PID 1. Nothing of ours stays behind in the container.
//
// Most containers never reach it: nsenter's C stage does the same from
// a flat plan with no Go runtime (see nsenter.PlanEnv). This stage runs
// what that one leaves to Go (hooks, time namespace offsets, --no-pivot,
// no mount namespace, a seccomp agent).
//
// All of it runs on the main thread, locked from package init: namespace
// membership, credentials and capabilities are per thread, and execve
// keeps the calling thread's.
package initproc

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strconv"

	"github.com/berth-project/berth/internal/runtime/syncproto"
	"github.com/berth-project/berth/internal/trace"
)

// IsInit reports whether this process was started as a container's init,
// or as a process joining a running container (exec).
func IsInit(arg0 string) bool { return arg0 == "berth:[init]" || arg0 == "berth:[exec]" }

func init() {
	if len(os.Args) > 0 && IsInit(os.Args[0]) {
		goruntime.LockOSThread()
	}
}

// Main runs the init stage and never returns.
func Main() {
	trace.Phase("init", "main")
	fd, err := strconv.Atoi(os.Getenv("_BERTH_SYNC_FD"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth init: no sync fd; this is an internal entry point")
		os.Exit(2)
	}
	_ = os.Unsetenv("_BERTH_SYNC_FD") // cannot fail for a valid name
	sock := os.NewFile(uintptr(fd), "sync")
	m, err := syncproto.Expect(sock, syncproto.MsgBootstrap)
	if err != nil {
		// The parent went away or failed: nothing to report to.
		os.Exit(1)
	}
	trace.Phase("init", "bootstrap read")
	s := &setup{sock: sock, b: m.Bootstrap}
	prepare, execute := s.prepare, s.execute
	if s.b.Exec {
		prepare, execute = s.prepareExec, s.execProcess
	}
	path, err := prepare()
	if err != nil {
		code := 0
		var ee *execError
		if errors.As(err, &ee) {
			code = ee.code
		}
		_ = syncproto.Write(sock, syncproto.Message{Type: syncproto.MsgError, Error: err.Error(), Code: code}) // a parent that is gone hears nothing; init exits next
		os.Exit(1)
	}
	err = execute(path)
	// Past ready, the parent is gone: stderr is all that is left.
	fmt.Fprintf(os.Stderr, "berth init: %v\n", err)
	code := 1
	var ee *execError
	if errors.As(err, &ee) {
		code = ee.code
	}
	os.Exit(code)
}

type execError struct {
	err  error
	code int
}

func (e *execError) Error() string { return e.err.Error() }
func (e *execError) Unwrap() error { return e.err }
