package state

import (
	"time"
)

// Cell is one key's counting state. Its meaning depends on the algorithm; a zero Cell is a key
// never seen. Stores keep cells and call Decide under their per-key atomicity.
type Cell struct {
	// GCRA: A is the theoretical arrival time (Unix ns).
	// FixedWindow: A is the window's start, B its count.
	// SlidingWindow: A is the current window's start, B its count, C the previous window's.
	// SlidingLog: B is the index of the oldest time in Log, C how many times Log holds.
	A, B, C int64
	// Log is SlidingLog's ring of request times (Unix ns), Count long.
	Log []int64
}

// Decide answers one request at now (Unix ns) and updates c when it is allowed. expires is
// when c is back to the state of a fresh key, so a store may drop it from then on.
// l must be valid (Validate).
func (l *Limit) Decide(c *Cell, now int64) (d Decision, expires int64) {
	switch l.Algorithm {
	case FixedWindow:
		return l.fixedWindow(c, now)
	case SlidingWindow:
		return l.slidingWindow(c, now)
	case SlidingLog:
		return l.slidingLog(c, now)
	}
	return l.gcra(c, now)
}

// Interval is GCRA's emission interval: the time one token takes to refill, at least 1ns.
func (l *Limit) Interval() int64 {
	return max(int64(l.Period)/l.Count, 1)
}

// gcra: a request is allowed when, after it, the bucket's debt (TAT-now) fits in Burst
// intervals. A denied request changes nothing, so a client hammering a full bucket does not
// push its own retry time further out.
func (l *Limit) gcra(c *Cell, now int64) (Decision, int64) {
	t := l.Interval()
	tau := t * l.Burst
	tat := max(c.A, now)
	next := tat + t
	d := Decision{Limit: l.Burst}
	if next-now > tau {
		d.RetryAfter = time.Duration(next - now - tau)
		d.Reset = time.Duration(tat - now)
		return d, tat
	}
	c.A = next
	d.Allowed = true
	d.Remaining = (tau - (next - now)) / t
	d.Reset = time.Duration(next - now)
	return d, next
}

// Window returns the fixed window holding now (Unix ns): [start, end). Stores that count
// elsewhere (Redis) use it so every store agrees on where windows begin.
func (l *Limit) Window(now int64) (start, end int64) {
	if l.Monthly {
		t := time.Unix(0, now).UTC()
		y, m, _ := t.Date()
		return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC).UnixNano(), time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	}
	p := int64(l.Period)
	start = now - now%p
	if now < 0 && now%p != 0 {
		start -= p
	}
	return start, start + p
}

func (l *Limit) fixedWindow(c *Cell, now int64) (Decision, int64) {
	start, end := l.Window(now)
	if c.A != start {
		c.A, c.B = start, 0
	}
	d := Decision{Limit: l.Count, Reset: time.Duration(end - now)}
	if c.B >= l.Count {
		d.RetryAfter = d.Reset
		return d, end
	}
	c.B++
	d.Allowed = true
	d.Remaining = l.Count - c.B
	return d, end
}

// slidingWindow estimates the requests in the last Period as the current window's count plus
// the previous window's, weighted by the share of it the sliding window still covers.
func (l *Limit) slidingWindow(c *Cell, now int64) (Decision, int64) {
	p := int64(l.Period)
	start, end := l.Window(now)
	if c.A != start {
		prev := int64(0)
		if c.A == start-p {
			prev = c.B
		}
		c.A, c.B, c.C = start, 0, prev
	}
	weight := float64(end-now) / float64(p) // share of the previous window still covered
	est := float64(c.C)*weight + float64(c.B)
	d := Decision{Limit: l.Count, Reset: time.Duration(end - now)}
	room := float64(l.Count - 1) // the estimate must stay at most this before the request
	if est > room {
		d.RetryAfter = time.Duration(l.slidingRetry(c, now, end, room))
		return d, end + p
	}
	c.B++
	d.Allowed = true
	d.Remaining = max(int64(float64(l.Count)-est-1), 0)
	return d, end + p
}

// slidingRetry is how long until the estimate falls to room, as the previous window's weight
// shrinks (in this window, or in the next one with this window's count as the previous).
func (l *Limit) slidingRetry(c *Cell, now, end int64, room float64) int64 {
	p := float64(l.Period)
	if cur := float64(c.B); cur <= room && c.C > 0 {
		// C·(end-t)/p + cur ≤ room  ⇔  t ≥ end - p·(room-cur)/C
		// (offsets from end, since Unix ns do not fit a float64's mantissa)
		return max(end-now-int64(p*(room-cur)/float64(c.C)), 1)
	}
	// In the next window: B·(end+p-t)/p ≤ room.
	return max(end-now+int64(p-p*room/float64(c.B)), 1)
}

func (l *Limit) slidingLog(c *Cell, now int64) (Decision, int64) {
	n := l.Count
	if int64(len(c.Log)) != n {
		c.Log, c.B, c.C = make([]int64, n), 0, 0
	}
	p := int64(l.Period)
	for c.C > 0 && c.Log[c.B] <= now-p {
		c.B = (c.B + 1) % n
		c.C--
	}
	d := Decision{Limit: n}
	newest := now
	if c.C > 0 {
		newest = c.Log[(c.B+c.C-1)%n]
	}
	if c.C >= n {
		d.RetryAfter = time.Duration(c.Log[c.B] + p - now)
		d.Reset = time.Duration(newest + p - now)
		return d, newest + p
	}
	c.Log[(c.B+c.C)%n] = now
	c.C++
	d.Allowed = true
	d.Remaining = n - c.C
	d.Reset = time.Duration(p)
	return d, now + p
}
