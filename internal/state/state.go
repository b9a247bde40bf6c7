// Package state is the shared-state engine behind aya's limits: it decides, atomically per key,
// whether one more request fits a rate limit or quota. The memory implementation
// (internal/state/memory) serves one process; a Redis implementation serves a cluster of
// nodes with the same interface, one round trip per decision.
//
// The algorithms live here as pure functions over a Cell, so every store computes the same
// answers; a store only adds where cells are kept and how a decision on one is made atomic.
//
// It is a leaf: it must not know about HTTP, routes, consumers or config. Callers build the
// key (which consumer, which IP, which policy) and the Limit.
package state

import (
	"context"
	"fmt"
	"time"
)

// Limiter decides whether one request under key fits limit at now, and records it when it does.
// Decisions on one key are atomic: concurrent callers never both take the last token.
//
// key is only read during the call (it may point into a reused buffer); an implementation
// that keeps it copies it. A store that keeps its own clock (Redis, so that nodes agree) may
// use that instead of now.
type Limiter interface {
	Allow(ctx context.Context, key string, limit Limit, now time.Time) (Decision, error)
}

// Algorithm picks how a Limit counts.
type Algorithm uint8

const (
	// GCRA is the token bucket kept as one timestamp (the theoretical arrival time): Burst
	// requests pass at once, then Count per Period. It is the default; TokenBucket names the
	// same algorithm.
	GCRA Algorithm = iota
	// FixedWindow allows Count requests in each Period-long window aligned to the Unix epoch
	// (so day windows start at 00:00 UTC), or in each UTC calendar month with Monthly.
	FixedWindow
	// SlidingWindow approximates a window that slides with time: the previous fixed window's
	// count, weighted by how much of it still overlaps, plus the current one's.
	SlidingWindow
	// SlidingLog keeps the time of every request in the last Period: exact, and it costs
	// 8 bytes per allowed request per key, so Count is bounded (MaxLogCount).
	SlidingLog
)

// TokenBucket is GCRA: a token bucket of Burst tokens refilled at Count per Period.
const TokenBucket = GCRA

// MaxLogCount bounds SlidingLog's Count, since every key keeps Count timestamps.
const MaxLogCount = 10000

// maxPeriod bounds Period so that nanosecond arithmetic (Period·Burst) cannot overflow.
const maxPeriod = 400 * 24 * time.Hour

var algorithmNames = [...]string{GCRA: "gcra", FixedWindow: "fixed_window", SlidingWindow: "sliding_window", SlidingLog: "sliding_log"}

func (a Algorithm) String() string {
	if int(a) < len(algorithmNames) {
		return algorithmNames[a]
	}
	return fmt.Sprintf("algorithm(%d)", uint8(a))
}

// ParseAlgorithm reads an algorithm's config name; "token_bucket" is GCRA.
func ParseAlgorithm(s string) (Algorithm, error) {
	if s == "token_bucket" {
		return GCRA, nil
	}
	for i, n := range algorithmNames {
		if s == n {
			return Algorithm(i), nil
		}
	}
	return 0, fmt.Errorf("unknown rate-limit algorithm %q: use gcra, token_bucket, fixed_window, sliding_window or sliding_log", s)
}

// Limit is what one key may do: Count requests per Period, counted by Algorithm.
type Limit struct {
	Algorithm Algorithm
	// Count is the refill (GCRA: Count tokens per Period) or a window's allowance.
	Count int64
	// Period is the refill period or the window's length; ignored when Monthly.
	Period time.Duration
	// Burst is GCRA's bucket size, how many requests may pass back to back; the windows
	// ignore it.
	Burst int64
	// Monthly makes FixedWindow count per UTC calendar month (quotas per month).
	Monthly bool
}

// Validate reports a limit no store can enforce, naming the field to fix.
func (l Limit) Validate() error {
	switch {
	case l.Algorithm > SlidingLog:
		return fmt.Errorf("unknown algorithm %d", l.Algorithm)
	case l.Count < 1:
		return fmt.Errorf("count %d: a limit allows at least 1 request per period", l.Count)
	case l.Monthly && l.Algorithm != FixedWindow:
		return fmt.Errorf("monthly limits are fixed windows, not %s", l.Algorithm)
	case !l.Monthly && (l.Period <= 0 || l.Period > maxPeriod):
		return fmt.Errorf("period %v: want from 1ns to %v (use Monthly for calendar months)", l.Period, maxPeriod)
	case l.Algorithm == GCRA && (l.Burst < 1 || l.Burst > 1e9):
		return fmt.Errorf("burst %d: want from 1 to 1e9", l.Burst)
	case l.Algorithm == SlidingLog && l.Count > MaxLogCount:
		return fmt.Errorf("count %d: sliding_log keeps every request's time, so at most %d per period; use sliding_window for more", l.Count, MaxLogCount)
	}
	return nil
}

// Decision is a limiter's answer, with what the IETF RateLimit headers report.
type Decision struct {
	Allowed bool
	// Limit is the most requests that can pass at once: the burst (GCRA) or the window's Count.
	Limit int64
	// Remaining is how many more requests would pass right now.
	Remaining int64
	// Reset is how long until the full Limit is available again.
	Reset time.Duration
	// RetryAfter is, for a denied request, how long until one request would pass; 0 when allowed.
	RetryAfter time.Duration
}
