package upstream

import "time"

// The proxy reports every request and every try to the pool, in this order:
//
//	Admit → (Begin → Answered → End)+ → Release
//
// Admit and Release bracket one client request; Begin, Answered and End one try on one
// target. All of them are lock-free and allocate nothing.

// Admit reserves room for one client request in the upstream. It refuses, with how long to
// wait before trying again, when the upstream's breaker is open, the upstream's
// max_requests or max_pending are reached, or load shedding's limit is. Every admitted request
// needs one Release.
func (p *Pool) Admit() (retryAfter time.Duration, ok bool) {
	if cfg := p.settings.breaker; cfg != nil {
		now := nanotime()
		if !p.breaker.Allow(now) {
			return max(p.breaker.RetryAfter(now), time.Second), false
		}
		if cfg.MaxRequests > 0 && p.active.Load() >= int64(cfg.MaxRequests) ||
			cfg.MaxPending > 0 && p.pending.Load() >= int64(cfg.MaxPending) {
			return time.Second, false
		}
	}
	if p.shed != nil && !p.shed.acquire() {
		return time.Second, false
	}
	p.active.Add(1)
	if p.retry != nil {
		p.tries.add(nanotime(), int64(budgetWindow/windowBuckets), false)
	}
	return 0, true
}

// Release ends a request Admit let in.
func (p *Pool) Release() {
	p.active.Add(-1)
	if p.shed != nil {
		p.shed.release()
	}
}

// ShedLimit is load shedding's current concurrency limit and the requests it counts in
// flight; ok is false when the upstream has no load shedding.
func (p *Pool) ShedLimit() (limit, inflight int64, ok bool) {
	if p.shed == nil {
		return 0, 0, false
	}
	return p.shed.Limit(), p.shed.inflight.Load(), true
}

// Begin starts one try on t.
func (p *Pool) Begin(t *Target) {
	t.Balance.Begin()
	p.pending.Add(1)
}

// Answered reports how the try on t went once its response head arrived (or the try
// failed), latency after Begin. It feeds outlier detection and the breakers.
func (p *Pool) Answered(t *Target, o Outcome, latency time.Duration) {
	p.pending.Add(-1)
	if o == Canceled {
		return
	}
	now := nanotime()
	if p.shed != nil {
		p.shed.sample(now, latency, o != OK)
	}
	s := t.State
	if cfg := p.settings.outlier; cfg != nil && p.up != nil {
		if reason := s.observe(o, cfg); reason != "" {
			p.up.eject(s, cfg, now, reason)
		}
	}
	if p.settings.breaker != nil {
		failed := o != OK
		p.breaker.Record(now, failed, latency)
		s.breaker.Record(now, failed, latency)
	}
}

// End finishes the try on t after d (body included). failed means the target did not answer
// properly (connect error, reset, timeout), which latency-aware balancers count as slow.
func (p *Pool) End(t *Target, d time.Duration, failed bool) {
	t.Balance.End(d, failed)
}
