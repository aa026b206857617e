package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor/health"
	"github.com/berth-project/berth/internal/runtime"
)

// probeMain is a health probe process, started by a container's
// monitor on its schedule (internal/monitor/health): it runs the check
// once, records the result, and writes the status it left to fd 3.
func probeMain() {
	out := os.NewFile(3, "health-status")
	unix.CloseOnExec(3) // the check's processes must not hold it: its EOF is the scheduler's word
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "berth health probe: want root, run root and container ID")
		os.Exit(2)
	}
	e, err := OpenWith(os.Args[1], os.Args[2], Options{OneShot: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth health probe:", err)
		os.Exit(1)
	}
	status, err := e.probe(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "berth health probe:", err)
		os.Exit(1)
	}
	// The scheduler reads one byte; if it is gone, nobody needs it.
	_, _ = out.Write([]byte{status})
	os.Exit(0)
}

// errNoProbe says that the container's state has moved on (stopped,
// restarted, paused): the probe records nothing.
var errNoProbe = errors.New("no probe due")

// probe runs the container's healthcheck once and records its result
// in State.Health, with a health_status event when the status changes.
// It returns the status as the scheduler's byte.
func (e *Engine) probe(id string) (byte, error) {
	c, err := e.containers.Load(id)
	if err != nil {
		return 0, err
	}
	if c.State.Status != container.Running || c.State.Health == nil || c.State.Paused {
		return statusByte(c.State.Health), nil
	}
	check := c.Config.Healthcheck
	r := e.runCheck(c, check)
	changed := false
	c, err = e.containers.Update(id, func(cur *container.Container) error {
		if cur.State.Status != container.Running || cur.State.Health == nil || !cur.State.StartedAt.Equal(c.State.StartedAt) {
			return errNoProbe
		}
		changed = cur.State.Health.Record(check, cur.State.StartedAt, r)
		return nil
	})
	if errors.Is(err, errNoProbe) {
		return statusByte(c.State.Health), nil
	}
	if err != nil {
		return 0, err
	}
	if changed {
		e.containerEvent(c, mobyevents.Action("health_status: "+c.State.Health.Status))
	}
	return statusByte(c.State.Health), nil
}

func statusByte(h *container.Health) byte {
	switch {
	case h == nil || h.Status == container.HealthStarting:
		return health.StatusStarting
	case h.Status == container.HealthHealthy:
		return health.StatusHealthy
	}
	return health.StatusUnhealthy
}

// runCheck runs the check's command in the container, as an exec would,
// with its output (both streams, bounded) and its timeout; a check that
// cannot start or runs past its timeout has the code -1, as Docker
// records it.
func (e *Engine) runCheck(c *container.Container, check *container.Healthcheck) container.HealthResult {
	r := container.HealthResult{Start: time.Now().UTC()}
	fail := func(msg string) container.HealthResult {
		r.End, r.ExitCode, r.Output = time.Now().UTC(), -1, msg
		return r
	}
	args := check.Command(c.Config.Shell)
	if len(args) == 0 {
		return fail(fmt.Sprintf("healthcheck %q has no command", strings.Join(check.Test, " ")))
	}
	p, err := e.execProcess(&execRecord{ContainerID: c.ID, Config: ExecConfig{Cmd: args}})
	if err != nil {
		return fail(err.Error())
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		return fail(err.Error())
	}
	defer null.Close() // the check has its own copy
	rd, wr, err := os.Pipe()
	if err != nil {
		return fail(err.Error())
	}
	var output boundedBuffer
	read := make(chan struct{})
	go func() {
		_, _ = io.Copy(&output, rd) // until EOF, or until rd is closed below
		close(read)
	}()
	timeout := check.TimeoutOrDefault()
	var k killer
	code, err := e.rt.Exec(c.ID, runtime.ExecOptions{Process: p, Stdin: null, Stdout: wr, Stderr: wr,
		Started: func(pid int) { k.arm(pid, timeout) }})
	timedOut := k.disarm()
	_ = wr.Close() // ours; EOF comes when the check's processes are done with it
	// A process the check left behind may hold the pipe: its output is
	// not waited for.
	select {
	case <-read:
	case <-time.After(time.Second):
	}
	_ = rd.Close() // ends the copy if it still runs
	<-read
	switch {
	case timedOut:
		return fail(fmt.Sprintf("Health check exceeded timeout (%s)", timeout))
	case err != nil:
		return fail(err.Error())
	}
	r.End, r.ExitCode, r.Output = time.Now().UTC(), code, output.String()
	return r
}

// A killer ends a check that runs past its timeout. It holds a pidfd:
// the kill cannot reach another process that took the pid once the
// check was reaped.
type killer struct {
	mu    sync.Mutex
	pfd   int
	timer *time.Timer
	fired bool
}

func (k *killer) arm(pid int, after time.Duration) {
	pfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return // gone already: nothing to time
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pfd = pfd
	k.timer = time.AfterFunc(after, func() {
		k.mu.Lock()
		defer k.mu.Unlock()
		if k.timer == nil {
			return // disarmed meanwhile
		}
		k.fired = true
		_ = unix.PidfdSendSignal(k.pfd, unix.SIGKILL, nil, 0) // it may have ended meanwhile
	})
}

// disarm stops the timer and reports whether it killed the check.
func (k *killer) disarm() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.timer != nil {
		k.timer.Stop()
		k.timer = nil
		_ = unix.Close(k.pfd) // ours, open
	}
	return k.fired
}

// boundedBuffer keeps the first HealthOutputMax bytes written to it and
// takes the rest without keeping it.
type boundedBuffer struct{ strings.Builder }

func (b *boundedBuffer) Write(p []byte) (int, error) {
	if room := container.HealthOutputMax - b.Len(); room > 0 {
		b.Builder.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
