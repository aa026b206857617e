package engine

import "sync"

// wakeups let a waiter in this process hear at once that a container's
// monitor was handed the container: a wait that began before the start
// (the docker CLI's, for run) then follows the new monitor's pidfd
// instead of polling until it notices. Other processes' starts are
// still seen by the poll.
type wakeups struct {
	mu    sync.Mutex
	chans map[string]*wakeup
}

type wakeup struct {
	ch      chan struct{}
	waiters int
}

// next is a channel that closes at the container's next start; release
// when done with it.
func (w *wakeups) next(id string) (ch <-chan struct{}, release func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.chans == nil {
		w.chans = map[string]*wakeup{}
	}
	u := w.chans[id]
	if u == nil {
		u = &wakeup{ch: make(chan struct{})}
		w.chans[id] = u
	}
	u.waiters++
	return u.ch, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if u.waiters--; u.waiters == 0 && w.chans[id] == u {
			delete(w.chans, id)
		}
	}
}

// wake tells the container's waiters that it was started.
func (w *wakeups) wake(id string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if u := w.chans[id]; u != nil {
		close(u.ch)
		delete(w.chans, id)
	}
}
