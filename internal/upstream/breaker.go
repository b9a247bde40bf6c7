package upstream

import (
	"sync/atomic"
	"time"

	"aya/internal/config"
)

// Breaker states.
const (
	breakerClosed int32 = iota
	breakerOpen
	breakerHalfOpen
)

// windowBuckets is how many buckets a breaker's window is cut into: the window slides by a
// tenth of itself, so an old burst of errors stops counting within a tenth of the window.
const windowBuckets = 10

// Breaker is a circuit breaker: closed, it counts requests and failures over a sliding window
// and opens when failures (and, with a latency threshold, slow answers) reach the error ratio;
// open, it refuses everything for the open duration; then half-open, it lets a few probes
// through, closing when they all succeed and opening again at the first failure.
//
// Counting is lock-free: a bucket that comes round again is reset by whoever sees it first,
// and a request counted into it in that instant may be lost; a breaker needs proportions,
// not exact counts.
type Breaker struct {
	cfg      atomic.Pointer[breakerSettings]
	state    atomic.Int32
	openedAt atomic.Int64 // nanotime the breaker last opened
	permits  atomic.Int64 // half-open probes handed out
	passed   atomic.Int64 // half-open probes that succeeded
	win      window
	// onChange is called after every state change (to refresh a pool's available set).
	onChange func()
}

// window counts events, and how many of them were bad, over a sliding window of buckets.
type window [windowBuckets]bucket

type bucket struct {
	start  atomic.Int64
	total  atomic.Int64
	failed atomic.Int64
}

// add counts one event at now into buckets span nanoseconds wide.
func (w *window) add(now, span int64, bad bool) {
	start := now - now%span
	bk := &w[(now/span)%windowBuckets]
	if s := bk.start.Load(); s != start && bk.start.CompareAndSwap(s, start) {
		bk.total.Store(0)
		bk.failed.Store(0)
	}
	bk.total.Add(1)
	if bad {
		bk.failed.Add(1)
	}
}

// sum returns the counts of the buckets still inside the window at now.
func (w *window) sum(now, span int64) (total, failed int64) {
	oldest := now - now%span - (windowBuckets-1)*span
	for i := range w {
		bk := &w[i]
		if s := bk.start.Load(); s >= oldest && s <= now {
			total += bk.total.Load()
			failed += bk.failed.Load()
		}
	}
	return total, failed
}

func (w *window) reset() {
	for i := range w {
		w[i].start.Store(0)
		w[i].total.Store(0)
		w[i].failed.Store(0)
	}
}

type breakerSettings struct {
	ratio    float64
	min      int64
	latency  time.Duration // 0: not judged
	open     int64         // ns
	probes   int64
	bucketNs int64
}

func newBreakerSettings(c *config.CircuitBreaker) *breakerSettings {
	return &breakerSettings{
		ratio:    float64(c.ErrorRatio),
		min:      int64(c.MinRequests),
		latency:  c.Latency.D(),
		open:     int64(c.OpenDuration),
		probes:   int64(c.HalfOpenRequests),
		bucketNs: max(int64(c.Window)/windowBuckets, 1),
	}
}

// configure sets the thresholds; nil turns the breaker off (it closes and stays closed).
func (b *Breaker) configure(c *config.CircuitBreaker) {
	if c == nil {
		b.cfg.Store(nil)
		if b.state.Swap(breakerClosed) != breakerClosed && b.onChange != nil {
			b.onChange()
		}
		return
	}
	b.cfg.Store(newBreakerSettings(c))
}

// Allow reports whether a request may go through at now. In half-open state it hands out
// one of the probe permits. An open breaker whose time is up turns half-open here.
func (b *Breaker) Allow(now int64) bool {
	cfg := b.cfg.Load()
	if cfg == nil {
		return true
	}
	switch b.state.Load() {
	case breakerClosed:
		return true
	case breakerOpen:
		if !b.expire(now) && b.state.Load() != breakerHalfOpen {
			return false
		}
	}
	return b.permits.Add(1) <= cfg.probes
}

// expire turns an open breaker half-open once its open duration has passed at now, and
// reports whether this call did it.
func (b *Breaker) expire(now int64) bool {
	cfg := b.cfg.Load()
	if cfg == nil || now-b.openedAt.Load() < cfg.open || !b.state.CompareAndSwap(breakerOpen, breakerHalfOpen) {
		return false
	}
	if b.onChange != nil {
		b.onChange()
	}
	return true
}

// Record counts one finished request at now: failed for an error or 5xx, latency to judge
// slowness. It reports whether this request opened the breaker.
func (b *Breaker) Record(now int64, failed bool, latency time.Duration) bool {
	cfg := b.cfg.Load()
	if cfg == nil {
		return false
	}
	bad := failed || cfg.latency > 0 && latency > cfg.latency
	switch b.state.Load() {
	case breakerHalfOpen:
		if bad {
			return b.trip(breakerHalfOpen, now)
		}
		if b.passed.Add(1) >= cfg.probes && b.state.CompareAndSwap(breakerHalfOpen, breakerClosed) {
			b.win.reset()
			if b.onChange != nil {
				b.onChange()
			}
		}
		return false
	case breakerOpen:
		return false // answers to requests let through before it opened
	}
	b.win.add(now, cfg.bucketNs, bad)
	if !bad {
		return false
	}
	total, failures := b.win.sum(now, cfg.bucketNs)
	if total >= cfg.min && float64(failures) >= cfg.ratio*float64(total) {
		return b.trip(breakerClosed, now)
	}
	return false
}

func (b *Breaker) trip(from int32, now int64) bool {
	b.openedAt.Store(now)
	if !b.state.CompareAndSwap(from, breakerOpen) {
		return false
	}
	// Permits are reset while open, when nobody takes them, so half-open starts clean.
	b.permits.Store(0)
	b.passed.Store(0)
	if b.onChange != nil {
		b.onChange()
	}
	return true
}

// RetryAfter is how long an open breaker at now stays open (0 when it is not open).
func (b *Breaker) RetryAfter(now int64) time.Duration {
	cfg := b.cfg.Load()
	if cfg == nil || b.state.Load() != breakerOpen {
		return 0
	}
	return max(time.Duration(cfg.open-(now-b.openedAt.Load())), 0)
}

// State names the breaker's state: "closed", "open" or "half_open".
func (b *Breaker) State() string {
	switch b.state.Load() {
	case breakerOpen:
		return "open"
	case breakerHalfOpen:
		return "half_open"
	}
	return "closed"
}
