// Package health times a container's healthcheck, in its monitor and
// in the monitor's idle stage alike. A probe is a process of the
// engine's own binary (ProbeArg0): it runs the check in the container,
// records the result in the container's state and its events, and
// tells the scheduler, over a pipe, the status it left. The scheduler
// only starts probes on Docker's timing and stops them, so the idle
// stage stays small and never holds the engine.
package health

import (
	"os"
	"time"
)

// ProbeArg0 names a probe process: the engine's binary started with
// this arg0 and, after it, the storage root, the runtime root and the
// container's ID.
const ProbeArg0 = "berth-health-probe"

// Status bytes a probe writes to its pipe (fd 3) before it exits.
const (
	StatusStarting  = 's'
	StatusHealthy   = 'h'
	StatusUnhealthy = 'u'
)

// Schedule is when a container's probes run: every Interval, every
// StartInterval instead while the container is still starting within
// StartPeriod of Started; a probe that outlives Timeout (plus a grace
// for the probe's own set-up) is killed.
type Schedule struct {
	Interval      time.Duration `json:"interval"`
	StartInterval time.Duration `json:"startInterval"`
	StartPeriod   time.Duration `json:"startPeriod"`
	Timeout       time.Duration `json:"timeout"`
	Started       time.Time     `json:"started"`
	// Next is when the next probe is due, zero for one interval after
	// Started; Status the last one's verdict. Both carry a schedule
	// over the hand-off to the idle stage.
	Next   time.Time `json:"next,omitzero"`
	Status byte      `json:"status,omitempty"`
}

// interval is the wait before the next probe, given the last status.
func (s Schedule) interval(now time.Time) time.Duration {
	if s.Status == StatusStarting && now.Sub(s.Started) < s.StartPeriod {
		return s.StartInterval
	}
	return s.Interval
}

// probeGrace is what a probe may take beyond the check's timeout: its
// own start and the state update. The probe enforces the timeout on
// the check itself; this only ends a probe that hangs.
const probeGrace = 10 * time.Second

// Prober starts probe processes.
type Prober struct {
	Exe  string   // the engine's binary
	Args []string // after arg0: storage root, runtime root, container ID
	Env  []string
}

// A Runner is a started schedule.
type Runner struct {
	stop chan struct{}
	done chan Schedule
}

// Start runs probes on s until Stop.
func Start(s Schedule, p Prober) *Runner {
	r := &Runner{stop: make(chan struct{}), done: make(chan Schedule, 1)}
	if s.Status == 0 {
		s.Status = StatusStarting
	}
	go func() { r.done <- r.loop(s, p) }()
	return r
}

// Stop ends the schedule and any probe in flight, and returns where
// the schedule stood, for the idle stage to carry on.
func (r *Runner) Stop() Schedule {
	close(r.stop)
	return <-r.done
}

func (r *Runner) loop(s Schedule, p Prober) Schedule {
	if s.Next.IsZero() {
		s.Next = s.Started.Add(s.interval(time.Now()))
	}
	for {
		t := time.NewTimer(time.Until(s.Next))
		select {
		case <-r.stop:
			t.Stop()
			return s
		case <-t.C:
		}
		st, ok := p.run(r.stop, s.Timeout+probeGrace)
		if ok {
			s.Status = st
		}
		now := time.Now()
		s.Next = now.Add(s.interval(now))
		select {
		case <-r.stop:
			return s
		default:
		}
	}
}

// run starts one probe and waits for its status; false when it gave
// none (it failed, hung past limit, or the schedule stopped).
func (p Prober) run(stop <-chan struct{}, limit time.Duration) (byte, bool) {
	rd, wr, err := os.Pipe()
	if err != nil {
		return 0, false
	}
	defer rd.Close() // read once
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		_ = wr.Close() // unused
		return 0, false
	}
	defer null.Close() // the probe has its own copy
	// Its exit status is nobody's: the monitor reaps every child of its
	// own in its wait for init. The pipe's end is the probe's word.
	proc, err := os.StartProcess(p.Exe, append([]string{ProbeArg0}, p.Args...),
		&os.ProcAttr{Env: p.Env, Files: []*os.File{null, null, os.Stderr, wr}})
	_ = wr.Close() // the probe holds its end; ours goes so that EOF comes
	if err != nil {
		return 0, false
	}
	defer proc.Release() // the pidfd; the process is reaped by the monitor
	got := make(chan []byte, 1)
	go func() {
		b := make([]byte, 1)
		n, _ := rd.Read(b) // EOF or an error: no status
		got <- b[:n]
	}()
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case b := <-got:
		if len(b) == 1 {
			return b[0], true
		}
		return 0, false
	case <-t.C:
	case <-stop:
	}
	// Through its pidfd: the process is this one even if it was reaped.
	_ = proc.Kill() // gone already is fine
	return 0, false
}
