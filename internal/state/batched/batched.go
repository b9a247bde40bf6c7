// Package batched is the state.Limiter for sync: batched clusters: a node takes a GCRA key's
// tokens from the shared store in batches (one round trip for several tokens) and hands them
// out from memory, taking the next batch in the background before the last one runs out. So a
// hot key costs a round trip per batch, not per request.
//
// The cluster never admits more than the global limit: every token admitted was first taken
// from the shared bucket. What it loses is accuracy the other way: tokens a node holds but
// has not used are taken from the others, at most one batch per node and key (sized so that
// stays within a few percent of the limit). The burst a single node can pass at once is the
// tokens it holds, not the global burst.
//
// Only GCRA limits have tokens to batch; the windows and logs are decided by the exact store,
// one round trip each. The package knows only keys and state.Limits, not Redis: the shared
// store is a Reserver.
package batched

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"aya/internal/state"
)

// Reserver takes up to n tokens of a GCRA limit from key's shared bucket (granted may be 0,
// then retry is how long until one is free).
type Reserver interface {
	Reserve(ctx context.Context, key string, l state.Limit, n int64, now time.Time) (granted int64, retry time.Duration, err error)
}

// Options tune a Limiter.
type Options struct {
	// Batch is how many tokens one reservation takes; 0 sizes it per limit (AutoBatch).
	Batch int64
	// Timeout bounds a background reservation (the request path uses its own context).
	Timeout time.Duration
	// IdleAfter drops a key's local state (and the tokens it held) after this long unused.
	IdleAfter time.Duration
	Log       *slog.Logger
}

// Limiter decides GCRA limits from locally held tokens and everything else on exact.
type Limiter struct {
	shared Reserver
	exact  state.Limiter
	opt    Options

	mu   sync.RWMutex
	keys map[string]*entry

	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once
}

var _ state.Limiter = (*Limiter)(nil)

// entry is one key's local share of its bucket.
type entry struct {
	mu        sync.Mutex
	held      int64 // tokens taken from the shared bucket and not yet handed out
	emptyTill int64 // Unix ns: the shared bucket had nothing before this; deny without asking
	refilling bool  // a background reservation is in flight
	used      int64 // Unix ns of the last decision, for the idle sweep

	fetch sync.Mutex // one reservation at a time per key, so a node never holds two batches
}

