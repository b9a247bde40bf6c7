package sim

import "time"

// Upstream is the simulated partner: it accepts at most Cap requests in any sliding window of
// one second and answers 429 to the rest, which do not count against the window (a rejected
// request costs the partner nothing). It keeps the times of the last Cap accepted requests in
// a ring, so each check is exact and O(1).
type Upstream struct {
	ring      []time.Duration
	next      int // index of the oldest of the last Cap acceptances once the ring is full
	full      bool
	accepted  int
	throttled int
}

// NewUpstream makes an upstream with a cap of capacity requests per second (fractions are
// dropped: a cap of 1500.9 admits 1500).
func NewUpstream(capacity float64) *Upstream {
	return &Upstream{ring: make([]time.Duration, max(int(capacity), 0))}
}

// Send delivers one request at time at (non-decreasing across calls) and reports whether
// the upstream accepted it; false is a 429.
func (u *Upstream) Send(at time.Duration) bool {
	if len(u.ring) == 0 {
		u.throttled++
		return false
	}
	// The window is (at-1s, at]: the oldest of the last Cap acceptances leaves it exactly one
	// second after it arrived.
	if u.full && u.ring[u.next] > at-time.Second {
		u.throttled++
		return false
	}
	u.ring[u.next] = at
	u.next++
	if u.next == len(u.ring) {
		u.next = 0
		u.full = true
	}
	u.accepted++
	return true
}

// Accepted is how many requests the upstream served.
func (u *Upstream) Accepted() int { return u.accepted }

// Throttled is how many requests the upstream answered with 429.
func (u *Upstream) Throttled() int { return u.throttled }
