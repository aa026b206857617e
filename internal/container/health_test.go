package container

import (
	"strings"
	"testing"
	"time"
)

func TestHealthRecord(t *testing.T) {
	started := time.Unix(1000, 0)
	check := &Healthcheck{Test: []string{"CMD", "true"}, Retries: 2, StartPeriod: 10 * time.Second}
	h := StartHealth(check, nil)
	at := func(sec int, code int) HealthResult {
		return HealthResult{Start: started.Add(time.Duration(sec) * time.Second), ExitCode: code}
	}
	// In the start period failures do not count.
	if h.Record(check, started, at(1, 1)) || h.Status != HealthStarting || h.FailingStreak != 0 {
		t.Fatalf("a failure in the start period: %+v", h)
	}
	if !h.Record(check, started, at(2, 0)) || h.Status != HealthHealthy {
		t.Fatalf("a success: %+v", h)
	}
	// Once healthy, the start period no longer forgives.
	if h.Record(check, started, at(3, 1)) || h.Status != HealthHealthy || h.FailingStreak != 1 {
		t.Fatalf("one failure of two: %+v", h)
	}
	if !h.Record(check, started, at(4, 1)) || h.Status != HealthUnhealthy || h.FailingStreak != 2 {
		t.Fatalf("two failures: %+v", h)
	}
	h.Record(check, started, HealthResult{Start: started.Add(20 * time.Second), Output: strings.Repeat("x", 5000)})
	h.Record(check, started, at(21, 0))
	if len(h.Log) != HealthLogEntries || len(h.Log[HealthLogEntries-2].Output) != HealthOutputMax {
		t.Fatalf("log: %d entries, output %d", len(h.Log), len(h.Log[HealthLogEntries-2].Output))
	}
	again := StartHealth(check, h)
	if again.Status != HealthStarting || again.FailingStreak != 0 || len(again.Log) != HealthLogEntries {
		t.Fatalf("restart: %+v", again)
	}
	if StartHealth(&Healthcheck{Test: []string{"NONE"}}, h) != nil || StartHealth(nil, h) != nil {
		t.Fatal("NONE or no check has no health")
	}
}

func TestHealthcheckMergeAndCommand(t *testing.T) {
	img := &Healthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}, Interval: time.Second, Retries: 5}
	got := (&Healthcheck{Timeout: 3 * time.Second}).Merge(img)
	if got.Test[1] != "curl -f localhost" || got.Interval != time.Second || got.Timeout != 3*time.Second || got.Retries != 5 {
		t.Fatalf("merge: %+v", got)
	}
	if (*Healthcheck)(nil).Merge(img) != img || got.Merge(nil) != got {
		t.Fatal("merge with nothing")
	}
	if c := got.Command([]string{"/bin/ash", "-eo"}); strings.Join(c, "|") != "/bin/ash|-eo|curl -f localhost" {
		t.Fatalf("CMD-SHELL with SHELL: %q", c)
	}
	if c := got.Command(nil); strings.Join(c, "|") != "/bin/sh|-c|curl -f localhost" {
		t.Fatalf("CMD-SHELL: %q", c)
	}
	if c := (&Healthcheck{Test: []string{"CMD", "a", "b"}}).Command(nil); strings.Join(c, "|") != "a|b" {
		t.Fatalf("CMD: %q", c)
	}
	if (&Healthcheck{Test: []string{"NONE"}}).Command(nil) != nil || (&Healthcheck{Test: []string{"CMD"}}).Command(nil) != nil {
		t.Fatal("no command to run")
	}
}
