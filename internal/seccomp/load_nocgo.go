//go:build !(linux && cgo)

package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Compile refuses a filter in a build without cgo (libseccomp).
func Compile(s *specs.LinuxSeccomp) (*Program, error) {
	if s == nil {
		return nil, nil
	}
	return nil, errors.New("seccomp needs a cgo build of berth (libseccomp)")
}

func libraryVersion() string { return "none" }
