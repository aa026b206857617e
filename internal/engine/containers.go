package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	mobycontainer "github.com/moby/moby/api/types/container"
	mobyevents "github.com/moby/moby/api/types/events"
	"golang.org/x/sys/unix"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
)

// get finds a container by name, full ID or unique ID prefix, and
// brings its state up to date.
func (e *Engine) get(ref string) (*container.Container, error) {
	c, err := e.containers.Find(ref)
	if err != nil {
		return nil, classify(err)
	}
	if e.refresh(c) {
		return nil, classify(fmt.Errorf("%w: %s", container.ErrNotFound, ref))
	}
	return c, nil
}

// list returns every container, newest first, states up to date.
func (e *Engine) list() ([]*container.Container, error) {
	all, err := e.containers.List()
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := all[:0]
	for _, c := range all {
		if !e.refresh(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// monitorGone reports a container recorded as running whose monitor is
// gone (killed, or lost with /run at a reboot).
func monitorGone(c *container.Container) bool {
	return c.State.Status == container.Running && !monitor.Alive(c.State.MonitorPid, c.State.MonitorStart)
}

// monitorAlive reports whether the container's monitor still runs: the
// container runs, or is between a restart policy's attempts, or its
// monitor is still cleaning up.
func monitorAlive(c *container.Container) bool {
	return monitor.Alive(c.State.MonitorPid, c.State.MonitorStart)
}

// refresh marks a container whose monitor is gone as exited, and cleans
// what it left; a --rm container goes (gone), as its monitor would have
// removed it. It changes the record only under the container's lock,
// after reading it again there: a start that won the lock meanwhile is
// left alone.
func (e *Engine) refresh(c *container.Container) (gone bool) {
	if !monitorGone(c) && !pauserGone(c) {
		return false
	}
	unlock, err := e.containers.Lock(c.ID)
	if err != nil {
		// Removed meanwhile, or the lock is unreadable: the caller sees
		// the record as it was, and the next reader tries again.
		return false
	}
	defer unlock()
	cur, err := e.containers.Load(c.ID)
	if err != nil {
		return false // removed meanwhile: the caller's copy is all there is
	}
	gone = e.refreshLocked(cur)
	*c = *cur
	return gone
}

// pauserGone reports a container frozen for a moment (a commit) by a
// process that is gone.
func pauserGone(c *container.Container) bool {
	return c.State.Paused && c.State.PausedBy != 0 && !monitor.Alive(c.State.PausedBy, c.State.PausedByStart)
}

// refreshLocked is refresh for a caller holding the container's lock.
func (e *Engine) refreshLocked(c *container.Container) (gone bool) {
	if pauserGone(c) {
		_ = e.rt.Resume(c.ID) // an error: not frozen, or gone; nothing to thaw
		c.State.Paused, c.State.PausedBy, c.State.PausedByStart = false, 0, 0
		_ = e.containers.Save(c) // a failed save leaves the record for the next reader
	}
	if !monitorGone(c) {
		return false
	}
	// Best effort, each step: what is already gone is not an error, and
	// a step that fails is tried again by the next start or rm.
	_ = e.rt.Kill(c.ID, unix.SIGKILL, true)
	_ = e.rt.Delete(c.ID, true)
	e.unmountRootfs(c)
	_ = e.disconnectAll(c)
	c.State.Status, c.State.ExitCode, c.State.Pid, c.State.MonitorPid, c.State.Paused, c.State.PausedBy = container.Exited, 255, 0, 0, false, 0
	c.State.FinishedAt = time.Now().UTC()
	if c.Host.AutoRemove && e.forget(c, true) == nil {
		return true // a failed removal leaves it exited, for rm
	}
	// A failed save leaves the record "running" with a dead monitor,
	// which the next reader finds and refreshes again.
	_ = e.containers.Save(c)
	return false
}

// ParseSignal reads a signal as Docker's kill does: a name with or
// without SIG (KILL, SIGTERM) or a number; 0, which only the runtime's
// kill takes, is refused as Docker refuses it.
func ParseSignal(s string) (unix.Signal, error) {
	sig, err := runtime.ParseSignal(s)
	if err == nil && sig == 0 {
		err = fmt.Errorf("invalid signal %q", s)
	}
	if err != nil {
		return 0, invalid(err)
	}
	return sig, nil
}

// ContainerKill signals a running container's init (sig as ParseSignal
// reads it; "" is SIGKILL). A user's kill ends the container for good:
// no restart policy restarts it.
func (e *Engine) ContainerKill(ref, sig string) error {
	if sig == "" {
		sig = "KILL"
	}
	s, err := ParseSignal(sig)
	if err != nil {
		return err
	}
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	if c.State.Status != container.Running {
		return conflict(fmt.Errorf("container %s is not running", c.Name))
	}
	if err := e.markStopped(c); err != nil {
		return err
	}
	if err := e.rt.Kill(c.ID, s, false); err != nil {
		return err
	}
	e.containerEvent(c, mobyevents.ActionKill, "signal", strconv.Itoa(int(s)))
	if s == unix.SIGKILL {
		// As Docker's: a kill returns once the container is dead, so
		// that what the caller reads next is its exit, within a bound
		// for a process the kernel cannot end (uninterruptible I/O).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := e.waitNotRunning(ctx, c); err != nil && ctx.Err() == nil {
			return err
		}
	}
	return nil
}

// markStopped records that a user stopped the container, before it is
// signalled: if that cannot be recorded, the container is not signalled
// either, so that its restart policy cannot bring it back after a stop
// that seemed to work.
func (e *Engine) markStopped(c *container.Container) error {
	cur, err := e.containers.Update(c.ID, func(c *container.Container) error {
		c.State.StopRequested = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("stop container %s: record the stop: %w", c.Name, err)
	}
	// A monitor in its restart back-off reads the request now, not once
	// the back-off is over (up to a minute).
	if cur.State.Status != container.Running && monitor.Alive(cur.State.MonitorPid, cur.State.MonitorStart) {
		_ = unix.Kill(cur.State.MonitorPid, monitor.WakeSignal) // it may have gone meanwhile: the wait tells
	}
	return nil
}

// StopOptions are stop's and restart's.
type StopOptions struct {
	// Timeout is how long to wait for the stop signal before SIGKILL:
	// nil is the container's --stop-timeout, else Docker's 10 seconds;
	// a negative value waits for ever.
	Timeout *int
	// Signal replaces the container's stop signal when set.
	Signal string
}

func (o StopOptions) timeout(c *container.Container) time.Duration {
	secs := 10
	if o.Timeout != nil {
		secs = *o.Timeout
	} else if c.Config.StopTimeout != nil {
		secs = *c.Config.StopTimeout
	}
	if secs < 0 {
		return -1
	}
	return time.Duration(secs) * time.Second
}

// ContainerStop sends the stop signal (STOPSIGNAL, or SIGTERM), then
// SIGKILL after the timeout, and returns once the container's monitor
// is done. Stopping a stopped container is not an error.
func (e *Engine) ContainerStop(ctx context.Context, ref string, o StopOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.stop(ctx, c, o)
}

func (e *Engine) stop(ctx context.Context, c *container.Container, o StopOptions) error {
	if c.State.Status != container.Running && !monitorAlive(c) {
		return nil
	}
	sigName := o.Signal
	if sigName == "" {
		sigName = c.Config.StopSignal
	}
	sig := unix.SIGTERM
	if sigName != "" {
		s, err := ParseSignal(sigName)
		if err != nil {
			return err
		}
		sig = s
	}
	if err := e.markStopped(c); err != nil {
		return err
	}
	e.thaw(c)
	// An error here is a container that ended meanwhile; the wait below
	// tells.
	_ = e.rt.Kill(c.ID, sig, false)
	wctx := ctx
	if t := o.timeout(c); t >= 0 {
		var cancel context.CancelFunc
		wctx, cancel = context.WithTimeout(ctx, t)
		defer cancel()
	}
	if _, err := e.waitNotRunning(wctx, c); err != nil && ctx.Err() == nil {
		_ = e.rt.Kill(c.ID, unix.SIGKILL, true) // as above
		if _, err := e.waitNotRunning(ctx, c); err != nil {
			return err
		}
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	e.containerEvent(c, mobyevents.ActionStop)
	return nil
}

// ContainerRestart stops the container (as ContainerStop) and starts it.
func (e *Engine) ContainerRestart(ctx context.Context, ref string, o StopOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	if err := e.stop(ctx, c, o); err != nil {
		return err
	}
	if err := e.ContainerStart(ctx, c.ID); err != nil {
		return err
	}
	e.containerEvent(c, mobyevents.ActionRestart)
	return nil
}

// RemoveOptions are rm's.
type RemoveOptions struct {
	// Force kills a running container first.
	Force bool
	// Volumes removes the container's anonymous volumes too.
	Volumes bool
}

// ContainerRemove deletes a container; a running one only with Force.
func (e *Engine) ContainerRemove(ctx context.Context, ref string, o RemoveOptions) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	return e.remove(ctx, c, o)
}

func (e *Engine) remove(ctx context.Context, c *container.Container, o RemoveOptions) error {
	if c.State.Status == container.Running || monitorAlive(c) {
		if !o.Force {
			return conflict(fmt.Errorf("cannot remove container %s: container is running: stop the container before removing or force remove", c.Name))
		}
		if err := e.markStopped(c); err != nil {
			return err
		}
		e.thaw(c)
		_ = e.rt.Kill(c.ID, unix.SIGKILL, true) // ended meanwhile: the wait tells
		if _, err := e.waitNotRunning(ctx, c); err != nil {
			return err
		}
	}
	unlock, err := e.containers.Lock(c.ID)
	if err != nil {
		return err
	}
	defer unlock()
	// Both may be gone already (the monitor cleaned up); what is left
	// must not stop the record's removal.
	_ = e.rt.Delete(c.ID, true)
	e.unmountRootfs(c)
	if err := e.disconnectAll(c); err != nil {
		return fmt.Errorf("remove container %s: network teardown: %w", c.Name, err)
	}
	return e.forget(c, o.Volumes)
}

// forget removes a stopped container's record and what it holds: its
// ID range, and with volumes its anonymous volumes.
func (e *Engine) forget(c *container.Container, volumes bool) error {
	return e.storage().Forget(c, volumes)
}

// WaitCondition is what ContainerWait waits for, as Docker names it.
type WaitCondition = mobycontainer.WaitCondition

// Docker's wait conditions.
const (
	WaitNotRunning = mobycontainer.WaitConditionNotRunning
	WaitNextExit   = mobycontainer.WaitConditionNextExit
	WaitRemoved    = mobycontainer.WaitConditionRemoved
)

// ContainerWait waits for the condition ("" is not-running) and returns
// the container's exit code: not-running returns at once for a
// container that is not running; next-exit waits for the end of its
// current or next run; removed waits until its record is gone.
func (e *Engine) ContainerWait(ctx context.Context, ref string, cond WaitCondition) (mobycontainer.WaitResponse, error) {
	c, err := e.get(ref)
	if err != nil {
		return mobycontainer.WaitResponse{}, err
	}
	var code int
	switch cond {
	case "", WaitNotRunning:
		code, err = e.waitNotRunning(ctx, c)
	case WaitNextExit:
		code, err = e.waitNextExit(ctx, c)
	case WaitRemoved:
		code, err = e.waitRemoved(ctx, c)
	default:
		return mobycontainer.WaitResponse{}, invalid(fmt.Errorf("wait condition %q: want not-running, next-exit or removed", cond))
	}
	if err != nil {
		return mobycontainer.WaitResponse{}, err
	}
	resp := mobycontainer.WaitResponse{StatusCode: int64(code)}
	if cur, lerr := e.containers.Load(c.ID); lerr == nil && cur.State.Error != "" {
		resp.Error = &mobycontainer.WaitExitError{Message: cur.State.Error}
	}
	return resp, nil
}

// poll calls check until it reports done: every 20 ms, at once when
// the monitor m follows exits (its clean-up, --rm's removal included,
// is done then), and when this process starts the container id.
func (e *Engine) poll(ctx context.Context, id string, m *monitorWatch, check func() (done bool, err error)) error {
	for {
		// Taken before the check, so that a start between the check and
		// the wait is not missed.
		started, release := e.started.next(id)
		done, err := check()
		if done || err != nil {
			release()
			return err
		}
		if ctx.Err() != nil {
			release()
			return ctx.Err()
		}
		m.wait(20*time.Millisecond, started)
		release()
	}
}

// A monitorWatch is a waiter's hold on a container's monitor, a pidfd
// that turns readable when the monitor exits. It only wakes the waiter
// early: the record says what happened.
type monitorWatch struct {
	pid int
	fd  int // -1: none, or the monitor's end was seen
}

// follow watches the monitor pid (started at start), if it is not the
// one watched already.
func (m *monitorWatch) follow(pid int, start uint64) {
	if pid == m.pid {
		return
	}
	m.close()
	m.pid, m.fd = pid, -1
	if pid <= 0 || !monitor.Alive(pid, start) {
		return
	}
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		m.fd = fd
	}
}

// wait returns when the monitor exits, or after d; when there is no
// monitor to watch, also when started closes.
func (m *monitorWatch) wait(d time.Duration, started <-chan struct{}) {
	if m.fd < 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-started:
		}
		return
	}
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(m.fd), Events: unix.POLLIN}}, int(d.Milliseconds()))
	if err == nil && n > 0 {
		m.close() // it has exited: readable for good, so plain sleeping from here
	}
}

