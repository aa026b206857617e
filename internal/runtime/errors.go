package runtime

import (
	"errors"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

var specsVersion = specs.Version

// InitError is a failure reported by the container's init stage, in its
// own words, with the exit code a shell would give it.
type InitError struct {
	Msg  string
	Code int
}

func (e *InitError) Error() string { return e.Msg }

// ExitCodeOf maps a run failure to Docker's codes: 127 when the program
// does not exist, 126 when it cannot be executed, else 1 (berth-runtime
// itself has no 125: that is the engine's "our own error").
func ExitCodeOf(err error) int {
	var ie *InitError
	if errors.As(err, &ie) && ie.Code != 0 {
		return ie.Code
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "exec: ") {
		if strings.Contains(msg, "not found") || strings.Contains(msg, "no such file") {
			return 127
		}
		return 126
	}
	return 1
}
