package serve

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// The tiers of a token pool: the four priorities at their tps level, then batch.
const numTiers = batchService + 1

// tokenBurstSeconds sizes a token pool's bucket: ten seconds of the limit. The minute window
// below is what keeps aya under the provider's count; the bucket only spreads the minute, so
// that a flood of cheap calls cannot spend it all in its first second and leave the more
// important calls that come later in the minute nothing but the wait. Ten seconds still lets
// a quiet deployment take a sixth of its minute at once (a client's parallel burst), and is
// long against the pools' other delays (queue_timeout defaults to 2 s).
const tokenBurstSeconds = 10

// batchReserve is the share of the bucket a batch call may not take: batch runs only on spare
// tokens, so an interactive call that arrives while batch drains the bucket still finds some.
const batchReserve = 0.25

// errPoolClosed ends the waits of a pool whose handler stopped.
var errPoolClosed = errors.New("the deployment's capacity pool stopped")

// errPushedOut: a more important call took the waiter's place in a full queue.
var errPushedOut = errors.New("pushed out of the deployment's full queue by a more important call")

// tokenPool admits calls by a weight — their estimated tokens for a deployment's tpm, or one
// per request for a deployment whose rpm is below the tps pools' minimum of one a second —
// under a per-minute limit, with the tiers' priorities: while the weight is short, waiting
// calls are served strictly by tier (critical, high, medium, low), first come first served
// within one, batch last and only from spare weight.
//
// Two rules must both admit a call. The minute window: what was admitted in the current and
// the previous 60 one-second slots, plus the call, stays within the limit, so aya never sends
// more than the limit in any 60 seconds, whether the provider counts in fixed minutes, a
// sliding minute or a bucket of a minute's size. And the bucket: limit/60 per second, holding
// tokenBurstSeconds of it, which spreads the minute (see tokenBurstSeconds). The bucket's level
// may go below zero: a call larger than the bucket is admitted when it is full, and a provider
// that reports more than the estimate leaves a debt; both delay the next admissions.
//
// Waiters block in their own goroutine on a channel; one timer per pool wakes the queue's head
// when it will fit. Every decision looks at no more than the five tiers' heads and, when the
// head does not fit, the window's 61 slots.
//
// In a cluster the pool runs on this node's share of the limit (setLimit, from a cluster lease):
// both rules then use the share, while a call's weight is still bounded by the whole limit.
type tokenPool struct {
	full               float64 // the deployment's limit, per minute
	limit, rate, burst float64 // the limit the pool runs on now (full, or a cluster share)
	queueMax           int
	now                func() time.Time
	arrived            atomic.Uint64 // weight of the calls that came to the pool (admitted or not)

	mu      sync.Mutex
	level   float64
	last    time.Time // of the bucket's level
	win     minuteWindow
	tiers   [numTiers]waitList
	waiting int
	timer   *time.Timer // wakes the head; nil until a call first waits
	closed  bool
	stats   [numTiers]tierStats
}

// tierStats are a tier's weight (tokens or requests) through the pool since it started.
type tierStats struct {
	Admitted, Queued, Refused float64
}

// grant is an admission: what was charged and in which second, for the settlement.
type grant struct {
	n   float64
	sec int64
}

type waiter struct {
	tier       int
	n          float64
	prev, next *waiter
	ready      chan struct{} // receives once the waiter is admitted or refused
	g          grant
	err        error // set with ready: nil when admitted
}

type waitList struct{ head, tail *waiter }

func newTokenPool(perMinute float64, queueMax int, now func() time.Time) *tokenPool {
	p := &tokenPool{full: perMinute, queueMax: queueMax, now: now}
	p.size(perMinute)
	p.level, p.last = p.burst, now()
	p.win.init(p.last.Unix())
	return p
}

func (p *tokenPool) size(perMinute float64) {
	p.limit, p.rate = perMinute, perMinute/60
	p.burst = max(p.rate*tokenBurstSeconds, 1)
}

