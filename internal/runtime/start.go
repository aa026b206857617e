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
// process. The fifo is removed first, so a second start finds the
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
	defer unix.Close(fd)
	if err := os.Remove(fifo); err != nil {
		return fmt.Errorf("remove exec fifo: %w", err)
	}
	buf := make([]byte, 1)
	deadline := time.Now().Add(10 * time.Second)
	for wait := 50 * time.Microsecond; ; {
		n, err := unix.Read(fd, buf)
		if n == 1 {
			return nil
		}
		if err != nil && err != unix.EAGAIN && err != unix.EINTR {
			return fmt.Errorf("read exec fifo: %w", err)
		}
		if !state.Alive(c.Pid, c.StartTime) {
			return fmt.Errorf("cannot start container %s: its init has exited", c.ID)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cannot start container %s: init did not answer", c.ID)
		}
		time.Sleep(wait)
		if wait < 10*time.Millisecond {
			wait *= 2
		}
	}
}
