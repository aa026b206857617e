package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/hooks"
	"github.com/berth-project/berth/internal/state"
)

// Start lets a created container's init execute the user's process, then
// runs the poststart hooks.
func (r *Runtime) Start(id string) error {
	c, err := r.load(id)
	if err != nil {
		return err
	}
	if st := r.status(c); st != Created {
		return fmt.Errorf("cannot start container %s: it is %s, not created", id, st)
	}
	fifo := filepath.Join(r.store().Dir(id), state.FifoFile)
	if err := r.releaseInit(c, fifo); err != nil {
		return err
	}
	if c.Config.Hooks != nil && len(c.Config.Hooks.Poststart) > 0 {
		s, _ := json.Marshal(specState(c, Running))
		for _, err := range hooks.RunAll("poststart", c.Config.Hooks.Poststart, s) {
			r.warnf("%v", err)
		}
	}
	return nil
}

// releaseInit opens the exec fifo for reading, which lets init's blocked
// open for writing return; init writes one byte and executes the user's
// process, and we return once that execve has closed the fifo. The fifo is removed first, so a second start finds the
// container running. Non-blocking reads with a liveness check make sure a
// dead init cannot hang us.
func (r *Runtime) releaseInit(c *state.Container, fifo string) error {
	fd, err := unix.Open(fifo, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("cannot start container %s: it was already started", c.ID)
		}
		return fmt.Errorf("open exec fifo: %w", err)
	}
	defer unix.Close(fd) // a descriptor of ours: close fails only on a bad one
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	// First init's byte (it passed the fifo), then EOF (its execve closed
	// the close-on-exec writer, or it died).
	buf := make([]byte, 1)
	got := false
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := unix.Read(fd, buf)
		switch {
		case n == 1:
			got = true
			continue
		case n == 0 && err == nil && got:
			return nil
		case err != nil && err != unix.EAGAIN && err != unix.EINTR:
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if !got && !state.Alive(c.Pid, c.StartTime) {
			// A quick process may have passed the fifo, run and exited
			// since the read above: its byte is still in the pipe.
			if n, _ := unix.Read(fd, buf); n == 1 {
				got = true
				continue
			}
			return fmt.Errorf("cannot start container %s: its init has exited", c.ID)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot start container %s: init did not answer", c.ID)
		}
		// Sleep until init writes or closes; wake now and then to notice
		// its death.
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfd, 20); err != nil && err != unix.EINTR {
			return fmt.Errorf("wait on exec fifo: %w", err)
		}
	}
}
