package engine

import (
	"testing"
	"time"
)

func TestWakeupsWakeTheStartedContainersWaitersOnce(t *testing.T) {
	var w wakeups
	a, releaseA := w.next("a")
	b, releaseB := w.next("b")
	w.wake("a")
	select {
	case <-a:
	case <-time.After(time.Second):
		t.Fatal("a's waiter was not woken")
	}
	select {
	case <-b:
		t.Fatal("b's waiter was woken by a's start")
	default:
	}
	releaseA()
	// A waiter after the start waits for the next one.
	a2, releaseA2 := w.next("a")
	select {
	case <-a2:
		t.Fatal("a new waiter saw the old start")
	default:
	}
	releaseA2()
	releaseB()
	if len(w.chans) != 0 {
		t.Fatalf("released waiters left %d entries", len(w.chans))
	}
}