// setLimit runs the pool on perMinute instead of the deployment's whole limit: a cluster
// node's lease on it. The bucket refills at the new rate and holds tokenBurstSeconds of it (a
// level above that is cut, one below is not raised: a share that grows is used as it refills).
// The minute window keeps what was admitted and admits again only while it is under the new
// limit: a node whose share shrank waits until its own admissions left the minute. That is the
// node's half of the cluster's guarantee; the lease's other half (cluster.Usage) keeps the
// other nodes' shares from counting on room this node's past admissions still take.
func (p *tokenPool) setLimit(perMinute float64) {
	if !(perMinute >= 0) || math.IsInf(perMinute, 0) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now) // what came at the old rate
	p.size(perMinute)
	p.level = min(p.level, p.burst)
	if !p.closed {
		p.dispatch(now) // a larger share may admit the head now; a smaller one moves its timer
	}
}

// inherit takes over old's minute window and bucket level (old is the pool p replaces after a
// reload), so that what old admitted still counts in p's minute. The level is bounded by the
// larger of the two buckets, not p's alone: a cluster's new pool runs on a share of 0 (a bucket
// of one) until its lease comes, and the setLimit that brings it bounds the level by its bucket.
func (p *tokenPool) inherit(old *tokenPool) {
	old.mu.Lock()
	win, level, burst := old.win, old.level, old.burst
	old.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	win.advance(now.Unix())
	p.win, p.level = win, min(level, max(p.burst, burst))
	if !p.closed {
		p.dispatch(now)
	}
}

// used is what the pool admitted in its window (the current second and the 60 before it).
func (p *tokenPool) used() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.win.advance(p.now().Unix())
	return p.win.sum
}

// arrive counts a call of weight n that came to the pool, for the demand a cluster lease is
// sized by; it takes no lock.
func (p *tokenPool) arrive(n float64) { p.arrived.Add(uint64(math.Round(max(n, 1)))) }

// take admits a call of weight n in tier at once if it may go now: no call of its tier or a
// more important one waits, and it fits. It takes the pool's mutex once and allocates nothing.
func (p *tokenPool) take(tier int, n float64) (grant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	n = p.weight(n)
	if p.closed || p.ahead(tier) || !p.fits(tier, n) {
		return grant{}, false
	}
	return p.charge(tier, n, now), true
}

// wait admits a call of weight n in tier, waiting for room until ctx ends (ctx.Err()) or the
// pool stops or a more important call pushes it out of a full queue.
func (p *tokenPool) wait(ctx context.Context, tier int, n float64) (grant, error) {
	if g, ok := p.take(tier, n); ok {
		return g, nil
	}
	p.mu.Lock()
	now := p.now()
	p.refill(now)
	n = p.weight(n)
	switch {
	case p.closed:
		p.mu.Unlock()
		return grant{}, errPoolClosed
	case !p.ahead(tier) && p.fits(tier, n): // room came since take
		g := p.charge(tier, n, now)
		p.mu.Unlock()
		return g, nil
	}
	if p.waiting >= p.queueMax && !p.evictBelow(tier) {
		p.stats[tier].Refused += n
		p.mu.Unlock()
		return grant{}, errPushedOut
	}
	w := &waiter{tier: tier, n: n, ready: make(chan struct{}, 1)}
	p.push(w)
	p.stats[tier].Queued += n
	p.dispatch(now) // the head may have changed: reschedule the timer for the new one
	p.mu.Unlock()
	select {
	case <-w.ready:
		return w.g, w.err
	case <-ctx.Done():
	}
	p.mu.Lock()
	select {
	case <-w.ready: // decided meanwhile: an admission is kept (the caller sees ctx ended)
		p.mu.Unlock()
		return w.g, w.err
	default:
	}
	p.unlink(w)
	p.stats[tier].Refused += n
	p.dispatch(p.now()) // the waiter may have blocked the ones behind it
	p.mu.Unlock()
	return grant{}, ctx.Err()
}

