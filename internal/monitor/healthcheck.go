package monitor

import (
	"os"
	"strings"

	"github.com/berth-project/berth/internal/container"
	"github.com/berth-project/berth/internal/monitor/health"
)

// schedule is the container's healthcheck timing for the start it is
// in; from carries on a schedule stopped before (zero for a new one).
func schedule(c *container.Container, from health.Schedule) health.Schedule {
	h := c.Config.Healthcheck
	from.Interval, from.StartInterval = h.IntervalOrDefault(), h.StartIntervalOrDefault()
	from.StartPeriod, from.Timeout, from.Started = h.StartPeriod, h.TimeoutOrDefault(), c.State.StartedAt
	return from
}

// prober starts probes from exe, the engine's binary as this process
// reaches it.
func (s *session) prober(exe string, env []string) health.Prober {
	return health.Prober{Exe: exe, Args: []string{s.paths.Root, s.paths.RunRoot, s.id}, Env: env}
}

// engineEnv is the environment this monitor was started with, less
// what only its start needed.
func engineEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "_BERTH_MONITOR_CLIENT=") {
			out = append(out, kv)
		}
	}
	return out
}

// startHealth runs the container's healthcheck, if it has one, from
// the schedule from.
func (s *session) startHealth(from health.Schedule) {
	if !s.c.Config.Healthcheck.Enabled() {
		return
	}
	s.health = health.Start(schedule(s.c, from), s.prober("/proc/self/exe", engineEnv()))
}

// stopHealth ends the healthcheck's schedule and returns where it
// stood.
func (s *session) stopHealth() health.Schedule {
	if s.health == nil {
		return health.Schedule{}
	}
	sch := s.health.Stop()
	s.health = nil
	return sch
}
