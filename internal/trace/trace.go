// Package trace prints start-path phase timestamps for profiling:
// BERTH_TRACE=1 makes the CLI, the monitor, the runtime and the init
// stage print the monotonic clock at each phase to stderr, so all the
// processes line up; BERTH_TRACE=/some/file appends them there instead,
// for processes whose stderr goes nowhere (the monitor). Off, a phase
// costs one branch.
package trace

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

var setting = os.Getenv("BERTH_TRACE")

// Env passes the setting on to a child process's environment.
func Env(env []string) []string {
	if setting == "" {
		return env
	}
	return append(env, "BERTH_TRACE="+setting)
}

// Phase records that phase was reached, by who.
func Phase(who, phase string) {
	if setting == "" {
		return
	}
	var ts unix.Timespec
	_ = unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts) // CLOCK_MONOTONIC always reads
	line := fmt.Sprintf("trace %d.%06d %s %s\n", ts.Sec%1000, ts.Nsec/1000, who, phase)
	if strings.HasPrefix(setting, "/") {
		if f, err := os.OpenFile(setting, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			_, _ = f.WriteString(line) // tracing is best effort
			_ = f.Close()              // as above
			return
		}
	}
	_, _ = os.Stderr.WriteString(line) // as above
}
