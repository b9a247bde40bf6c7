package tps

import (
	"math"
	"time"
)

// Feedback from the upstream moves the pool's effective capacity below its configured one:
//
//   - an upstream 429 means the real cap is lower than configured (or other clients share it):
//     the capacity drops multiplicatively, from what was actually sent in the last second,
//     at most once per second (the upstream's window still holds requests sent before the
//     drop, so 429s keep coming for up to a second even when the new rate is right). A
//     Retry-After stops all admissions until it passes (capped at maxPause);
//   - without 429s the capacity probes back up additively, to the configured cap;
//   - rate-limit headers (remaining requests until a reset) cap the capacity at
//     remaining/reset until that reset.
const (
	decreaseFactor = 0.8              // multiplicative decrease on upstream 429s
	decreaseGap    = time.Second      // at most one decrease per window length
	increasePerSec = 0.02             // additive increase, fraction of the cap per second
	floorFraction  = 0.05             // the decrease never goes below this fraction of the cap
	maxPause       = 60 * time.Second // longest Retry-After honoured
)

type capState struct {
	base          float64       // capacity × (1 − margin)
	aimdCap       float64       // after multiplicative decreases and additive probes
	headroomCap   float64       // from rate-limit headers, until headroomUntil
	headroomUntil time.Duration // 0: no headroom report in force
	effective     float64       // min of the above: Observation.Capacity
	pausedUntil   time.Duration // no admissions before this (Retry-After)
	lastDecrease  time.Duration
	decreased     bool
	tick429       int
	total429      uint64
}

func newCapState(base float64) capState {
	return capState{base: base, aimdCap: base, effective: base}
}

// windowLimit is the exact per-second admission cap for the current effective capacity.
func (p *Pool) windowLimit() int64 { return p.windowLimitOf(p.effective) }

func (p *Pool) windowLimitOf(capacity float64) int64 { return int64(math.Floor(capacity + 1e-9)) }

// refreshCapacity recomputes the effective capacity at now and the window cap with it.
func (p *Pool) refreshCapacity(now time.Duration) {
	eff := math.Min(p.base, p.aimdCap)
	if p.headroomUntil > 0 {
		if now < p.headroomUntil {
			eff = math.Min(eff, p.headroomCap)
		} else {
			p.headroomUntil = 0
		}
	}
	p.effective = eff
	p.win.limit = p.windowLimit()
}

// probe is the additive increase, run at every tick without 429s once a second has passed
// since the last decrease and any Retry-After is over.
func (p *Pool) probe(now, elapsed time.Duration) {
	if p.tick429 > 0 || now < p.pausedUntil || (p.decreased && now-p.lastDecrease < decreaseGap) {
		return
	}
	p.aimdCap = math.Min(p.base, p.aimdCap+p.base*increasePerSec*elapsed.Seconds())
}

// Record429 reports that the upstream answered 429 at now, with its Retry-After (0 if none).
func (p *Pool) Record429(now, retryAfter time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now = p.observe(now)
	p.tick429++
	p.total429++
	if !p.decreased || now-p.lastDecrease >= decreaseGap {
		p.win.advance(now)
		sent := math.Min(p.aimdCap, float64(p.win.lastSecond()))
		p.aimdCap = math.Max(p.base*floorFraction, sent*decreaseFactor)
		p.lastDecrease, p.decreased = now, true
	}
	if retryAfter > 0 {
		p.pausedUntil = max(p.pausedUntil, now+min(retryAfter, maxPause))
	}
	p.refreshCapacity(now)
	p.recomputeNext()
}

// RecordHeadroom reports the upstream's own count at now: remaining requests allowed until
// its window resets after reset (from RateLimit-Remaining/-Reset, X-RateLimit-Remaining…,
// parsed by the caller). Until then the effective capacity is at most remaining/reset; a
// report with reset ≤ 0 is taken as a one-second window.
func (p *Pool) RecordHeadroom(now time.Duration, remaining float64, reset time.Duration) {
	if !(remaining >= 0) {
		return
	}
	if reset <= 0 {
		reset = time.Second
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now = p.observe(now)
	p.headroomCap = remaining / reset.Seconds()
	p.headroomUntil = now + reset
	p.refreshCapacity(now)
	p.recomputeNext()
}