// settle replaces a grant's charge by what the provider reported: an overestimate is refunded
// (to the bucket, and to the window's slot it was charged in while that slot counts), a
// shortfall is charged now, as a debt the next admissions wait for.
func (p *tokenPool) settle(g grant, actual float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	diff := actual - g.n
	p.level = min(p.level-diff, p.burst)
	if diff > 0 {
		p.win.add(now.Unix(), diff)
	} else {
		p.win.refund(now.Unix(), g.sec, -diff)
	}
	if diff < 0 {
		p.dispatch(now)
	}
}

// close refuses every waiting call and every later one.
func (p *tokenPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
	}
	for t := range p.tiers {
		for w := p.tiers[t].head; w != nil; w = p.tiers[t].head {
			p.unlink(w)
			p.stats[t].Refused += w.n
			w.err = errPoolClosed
			w.ready <- struct{}{}
		}
	}
}

// retryIn is how long a call of weight n in tier would wait with nothing else admitted, for a
// refusal's Retry-After.
func (p *tokenPool) retryIn(tier int, n float64) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.now()
	p.refill(now)
	return p.readyIn(tier, p.weight(n), now)
}

// snapshot returns the tiers' counters.
func (p *tokenPool) snapshot() [numTiers]tierStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// weight bounds a call's weight: at least one, and never above the deployment's minute, which
// an empty window then admits (the rest of a larger call becomes debt when it is settled). A
// cluster share smaller than the call admits it only once the share grew to it.
func (p *tokenPool) weight(n float64) float64 { return min(max(n, 1), p.full) }

func (p *tokenPool) refill(now time.Time) {
	if dt := now.Sub(p.last); dt > 0 {
		p.level = min(p.level+dt.Seconds()*p.rate, p.burst)
		p.last = now
	}
	p.win.advance(now.Unix())
}

// ahead reports whether a call of tier or a more important one waits.
func (p *tokenPool) ahead(tier int) bool {
	for t := 0; t <= tier; t++ {
		if p.tiers[t].head != nil {
			return true
		}
	}
	return false
}

// need is the bucket level a call of weight n in tier needs: n, or the whole bucket for a call
// larger than it; batch also leaves batchReserve of the bucket to interactive calls.
func (p *tokenPool) need(tier int, n float64) float64 {
	if tier == batchService {
		return min(n+batchReserve*p.burst, p.burst)
	}
	return min(n, p.burst)
}

func (p *tokenPool) fits(tier int, n float64) bool {
	return p.level >= p.need(tier, n)-1e-9 && p.win.sum+n <= p.limit+1e-9
}

func (p *tokenPool) charge(tier int, n float64, now time.Time) grant {
	p.level -= n
	sec := now.Unix()
	p.win.add(sec, n)
	p.stats[tier].Admitted += n
	return grant{n: n, sec: sec}
}

// dispatch admits waiting calls from the head, most important tier first, while they fit, and
// sets the timer for the first that does not: a head that does not fit blocks every call
// behind it, so a large important call is not starved by small later ones.
func (p *tokenPool) dispatch(now time.Time) {
	for t := range p.tiers {
		for w := p.tiers[t].head; w != nil; w = p.tiers[t].head {
			if !p.fits(t, w.n) {
				p.wakeIn(p.readyIn(t, w.n, now))
				return
			}
			p.unlink(w)
			w.g = p.charge(t, w.n, now)
			w.ready <- struct{}{}
		}
	}
}

// readyIn is how long until a call of weight n in tier fits, if nothing else is admitted.
func (p *tokenPool) readyIn(tier int, n float64, now time.Time) time.Duration {
	var d time.Duration
	if short := p.need(tier, n) - p.level; short > 0 {
		d = maxReadyIn
		if secs := short / p.rate; secs < maxReadyIn.Seconds() {
			d = time.Duration(math.Ceil(secs * float64(time.Second)))
		}
	}
	if at := p.win.roomAt(n, p.limit); at > now.Unix() {
		d = max(d, time.Unix(at, 0).Sub(now))
	}
	return min(max(d, time.Millisecond), maxReadyIn)
}

