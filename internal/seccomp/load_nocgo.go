//go:build !(linux && cgo)

package seccomp

import (
	"errors"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Load refuses a filter in a build without cgo (libseccomp).
func Load(s *specs.LinuxSeccomp) error {
	if s == nil {
		return nil
	}
	return errors.New("seccomp needs a cgo build of berth (libseccomp)")
}
