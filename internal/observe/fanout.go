package observe

import (
	"slices"
	"sync"
	"sync/atomic"
)

// Fanout hands each Record to every sink registered with it. Sinks come and go at any time
// (the analytics store at start, a reloaded access log); Record reads the current list with one
// atomic load and never locks. The zero value is ready to use.
type Fanout struct {
	mu    sync.Mutex // serializes Add and remove
	sinks atomic.Pointer[[]*entry]
}

// entry gives each registration its own identity, so removing one never needs to compare
// sinks (which may not be comparable) and a sink added twice is removed once per Add.
type entry struct{ s Sink }

// Add registers s and returns the function that removes it again (safe to call more than once).
func (f *Fanout) Add(s Sink) (remove func()) {
	e := &entry{s: s}
	f.mu.Lock()
	// A fresh slice: Record may be iterating over the old one.
	next := append(slices.Clone(f.list()), e)
	f.sinks.Store(&next)
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		cur := f.list()
		if i := slices.Index(cur, e); i >= 0 {
			next := slices.Delete(slices.Clone(cur), i, i+1)
			f.sinks.Store(&next)
		}
	}
}

func (f *Fanout) list() []*entry {
	if p := f.sinks.Load(); p != nil {
		return *p
	}
	return nil
}

// Len reports how many sinks are registered.
func (f *Fanout) Len() int { return len(f.list()) }

// Record passes r to every sink in the order they were added.
func (f *Fanout) Record(r *Record) {
	for _, e := range f.list() {
		e.s.Record(r)
	}
}