func (m *monitorWatch) close() {
	if m.fd >= 0 {
		_ = unix.Close(m.fd) // ours, open
		m.fd = -1
	}
}

// waitUntil polls the container's record until done says so, and
// returns the last exit code seen; a record that is gone (--rm, rm)
// ends the wait.
func (e *Engine) waitUntil(ctx context.Context, c *container.Container, done func(cur *container.Container) bool) (int, error) {
	code := c.State.ExitCode
	m := &monitorWatch{fd: -1}
	defer m.close()
	err := e.poll(ctx, c.ID, m, func() (bool, error) {
		cur, err := e.containers.Load(c.ID)
		if errors.Is(err, container.ErrNotFound) {
			// Removed (--rm), maybe before this poll saw it exit: its
			// die event has the code.
			if dc, ok := e.lastExitCode(c); ok {
				code = dc
			}
			return true, nil
		}
		if err != nil {
			return false, err
		}
		e.refresh(cur)
		m.follow(cur.State.MonitorPid, cur.State.MonitorStart)
		code = cur.State.ExitCode
		return done(cur), nil
	})
	return code, err
}

// lastExitCode is the exit code of the container's last die event.
func (e *Engine) lastExitCode(c *container.Container) (int, bool) {
	m, found, err := e.journal().Last(c.Created.Add(-time.Second), c.ID, func(m mobyevents.Message) bool {
		return m.Type == mobyevents.ContainerEventType && m.Action == mobyevents.ActionDie && m.Actor.ID == c.ID
	})
	if err != nil || !found {
		return 0, false // a journal that cannot be read leaves the code the polls saw
	}
	code, err := strconv.Atoi(m.Actor.Attributes["exitCode"])
	return code, err == nil
}

