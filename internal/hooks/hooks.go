// Package hooks runs OCI lifecycle hooks: each hook is executed with the
// container's state JSON on its stdin, its own args and env, and killed
// when its timeout passes. Where a hook runs (which namespaces) is the
// caller's business: the runtime calls Run from the right process.
package hooks

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Run executes hooks in order and stops at the first failure, which it
// returns with the hook's path and what it wrote to stderr.
func Run(kind string, hs []specs.Hook, state []byte) error {
	for i, h := range hs {
		if err := runOne(h, state); err != nil {
			return fmt.Errorf("error running hook #%d (%s, %s): %w", i, kind, h.Path, err)
		}
	}
	return nil
}

// RunAll executes every hook even when some fail, and returns one error
// per failure: poststart and poststop failures are only warnings, and the
// remaining hooks must still run.
func RunAll(kind string, hs []specs.Hook, state []byte) []error {
	var errs []error
	for i, h := range hs {
		if err := runOne(h, state); err != nil {
			errs = append(errs, fmt.Errorf("%s hook #%d (%s): %w", kind, i, h.Path, err))
		}
	}
	return errs
}

func runOne(h specs.Hook, state []byte) error {
	ctx := context.Background()
	if h.Timeout != nil {
		if *h.Timeout <= 0 {
			return fmt.Errorf("timeout must be positive, got %d", *h.Timeout)
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(*h.Timeout)*time.Second)
		defer cancel()
	}
	cmd := exec.CommandContext(ctx, h.Path)
	if len(h.Args) > 0 {
		cmd.Args = h.Args
	} else {
		cmd.Args = []string{h.Path}
	}
	cmd.Env = h.Env
	if cmd.Env == nil {
		cmd.Env = []string{}
	}
	cmd.Stdin = bytes.NewReader(state)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	// A hook that forks a daemon keeping stderr open must not hang us.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("timed out after %ds", *h.Timeout)
	}
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return fmt.Errorf("%w: %s", err, msg)
		}
		return err
	}
	return nil
}
