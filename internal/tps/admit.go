package tps

import "time"

// Decision is what happens to an arriving request.
type Decision uint8

const (
	// Admitted: send it now.
	Admitted Decision = iota
	// Queued: it waits; Advance reports later whether it was released or rejected.
	Queued
	// Rejected: answer 429 now (the queue is full of requests at least as important).
	Rejected
)

func (d Decision) String() string {
	switch d {
	case Admitted:
		return "admitted"
	case Queued:
		return "queued"
	case Rejected:
		return "rejected"
	}
	return "decision(?)"
}

// Ticket names one queued request until its Outcome is reported.
type Ticket struct {
	slot int32
	gen  uint32
}

// Outcome is how a queued request left the queue.
type Outcome struct {
	Ticket   Ticket
	Service  int
	Admitted bool          // released (send it now); false: rejected (429)
	Arrived  time.Duration // when it arrived
	At       time.Duration // when it was released or rejected
}

// Arrive decides the fate of a request of service svc (an index into the config's Services)
// arriving at now, on the fast path when it can: admitted at once if the service has nobody
// queued, the pool-wide window has room and the service has a token, can borrow an idle one
// from a service of the same or a less important priority, or can take one of the shared
// capacity. Otherwise it queues (evicting the newest request of the least important level
// below its own if the queue is full) or is rejected. A queued request's Outcome comes from
// Advance.
func (p *Pool) Arrive(svc int, now time.Duration) (Decision, Ticket) {
	p.mu.Lock()
	d, slot := p.arriveLocked(svc, now, false)
	var t Ticket
	if d == Queued {
		t = Ticket{slot: slot, gen: p.q.slots[slot].gen}
	}
	p.mu.Unlock()
	return d, t
}

// Advance releases and expires queued requests at now and returns, appended to dst, the
// outcomes of the requests queued by Arrive that left the queue since the last call, in the
// order they left. Call it at NextEvent (and at any time; it is cheap when nothing is due).
func (p *Pool) Advance(now time.Duration, dst []Outcome) []Outcome {
	p.mu.Lock()
	p.advanceLocked(p.observe(now))
	dst = append(dst, p.outcomes...)
	p.outcomes = p.outcomes[:0]
	p.mu.Unlock()
	return dst
}

// NextEvent is the earliest time at which Advance may release or reject a queued request,
// Never when nothing waits. It ignores ticks: the caller calls Tick every cfg.Tick anyway. It
// is exact for the state at the last call (it never comes later than the event), but arrivals
// and feedback in between can only delay events, so calling Advance at the time it gave is
// always safe and at most a no-op.
func (p *Pool) NextEvent() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.next
}

// Cancel takes a queued request out of the queue (its client gave up). It reports false when
// the ticket is no longer waiting; its outcome is then (or was) reported by Advance.
func (p *Pool) Cancel(t Ticket, now time.Duration) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.observe(now)
	if t.slot < 0 || int(t.slot) >= len(p.q.slots) {
		return false
	}
	w := &p.q.slots[t.slot]
	if w.gen != t.gen || w.state != slotWaiting {
		return false
	}
	p.total[w.svc].cancelled++
	p.q.unlink(t.slot)
	p.q.release(t.slot)
	p.recomputeNext()
	return true
}

func (p *Pool) arriveLocked(svc int, now time.Duration, live bool) (Decision, int32) {
	now = p.observe(now)
	if now >= p.next {
		p.advanceLocked(now)
	}
	p.tickCnt[svc].arrived++
	p.total[svc].arrived++
	if p.q.length[svc] == 0 && now >= p.pausedUntil {
		p.win.advance(now)
		if p.win.room() {
			if from := p.source(svc, now); from >= 0 {
				p.buckets[from].tokens--
				p.admit(svc)
				return Admitted, -1
			}
		}
	}
	if p.closed {
		p.reject(svc)
		return Rejected, -1
	}
	if p.q.waiting >= p.cfg.QueueMax && !p.evict(p.cfg.Services[svc].Priority, now) {
		p.reject(svc)
		return Rejected, -1
	}
	slot := p.q.push(svc, now, now+p.cfg.QueueTimeout, live)
	p.recomputeNext()
	return Queued, slot
}

func (p *Pool) admit(svc int) {
	p.win.add()
	p.tickCnt[svc].served++
	p.total[svc].served++
}

func (p *Pool) reject(svc int) {
	p.tickCnt[svc].rejected++
	p.total[svc].rejected++
}