func (p *tokenPool) wakeIn(d time.Duration) {
	if p.timer == nil {
		p.timer = time.AfterFunc(d, p.fire)
		return
	}
	p.timer.Reset(d)
}

func (p *tokenPool) fire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	now := p.now()
	p.refill(now)
	p.dispatch(now)
}

func (p *tokenPool) push(w *waiter) {
	l := &p.tiers[w.tier]
	w.prev = l.tail
	if l.tail != nil {
		l.tail.next = w
	} else {
		l.head = w
	}
	l.tail = w
	p.waiting++
}

func (p *tokenPool) unlink(w *waiter) {
	l := &p.tiers[w.tier]
	if w.prev != nil {
		w.prev.next = w.next
	} else {
		l.head = w.next
	}
	if w.next != nil {
		w.next.prev = w.prev
	} else {
		l.tail = w.prev
	}
	w.prev, w.next = nil, nil
	p.waiting--
}

// evictBelow makes room in a full queue for a call of tier by refusing the newest waiter of the
// least important tier below it; false when there is none.
func (p *tokenPool) evictBelow(tier int) bool {
	for t := numTiers - 1; t > tier; t-- {
		if w := p.tiers[t].tail; w != nil {
			p.unlink(w)
			p.stats[t].Refused += w.n
			w.err = errPushedOut
			w.ready <- struct{}{}
			return true
		}
	}
	return false
}

// maxReadyIn bounds a wait the pool computes: on its whole limit none is longer (the bucket
// refills in tokenBurstSeconds, the window empties in windowSlots seconds), while a cluster
// share of 0, or one smaller than the call, admits only once setLimit gives more (which
// reschedules the wait).
const maxReadyIn = windowSlots * time.Second

// windowSlots: the current second and the 60 before it, so that any 60 seconds of admissions
// fall within the slots counted at the last of them.
const windowSlots = 61

// minuteWindow sums what was admitted per second over the last windowSlots seconds.
type minuteWindow struct {
	slots [windowSlots]float64
	head  int64 // the newest second the slots hold
	sum   float64
}

func (w *minuteWindow) init(sec int64) { w.head = sec }

// advance moves the window to sec, dropping the seconds that left it.
func (w *minuteWindow) advance(sec int64) {
	if sec <= w.head {
		return
	}
	if sec-w.head >= windowSlots {
		w.slots, w.sum, w.head = [windowSlots]float64{}, 0, sec
		return
	}
	for s := w.head + 1; s <= sec; s++ {
		i := s % windowSlots
		w.sum -= w.slots[i]
		w.slots[i] = 0
	}
	w.head = sec
	if w.sum < 1e-9 {
		w.sum = 0
	}
}

func (w *minuteWindow) add(sec int64, n float64) {
	w.advance(sec)
	w.slots[w.head%windowSlots] += n
	w.sum += n
}

// refund takes n back from the slot of second sec while it is still in the window (now is the
// current second); a slot that left the window has nothing to give back.
func (w *minuteWindow) refund(now, sec int64, n float64) {
	w.advance(now)
	if sec > w.head || w.head-sec >= windowSlots {
		return
	}
	i := sec % windowSlots
	n = min(n, w.slots[i])
	w.slots[i] -= n
	w.sum -= n
}

// roomAt is the first second at which n more fits under limit, as the oldest seconds leave.
func (w *minuteWindow) roomAt(n, limit float64) int64 {
	over := w.sum + n - limit
	if over <= 1e-9 {
		return w.head
	}
	for age := int64(windowSlots - 1); age >= 0; age-- {
		s := w.head - age
		over -= w.slots[s%windowSlots]
		if over <= 1e-9 {
			return s + windowSlots // second s leaves the window then
		}
	}
	return w.head + windowSlots
}
