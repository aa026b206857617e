package health

import (
	"testing"
	"time"
)

func TestScheduleInterval(t *testing.T) {
	start := time.Unix(1000, 0)
	s := Schedule{Interval: 30 * time.Second, StartInterval: time.Second, StartPeriod: time.Minute, Started: start, Status: StatusStarting}
	if d := s.interval(start.Add(10 * time.Second)); d != time.Second {
		t.Fatalf("starting, in the start period: %s", d)
	}
	if d := s.interval(start.Add(2 * time.Minute)); d != 30*time.Second {
		t.Fatalf("starting, past the start period: %s", d)
	}
	s.Status = StatusHealthy
	if d := s.interval(start.Add(10 * time.Second)); d != 30*time.Second {
		t.Fatalf("healthy in the start period: %s", d)
	}
}

// A probe that gives no status leaves the status as it was; Stop ends
// the schedule and the probe in flight with it (an hour's sleep: a Stop
// that waited for it would hang the test, caught by the bound below).
func TestRunnerStops(t *testing.T) {
	r := Start(Schedule{Interval: 10 * time.Millisecond, Timeout: time.Second, Started: time.Now()},
		Prober{Exe: "/bin/sh", Args: []string{"-c", "exec sleep 3600"}})
	time.Sleep(50 * time.Millisecond)
	done := make(chan Schedule)
	go func() { done <- r.Stop() }()
	select {
	case s := <-done:
		if s.Status != StatusStarting || s.Next.IsZero() {
			t.Fatalf("stopped at %+v", s)
		}
	case <-time.After(time.Minute):
		t.Fatal("Stop waited for the probe")
	}
}
