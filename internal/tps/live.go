package tps

import (
	"context"
	"fmt"
	"time"
)

// RejectedError is Admit's answer when a request must get 429 from aya.
type RejectedError struct {
	Pool, Service string
	// RetryAfter is when trying again makes sense: until an upstream Retry-After ends, else one
	// window length (shares and queues turn over within a second).
	RetryAfter time.Duration
	Reason     string
}

func (e *RejectedError) Error() string {
	return fmt.Sprintf("tps pool %q: service %q: %s; retry after %v", e.Pool, e.Service, e.Reason, e.RetryAfter)
}

// clock is the live time: wall-clock (monotonic) time since NewPool.
func (p *Pool) clock() time.Duration { return time.Since(p.start) }

// Admit is the live admission path: it returns nil when the request may be sent now, after
// waiting in the queue if it must; a *RejectedError when aya must answer 429; ctx.Err() when
// ctx ends first. The fast path (a token is free and nothing of the service waits) takes the
// pool's mutex once and allocates nothing. Queued requests are released by Run, which must be
// running, and by later arrivals.
func (p *Pool) Admit(ctx context.Context, svc int) error {
	p.mu.Lock()
	d, slot := p.arriveLocked(svc, p.clock(), true)
	if d != Queued {
		why := reasonQueueFull
		if p.closed {
			why = reasonClosed
		}
		p.mu.Unlock()
		if d == Admitted {
			return nil
		}
		return p.rejected(svc, why)
	}
	ch := p.q.slots[slot].ch
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}: // NextEvent may have moved earlier: let Run recompute its sleep
	default:
	}
	select {
	case ok := <-ch:
		return p.collect(svc, slot, ok)
	case <-ctx.Done():
		p.mu.Lock()
		if p.q.slots[slot].state == slotWaiting {
			p.total[svc].cancelled++
			p.q.unlink(slot)
			p.q.release(slot)
			p.recomputeNext()
			p.mu.Unlock()
			return ctx.Err()
		}
		p.mu.Unlock()
		// Released or rejected meanwhile: the result is in ch. An admission is left unused,
		// which only errs on the safe side of the cap.
		<-ch
		p.collect(svc, slot, false)
		return ctx.Err()
	}
}

// collect frees a live waiter's slot after its result was read.
func (p *Pool) collect(svc int, slot int32, admitted bool) error {
	p.mu.Lock()
	why := p.q.slots[slot].reason
	p.q.release(slot)
	p.mu.Unlock()
	if admitted {
		return nil
	}
	return p.rejected(svc, why)
}

func (p *Pool) rejected(svc int, why rejectReason) error {
	p.mu.Lock()
	retry := time.Second
	if wait := p.pausedUntil - p.now; wait > retry {
		retry = wait
	}
	p.mu.Unlock()
	return &RejectedError{Pool: p.cfg.Name, Service: p.cfg.Services[svc].Name, RetryAfter: retry, Reason: why.String()}
}

// Run drives the pool on the wall clock until ctx ends: a tick every cfg.Tick, and queued
// requests released or rejected at the times NextEvent gives. When ctx ends, every waiting
// request is rejected and later requests that would have to wait are rejected at once.
func (p *Pool) Run(ctx context.Context) {
	timer := time.NewTimer(p.cfg.Tick)
	defer timer.Stop()
	nextTick := p.clock() + p.cfg.Tick
	for {
		now := p.clock()
		if now >= nextTick {
			p.Tick(now)
			nextTick += p.cfg.Tick
			if nextTick <= now {
				nextTick = now + p.cfg.Tick
			}
		}
		p.mu.Lock()
		p.advanceLocked(p.observe(now))
		p.outcomes = p.outcomes[:0] // only Arrive's tickets report here; live waiters are woken directly
		next := min(p.next, nextTick)
		p.mu.Unlock()
		timer.Reset(max(next-p.clock(), 0))
		select {
		case <-ctx.Done():
			p.close()
			return
		case <-timer.C:
		case <-p.wake:
		}
	}
}

// close rejects everything waiting and makes later requests that would wait be rejected.
func (p *Pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for s := range p.q.head {
		for h := p.q.head[s]; h >= 0; h = p.q.head[s] {
			p.finish(h, false, reasonClosed, p.now)
		}
	}
	p.recomputeNext()
}