// source picks the bucket a request of svc takes its token from, -1 if none has one: its own
// bucket; else an idle bucket (full, nothing queued: its tokens would be thrown away) of a
// service of the same or a less important level, least important first, never a more
// important one; else the pool's shared capacity (what the allocator gave nobody). The
// buckets it reads are refilled to now.
func (p *Pool) source(svc int, now time.Duration) int {
	own := &p.buckets[svc]
	own.refill(now)
	if own.has() {
		return svc
	}
	for lvl := int(numPriorities) - 1; lvl >= int(p.cfg.Services[svc].Priority); lvl-- {
		for _, l := range p.byLevel[lvl] {
			if l == svc || p.q.length[l] > 0 {
				continue
			}
			b := &p.buckets[l]
			b.refill(now)
			if b.idle() {
				return l
			}
		}
	}
	shared := &p.buckets[p.sharedBucket()]
	shared.refill(now)
	if shared.has() {
		return p.sharedBucket()
	}
	return -1
}

// sharedBucket is the index of the bucket of the capacity no service was given; any request
// may use it, most important waiting first.
func (p *Pool) sharedBucket() int { return len(p.cfg.Services) }

// evict makes room for a request of priority pr in a full queue by rejecting the newest
// request of the least important level below pr, taken from that level's longest queue (so
// shedding within a level is fair). It reports false when nobody less important waits.
func (p *Pool) evict(pr Priority, now time.Duration) bool {
	for lvl := int(numPriorities) - 1; lvl > int(pr); lvl-- {
		victim := -1
		for _, s := range p.byLevel[lvl] {
			if p.q.length[s] > 0 && (victim < 0 || p.q.length[s] > p.q.length[victim]) {
				victim = s
			}
		}
		if victim >= 0 {
			p.finish(p.q.tail[victim], false, reasonEvicted, now)
			return true
		}
	}
	return false
}

// finish takes a waiting request out of the queue with its outcome and tells whoever waits.
func (p *Pool) finish(slot int32, admitted bool, why rejectReason, now time.Duration) {
	w := &p.q.slots[slot]
	svc := w.svc
	p.q.unlink(slot)
	w.admitted, w.reason = admitted, why
	if admitted {
		p.admit(svc)
	} else {
		p.reject(svc)
	}
	if w.live {
		w.ch <- admitted // buffered, one send per use: never blocks
		return
	}
	p.outcomes = append(p.outcomes, Outcome{
		Ticket: Ticket{slot: slot, gen: w.gen}, Service: svc, Admitted: admitted, Arrived: w.arrived, At: now,
	})
	p.q.release(slot)
}

// advanceLocked releases every queued request that can go at now, most important level first
// and oldest first within a level, then rejects those whose deadline has come.
func (p *Pool) advanceLocked(now time.Duration) {
	p.win.advance(now)
	if p.headroomUntil > 0 && now >= p.headroomUntil {
		p.refreshCapacity(now)
	}
	if p.q.waiting > 0 {
		for i := range p.buckets {
			p.buckets[i].refill(now)
		}
		for now >= p.pausedUntil && p.win.room() && p.releaseOne(now) {
		}
		for s := range p.q.head {
			for h := p.q.head[s]; h >= 0 && p.q.slots[h].deadline <= now; h = p.q.head[s] {
				p.finish(h, false, reasonDeadline, now)
			}
		}
	}
	p.recomputeNext()
}

// releaseOne releases the best releasable head, if any: most important level first; within a
// level the one that arrived first among those that can get a token (see source). A head that
// cannot does not block the others.
func (p *Pool) releaseOne(now time.Duration) bool {
	for _, lvl := range p.byLevel {
		best, from := -1, -1
		for _, s := range lvl {
			h := p.q.head[s]
			if h < 0 || (best >= 0 && p.q.slots[h].arrived >= p.q.slots[p.q.head[best]].arrived) {
				continue
			}
			if f := p.source(s, now); f >= 0 {
				best, from = s, f
			}
		}
		if best >= 0 {
			p.buckets[from].tokens--
			p.finish(p.q.head[best], true, reasonNone, now)
			return true
		}
	}
	return false
}

// recomputeNext caches the earliest time a queued request may be released or must be
// rejected, given the current tokens, rates, window and pauses.
func (p *Pool) recomputeNext() {
	if p.q.waiting == 0 {
		p.next = Never
		return
	}
	gate := max(p.win.freeAt(p.now), p.pausedUntil)
	if p.headroomUntil > 0 {
		// The headroom report expires then and the window cap may rise with it.
		gate = min(gate, max(p.headroomUntil, p.pausedUntil))
	}
	next := Never
	for s, h := range p.q.head {
		if h < 0 {
			continue
		}
		next = min(next, p.q.slots[h].deadline)
		t := min(p.buckets[s].at(1), p.buckets[p.sharedBucket()].at(1))
		for lvl := int(numPriorities) - 1; lvl >= int(p.cfg.Services[s].Priority); lvl-- {
			for _, l := range p.byLevel[lvl] {
				if l != s && p.q.length[l] == 0 && p.buckets[l].burst >= 1 {
					t = min(t, p.buckets[l].at(p.buckets[l].burst))
				}
			}
		}
		if t != Never {
			next = min(next, max(t, gate))
		}
	}
	p.next = max(next, p.now)
}