// waitNotRunning waits until the container has exited and its monitor
// is done, and returns its exit code.
func (e *Engine) waitNotRunning(ctx context.Context, c *container.Container) (int, error) {
	return e.waitUntil(ctx, c, func(cur *container.Container) bool {
		// A container between a restart policy's attempts is not
		// running either, as Docker's wait has it; else the monitor's
		// end (its clean-up done) is the end.
		restarting := cur.Host.Restart.Name != "" && cur.Host.Restart.Name != "no"
		return cur.State.Status != container.Running && (!monitorAlive(cur) || restarting)
	})
}

// waitNextExit waits until the container's run that is current (or
// next, for one not running) has ended.
func (e *Engine) waitNextExit(ctx context.Context, c *container.Container) (int, error) {
	finished := c.State.FinishedAt
	return e.waitUntil(ctx, c, func(cur *container.Container) bool {
		return cur.State.Status != container.Running && cur.State.FinishedAt.After(finished)
	})
}

// waitRemoved waits until the container's record is gone.
func (e *Engine) waitRemoved(ctx context.Context, c *container.Container) (int, error) {
	return e.waitUntil(ctx, c, func(*container.Container) bool { return false })
}

// ContainerRename gives a container a new name; the name claim moves
// atomically.
func (e *Engine) ContainerRename(ref, name string) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	name = strings.TrimPrefix(name, "/")
	old := c.Name
	c.Name = name
	if err := e.containers.ClaimName(c); err != nil {
		return conflict(err)
	}
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		cur.Name = name
		return nil
	})
	if err != nil {
		e.containers.ReleaseName(name)
		return err
	}
	e.containers.ReleaseName(old)
	c.Name = name
	e.containerEvent(c, mobyevents.ActionRename, "oldName", "/"+old)
	return nil
}

