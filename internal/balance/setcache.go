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
type setCache[T any] struct {
	build func([]*Target) T
	// mu serializes builds so that a set change costs one build, not one per concurrent Pick;
	// hits never take it.
	mu  sync.Mutex
	cur atomic.Pointer[setEntry[T]]
}

type setEntry[T any] struct {
	// first keeps the old backing array alive, so its address cannot be reused by a new slice
	// while this entry is current.
	first **Target
	n     int
	table T
}

// get returns the table for targets, building it on the first call for a new slice.
// targets must not be empty.
func (c *setCache[T]) get(targets []*Target) T {
	if e := c.cur.Load(); e != nil && e.first == &targets[0] && e.n == len(targets) {
		return e.table
	}
	return c.rebuild(targets)
}

func (c *setCache[T]) rebuild(targets []*Target) T {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e := c.cur.Load(); e != nil && e.first == &targets[0] && e.n == len(targets) {
		return e.table
	}
	e := &setEntry[T]{first: &targets[0], n: len(targets), table: c.build(targets)}
	c.cur.Store(e)
	return e.table
}
