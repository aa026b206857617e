package container

import (
	"time"
)

// Health states, as Docker names them.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Docker's defaults for a healthcheck's zero durations and retries.
const (
	DefaultHealthInterval      = 30 * time.Second
	DefaultHealthTimeout       = 30 * time.Second
	DefaultHealthStartInterval = 5 * time.Second
	DefaultHealthRetries       = 3
)

// HealthLogEntries and HealthOutputMax bound what a container keeps of
// its probes, as Docker does: the last five, 4 KiB of output each.
const (
	HealthLogEntries = 5
	HealthOutputMax  = 4096
)

// Healthcheck is the container's probe: the image's HEALTHCHECK with
// the create options' fields on top.
type Healthcheck struct {
	// Test is ["CMD", args...], ["CMD-SHELL", command] or ["NONE"].
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	StartPeriod   time.Duration `json:"startPeriod,omitempty"`
	StartInterval time.Duration `json:"startInterval,omitempty"`
	Retries       int           `json:"retries,omitempty"`
}

// Enabled reports whether the check runs at all: it has a command and
// is not NONE.
func (h *Healthcheck) Enabled() bool {
	return h != nil && len(h.Test) > 0 && h.Test[0] != "NONE"
}

// Merge is the healthcheck of a container whose image has base and
// whose options give h, as Docker merges them: h's fields win where
// set, the image's fill the rest.
func (h *Healthcheck) Merge(base *Healthcheck) *Healthcheck {
	if h == nil {
		return base
	}
	if base == nil {
		return h
	}
	out := *h
	if len(out.Test) == 0 {
		out.Test = base.Test
	}
	for _, f := range [][2]*time.Duration{{&out.Interval, &base.Interval}, {&out.Timeout, &base.Timeout},
		{&out.StartPeriod, &base.StartPeriod}, {&out.StartInterval, &base.StartInterval}} {
		if *f[0] == 0 {
			*f[0] = *f[1]
		}
	}
	if out.Retries == 0 {
		out.Retries = base.Retries
	}
	return &out
}

// Command is the probe's command line: CMD's arguments, or CMD-SHELL's
// command through shell; nil when there is none to run.
func (h *Healthcheck) Command(shell []string) []string {
	if !h.Enabled() || len(h.Test) < 2 {
		return nil
	}
	switch h.Test[0] {
	case "CMD":
		return h.Test[1:]
	case "CMD-SHELL":
		if len(shell) == 0 {
			shell = []string{"/bin/sh", "-c"}
		}
		return append(append([]string(nil), shell...), h.Test[1])
	}
	return nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// TimeoutOrDefault is how long one probe may take.
func (h *Healthcheck) TimeoutOrDefault() time.Duration {
	return orDefault(h.Timeout, DefaultHealthTimeout)
}

// IntervalOrDefault is the time between probes.
func (h *Healthcheck) IntervalOrDefault() time.Duration {
	return orDefault(h.Interval, DefaultHealthInterval)
}

// StartIntervalOrDefault is the time between probes in the start
// period.
func (h *Healthcheck) StartIntervalOrDefault() time.Duration {
	return orDefault(h.StartInterval, DefaultHealthStartInterval)
}

// Health is the container's health as its probes found it.
type Health struct {
	Status        string         `json:"status"`
	FailingStreak int            `json:"failingStreak"`
	Log           []HealthResult `json:"log,omitempty"`
}

// HealthResult is one probe.
type HealthResult struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exitCode"`
	Output   string    `json:"output"`
}

// StartHealth is the health of a container (re)starting: starting, its
// streak reset, its log kept, as Docker keeps it over restarts.
func StartHealth(h *Healthcheck, old *Health) *Health {
	if !h.Enabled() {
		return nil
	}
	out := &Health{Status: HealthStarting}
	if old != nil {
		out.Log = old.Log
	}
	return out
}

// Record applies one probe's result r to health, for a container that
// started at started, and reports whether the status changed. A failure
// in the start period does not count, unless the container was healthy
// once; FailingStreak failures in a row make it unhealthy.
func (h *Health) Record(check *Healthcheck, started time.Time, r HealthResult) bool {
	old := h.Status
	if len(r.Output) > HealthOutputMax {
		r.Output = r.Output[:HealthOutputMax]
	}
	h.Log = append(h.Log, r)
	if n := len(h.Log) - HealthLogEntries; n > 0 {
		h.Log = append([]HealthResult(nil), h.Log[n:]...)
	}
	if r.ExitCode == 0 {
		h.Status, h.FailingStreak = HealthHealthy, 0
		return h.Status != old
	}
	if h.Status == HealthStarting && r.Start.Sub(started) < check.StartPeriod {
		return false
	}
	h.FailingStreak++
	retries := check.Retries
	if retries <= 0 {
		retries = DefaultHealthRetries
	}
	if h.FailingStreak >= retries {
		h.Status = HealthUnhealthy
	}
	return h.Status != old
}
