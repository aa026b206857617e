// Package trace prints start-path phase timestamps for profiling:
// BERTH_TRACE=1 makes the CLI, the monitor, the runtime and the init
// stage print the monotonic clock at each phase to stderr, so all the
// processes line up; BERTH_TRACE=/some/file appends them there instead,
// for processes whose stderr goes nowhere (the monitor). Off, a phase
// costs one branch.
//
// BERTH_TRACE_HALT=FILE:WHO:PHASE stops the process that reaches that
// phase (SIGSTOP), after writing its PID to FILE: fault-injection tests
// kill it there, at a known point rather than after a guessed sleep.
package trace

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

var (
	setting = os.Getenv("BERTH_TRACE")
	halt    = os.Getenv("BERTH_TRACE_HALT")
)

// Env passes the settings on to a child process's environment.
func Env(env []string) []string {
	if setting != "" {
		env = append(env, "BERTH_TRACE="+setting)
	}
	if halt != "" {
		env = append(env, "BERTH_TRACE_HALT="+halt)
	}
	return env
}

// Phase records that phase was reached, by who.
func Phase(who, phase string) {
	if halt != "" {
		haltAt(who, phase)
	}
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

// haltAt stops the process if who's phase is the halt point.
func haltAt(who, phase string) {
	file, point, _ := strings.Cut(halt, ":")
	if point != who+":"+phase {
		return
	}
	if err := os.WriteFile(file, []byte(fmt.Sprint(os.Getpid())), 0o600); err != nil {
		return // a test that cannot learn the PID does not halt it
	}
	_ = unix.Kill(os.Getpid(), unix.SIGSTOP) // signalling oneself does not fail
}
