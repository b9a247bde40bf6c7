package serve

import (
	"context"
	"sync"
	"time"
)

// waitContext bounds a call's wait for a deployment's pools. It is a context because the pools
// wait on one, but unlike context.WithDeadline it costs nothing until a pool actually waits: the
// timer and the link to the parent start at the first Done, and the value itself is reused
// (release), so an admission with room allocates nothing.
type waitContext struct {
	parent   context.Context
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{} // nil until Done
	err   error
	timer *time.Timer
	stop  func() bool // unlinks from the parent
}

var waitContexts = sync.Pool{New: func() any { return new(waitContext) }}

// newWaitContext is parent, ended at deadline too. Call release once the pools returned.
func newWaitContext(parent context.Context, deadline time.Time) *waitContext {
	w := waitContexts.Get().(*waitContext)
	w.parent, w.deadline = parent, deadline
	return w
}

// release stops the timer and the parent link and reuses w, unless one of them already fired
// (its callback may still run): then w is left to the collector.
func (w *waitContext) release() {
	w.mu.Lock()
	reuse := true
	if w.timer != nil && !w.timer.Stop() {
		reuse = false
	}
	if w.stop != nil && !w.stop() {
		reuse = false
	}
	w.mu.Unlock()
	if reuse {
		*w = waitContext{}
		waitContexts.Put(w)
	}
}

// Deadline is the earlier of the wait's and the parent's.
func (w *waitContext) Deadline() (time.Time, bool) {
	if d, ok := w.parent.Deadline(); ok && d.Before(w.deadline) {
		return d, true
	}
	return w.deadline, true
}

// Value is the parent's.
func (w *waitContext) Value(key any) any { return w.parent.Value(key) }

// Done starts the timer and the parent link the first time it is asked for.
func (w *waitContext) Done() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		return w.done
	}
	w.done = make(chan struct{})
	if err := w.errLocked(); err != nil {
		w.err = err
		close(w.done)
		return w.done
	}
	w.timer = time.AfterFunc(time.Until(w.deadline), func() { w.end(context.DeadlineExceeded) })
	w.stop = context.AfterFunc(w.parent, func() { w.end(w.parent.Err()) })
	return w.done
}

// Err is why the wait ended, or nil.
func (w *waitContext) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.errLocked()
}

func (w *waitContext) errLocked() error {
	switch {
	case w.err != nil:
		return w.err
	case w.parent.Err() != nil:
		return w.parent.Err()
	case !time.Now().Before(w.deadline):
		return context.DeadlineExceeded
	}
	return nil
}

func (w *waitContext) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
		close(w.done)
	}
}
