package engine

import (
	"errors"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/image"
	"github.com/berth-project/berth/internal/network"
	"github.com/berth-project/berth/internal/volume"
)

// Kinds of failure a front end maps to its own terms (the API server to
// HTTP statuses, the CRI server to gRPC codes). Test with errors.Is; the
// message stays the cause's own.
var (
	// ErrNotFound: no container, image, network, volume or exec
	// session by that reference.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object is in a state or use that forbids the
	// operation (running, in use, name taken).
	ErrConflict = errors.New("conflict")
	// ErrInvalid: the caller's input is malformed (a bad filter, an
	// unknown option value).
	ErrInvalid = errors.New("invalid parameter")
	// ErrUnauthorized: a registry refused the credentials.
	ErrUnauthorized = errors.New("unauthorized")
)

// kindError is a failure of a kind, with its own message.
type kindError struct {
	kind error
	err  error
}

func (e kindError) Error() string   { return e.err.Error() }
func (e kindError) Unwrap() []error { return []error{e.kind, e.err} }

func withKind(kind, err error) error {
	if err == nil || errors.Is(err, kind) {
		return err
	}
	return kindError{kind, err}
}

func invalid(err error) error  { return withKind(ErrInvalid, err) }
func conflict(err error) error { return withKind(ErrConflict, err) }

// classify gives the errors of the stores below the engine their kind.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, container.ErrNotFound), errors.Is(err, image.ErrNotFound),
		errors.Is(err, volume.ErrNotFound), errors.Is(err, network.ErrNotFound):
		return withKind(ErrNotFound, err)
	case errors.Is(err, image.ErrInUse), errors.Is(err, volume.ErrInUse), errors.Is(err, network.ErrInUse):
		return withKind(ErrConflict, err)
	}
	return err
}

// StatusError is a failure that carries the exit status Docker's CLI
// gives it: 125 when berth fails, 126 when the container's command
// cannot be invoked, 127 when it is not found.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string { return e.Err.Error() }
func (e *StatusError) Unwrap() error { return e.Err }

// Docker's exit statuses for a run that did not get to the container's
// own code.
const (
	StatusFailed      = 125
	StatusCannotRun   = 126
	StatusNotFoundCmd = 127
)
