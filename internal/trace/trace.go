// Package trace prints start-path phase timestamps for profiling:
// BERTH_TRACE=1 makes the runtime and the init stage print the monotonic
// clock at each phase to stderr, so both processes line up. Off, a phase
// costs one branch.
package trace

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

var on = os.Getenv("BERTH_TRACE") != ""

// Phase records that phase was reached, by who.
func Phase(who, phase string) {
	if !on {
		return
	}
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	fmt.Fprintf(os.Stderr, "trace %d.%06d %s %s\n", ts.Sec%1000, ts.Nsec/1000, who, phase)
}