// ContainerPause freezes every process of a running container.
func (e *Engine) ContainerPause(ref string) error { return e.setPaused(ref, true) }

// ContainerUnpause thaws a paused container.
func (e *Engine) ContainerUnpause(ref string) error { return e.setPaused(ref, false) }

// thaw unfreezes a container before a stop or a forced removal: a
// frozen process takes no signal, SIGKILL included (cgroup v1), so the
// stop would wait for ever. Docker's stop and rm -f end a paused
// container too. The runtime's freezer is asked even when the record
// says running, as a pauser killed mid-way (a commit) leaves it frozen.
func (e *Engine) thaw(c *container.Container) {
	if err := e.rt.Resume(c.ID); err != nil {
		return // not frozen, or gone: nothing to thaw
	}
	if c.State.Paused {
		_, _ = e.containers.Update(c.ID, func(cur *container.Container) error { // the stop that follows rewrites the state in any case
			cur.State.Paused, cur.State.PausedBy, cur.State.PausedByStart = false, 0, 0
			return nil
		})
		e.containerEvent(c, mobyevents.ActionUnPause)
	}
}

func (e *Engine) setPaused(ref string, paused bool) error {
	c, err := e.get(ref)
	if err != nil {
		return err
	}
	_, err = e.containers.Update(c.ID, func(cur *container.Container) error {
		if cur.State.Status != container.Running {
			return conflict(fmt.Errorf("container %s is not running", cur.Name))
		}
		if cur.State.Paused == paused {
			if paused {
				return conflict(fmt.Errorf("container %s is already paused", cur.Name))
			}
			return conflict(fmt.Errorf("container %s is not paused", cur.Name))
		}
		op := e.rt.Resume
		if paused {
			op = e.rt.Pause
		}
		if err := op(cur.ID); err != nil {
			return err
		}
		cur.State.Paused, cur.State.PausedBy, cur.State.PausedByStart = paused, 0, 0
		return nil
	})
	if err == nil {
		action := mobyevents.ActionUnPause
		if paused {
			action = mobyevents.ActionPause
		}
		e.containerEvent(c, action)
	}
	return err
}

// ContainersPrune removes every stopped container that matches filters
// (until=, label=, label!=).
func (e *Engine) ContainersPrune(ctx context.Context, f Filters) (mobycontainer.PruneReport, error) {
	var rep mobycontainer.PruneReport
	if err := f.check("until", "label", "label!"); err != nil {
		return rep, err
	}
	until, err := f.until(time.Now())
	if err != nil {
		return rep, err
	}
	all, err := e.list()
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, c := range all {
		if c.State.Status == container.Running || monitorAlive(c) || !f.labels(c.Config.Labels) {
			continue
		}
		if !until.IsZero() && !c.Created.Before(until) {
			continue
		}
		size := e.rwSize(c)
		if err := e.remove(ctx, c, RemoveOptions{}); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.ContainersDeleted = append(rep.ContainersDeleted, c.ID)
		rep.SpaceReclaimed += uint64(size)
	}
	return rep, errors.Join(errs...)
}
