package balance

import (
	"sync"
	"sync/atomic"
)

// setCache holds a table derived from one target set (a WRR sequence, a hash ring, a Maglev
// table), keyed by the identity of the slice the pool passes: its first element's address
// and its length. The pool passes the same slice until the available set changes, so a hit is
// one atomic load and two compares. Tables store indexes into that slice, never *Target, so
// even a caller that broke the contract by editing a slice in place would only get a stale
// spread, never a target outside the slice it passed.
//
// The table of the previous set is kept too: requests that loaded the old slice just before
// a change still hit, and a target flapping between healthy and unhealthy alternates between
// two sets without rebuilding either.
type setCache[T any] struct {
	build func([]*Target) T
	// mu serializes builds so that a set change costs one build, not one per concurrent Pick;
	// hits never take it.
	mu  sync.Mutex
	cur atomic.Pointer[setEntry[T]]
}

type setEntry[T any] struct {
	// first keeps the backing array alive, so its address cannot be reused by a new slice
	// while this entry is cached.
	first **Target
	n     int
	table T
	prev  *setEntry[T] // the set before this one; its own prev is always nil
}

// lookup finds the table for targets in e or the set before it.
func (e *setEntry[T]) lookup(targets []*Target) (T, bool) {
	for ; e != nil; e = e.prev {
		if e.first == &targets[0] && e.n == len(targets) {
			return e.table, true
		}
	}
	var zero T
	return zero, false
}

// get returns the table for targets, building it on the first call for a new slice.
// targets must not be empty.
func (c *setCache[T]) get(targets []*Target) T {
	if t, ok := c.cur.Load().lookup(targets); ok {
		return t
	}
	return c.rebuild(targets)
}

func (c *setCache[T]) rebuild(targets []*Target) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.cur.Load()
	if t, ok := e.lookup(targets); ok {
		return t
	}
	next := &setEntry[T]{first: &targets[0], n: len(targets), table: c.build(targets)}
	if e != nil {
		next.prev = &setEntry[T]{first: e.first, n: e.n, table: e.table}
	}
	c.cur.Store(next)
	return next.table
}