// New returns a Limiter taking tokens from shared and deciding non-GCRA limits on exact.
// Close stops its background sweep.
func New(shared Reserver, exact state.Limiter, opt Options) *Limiter {
	if opt.Timeout <= 0 {
		opt.Timeout = 50 * time.Millisecond
	}
	if opt.IdleAfter <= 0 {
		opt.IdleAfter = time.Minute
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	b := &Limiter{shared: shared, exact: exact, opt: opt, keys: map[string]*entry{}, stop: make(chan struct{})}
	b.wg.Add(1)
	go b.sweep()
	return b
}

// AutoBatch sizes a reservation for l: 1% of a second's tokens (so three nodes holding a
// batch each hold 3% of a second's worth), at least 1, at most 1000 and never more than a
// quarter of the burst (a node must not hold the whole burst).
func AutoBatch(l state.Limit) int64 {
	perSec := float64(l.Count) * float64(time.Second) / float64(l.Period)
	n := int64(perSec / 100)
	return max(min(n, 1000, l.Burst/4), 1)
}

func (b *Limiter) batch(l state.Limit) int64 {
	if b.opt.Batch > 0 {
		return min(b.opt.Batch, l.Burst)
	}
	return AutoBatch(l)
}

// Allow answers from the key's held tokens; with none it reserves a batch on the request's
// context (an error then is the shared store's, for the caller's fallback).
func (b *Limiter) Allow(ctx context.Context, key string, l state.Limit, now time.Time) (state.Decision, error) {
	if l.Algorithm != state.GCRA {
		return b.exact.Allow(ctx, key, l, now)
	}
	e := b.entry(key)
	ns := now.UnixNano()
	k := b.batch(l)
	e.mu.Lock()
	e.used = ns
	if d, ok := e.take(b, key, l, k, ns); ok {
		e.mu.Unlock()
		return d, nil
	}
	e.mu.Unlock()

	// Nothing held: wait for the reservation in flight, or make one.
	e.fetch.Lock()
	defer e.fetch.Unlock()
	e.mu.Lock()
	if d, ok := e.take(b, key, l, k, ns); ok {
		e.mu.Unlock()
		return d, nil
	}
	e.mu.Unlock()
	granted, retry, err := b.shared.Reserve(ctx, key, l, k, now)
	if err != nil {
		return state.Decision{}, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.held += granted
	if granted == 0 {
		e.emptyTill = ns + int64(retry)
		return denied(l, retry), nil
	}
	d, _ := e.take(b, key, l, k, ns)
	return d, nil
}

// take hands out one held token, or denies while the shared bucket is known to be empty;
// ok false means the caller must reserve. It starts the next batch's reservation once half
// of this one is gone. e.mu is held.
func (e *entry) take(b *Limiter, key string, l state.Limit, k, now int64) (state.Decision, bool) {
	if e.held > 0 {
		e.held--
		if e.held <= k/2 && !e.refilling {
			e.refilling = true
			b.wg.Add(1)
			go b.refill(e, key, l, k)
		}
		return state.Decision{Allowed: true, Limit: l.Burst, Remaining: e.held, Reset: time.Duration(l.Interval() * (l.Burst - e.held))}, true
	}
	if now < e.emptyTill {
		return denied(l, time.Duration(e.emptyTill-now)), true
	}
	return state.Decision{}, false
}

func denied(l state.Limit, retry time.Duration) state.Decision {
	return state.Decision{Limit: l.Burst, RetryAfter: retry, Reset: time.Duration(l.Interval()*l.Burst) - time.Duration(l.Interval()) + retry}
}

// refill reserves the next batch in the background. A failure is logged; the request that
// finds no tokens then reserves on its own context, and its error reaches the caller.
func (b *Limiter) refill(e *entry, key string, l state.Limit, k int64) {
	defer b.wg.Done()
	e.fetch.Lock()
	defer e.fetch.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.opt.Timeout)
	defer cancel()
	now := time.Now()
	granted, retry, err := b.shared.Reserve(ctx, key, l, k, now)
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refilling = false
	if err != nil {
		b.opt.Log.Debug("reserving rate-limit tokens in the background failed", "key", key, "error", err)
		return
	}
	e.held += granted
	if granted == 0 {
		e.emptyTill = now.UnixNano() + int64(retry)
	}
}

func (b *Limiter) entry(key string) *entry {
	b.mu.RLock()
	e := b.keys[key]
	b.mu.RUnlock()
	if e != nil {
		return e
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if e = b.keys[key]; e == nil {
		e = &entry{}
		b.keys[string([]byte(key))] = e // key may point into a reused buffer
	}
	return e
}

// sweep drops keys unused for IdleAfter, so per-client keys do not pile up; the tokens they
// held are lost to the cluster until the bucket refills (at most one batch each).
func (b *Limiter) sweep() {
	defer b.wg.Done()
	t := time.NewTicker(b.opt.IdleAfter / 2)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			cut := now.Add(-b.opt.IdleAfter).UnixNano()
			b.mu.Lock()
			for k, e := range b.keys {
				e.mu.Lock()
				idle := e.used < cut && !e.refilling
				e.mu.Unlock()
				if idle {
					delete(b.keys, k)
				}
			}
			b.mu.Unlock()
		}
	}
}

// Close stops the sweep and waits for reservations in flight.
func (b *Limiter) Close() {
	b.once.Do(func() { close(b.stop) })
	b.wg.Wait()
}
