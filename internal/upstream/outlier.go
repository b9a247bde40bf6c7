package upstream

import (
	"context"
	"math"
	"sync"
	"time"

	"aya/internal/config"
)

// Outcome is how one exchange with a target went, in the terms outlier detection and
// breakers judge a target by.
type Outcome uint8

const (
	// OK: the target answered with a status below 500.
	OK Outcome = iota
	// Status5xx: the target answered with a 5xx status.
	Status5xx
	// ConnectFailure: aya could not connect (refused, unreachable, TLS handshake, connect
	// timeout).
	ConnectFailure
	// GatewayFailure: the connection broke or timed out, or the answer was not valid HTTP.
	GatewayFailure
	// Canceled: the client went away or sent a broken body; it says nothing of the target.
	Canceled
)

// observe counts an outcome for passive outlier detection and returns why the target should
// be ejected now, or "". Connect and gateway failures count as 5xx too, as in Envoy, so a
// target that dies mid-traffic is ejected even when it is never reached.
func (s *TargetState) observe(o Outcome, cfg *config.Outlier) string {
	s.total.Add(1)
	if o == OK {
		// Only write when needed: the counters sit on a cache line every request touches.
		if s.run5xx.Load() != 0 {
			s.run5xx.Store(0)
		}
		if s.runConnect.Load() != 0 {
			s.runConnect.Store(0)
		}
		return ""
	}
	s.failed.Add(1)
	if o == ConnectFailure {
		if n := s.runConnect.Add(1); cfg.ConsecutiveConnectFailures > 0 && n >= int64(cfg.ConsecutiveConnectFailures) {
			return "consecutive connect failures"
		}
	} else if s.runConnect.Load() != 0 {
		s.runConnect.Store(0)
	}
	if n := s.run5xx.Add(1); cfg.Consecutive5xx > 0 && n >= int64(cfg.Consecutive5xx) {
		return "consecutive 5xx"
	}
	return ""
}

// eject takes s out of rotation for base_ejection × its ejection count (capped), unless that
// would eject more than max_ejected_percent of the upstream's targets (one is always allowed,
// as in Envoy). It reports whether s was ejected.
func (us *upstreamState) eject(s *TargetState, cfg *config.Outlier, now int64, reason string) bool {
	us.mu.Lock()
	if s.ejectedUntil.Load() != 0 {
		us.mu.Unlock()
		return false
	}
	ejected := 0
	for _, o := range us.states {
		if o.ejectedUntil.Load() != 0 {
			ejected++
		}
	}
	if ejected+1 > max(1, int(float64(cfg.MaxEjectedPercent)*float64(len(us.states)))) {
		us.mu.Unlock()
		return false
	}
	n := s.ejections.Add(1)
	d := min(time.Duration(n)*cfg.BaseEjection.D(), cfg.MaxEjection.D())
	until := now + int64(d)
	s.ejectedUntil.Store(until)
	s.ejectedTotal.Add(1)
	s.ejectReason.Store(&reason)
	s.run5xx.Store(0)
	s.runConnect.Store(0)
	us.mu.Unlock()
	us.log.Warn("target ejected by outlier detection", "target", s.url, "reason", reason, "for", d, "ejections", n)
	time.AfterFunc(d, func() { us.uneject(s, until) })
	us.changed()
	return true
}

// uneject brings s back once the ejection that ended at until is over (a later ejection has
// its own timer).
func (us *upstreamState) uneject(s *TargetState, until int64) {
	if !s.ejectedUntil.CompareAndSwap(until, 0) {
		return
	}
	us.log.Info("ejection over; target takes requests again", "target", s.url)
	us.changed()
}

// sweep runs once per outlier interval: it ejects targets whose failure share reached
// failure_percentage, and targets whose success rate is below the mean by more than k
// standard deviations (given enough targets with enough requests), then starts the next
// interval's counts. A target not ejected during the interval gets one ejection forgiven,
// so the next ejection is shorter.
func (us *upstreamState) sweep(cfg *config.Outlier, now int64) {
	us.mu.Lock()
	states := make([]*TargetState, 0, len(us.states))
	for _, s := range us.states {
		states = append(states, s)
	}
	us.mu.Unlock()
	type sample struct {
		s    *TargetState
		rate float64
	}
	var samples []sample
	for _, s := range states {
		total, failed := s.total.Swap(0), s.failed.Swap(0)
		if s.ejectedUntil.Load() != 0 {
			continue
		}
		if n := s.ejections.Load(); n > 0 {
			s.ejections.CompareAndSwap(n, n-1)
		}
		if cfg.FailurePercentage > 0 && total >= int64(cfg.FailurePercentageMinRequests) &&
			float64(failed) >= float64(cfg.FailurePercentage)*float64(total) {
			us.eject(s, cfg, now, "failure percentage")
			continue
		}
		if total >= int64(cfg.SuccessRateMinRequests) {
			samples = append(samples, sample{s, 1 - float64(failed)/float64(total)})
		}
	}
	if cfg.SuccessRateStdev <= 0 || len(samples) < cfg.SuccessRateMinHosts {
		return
	}
	var sum, sq float64
	for _, x := range samples {
		sum += x.rate
	}
	mean := sum / float64(len(samples))
	for _, x := range samples {
		sq += (x.rate - mean) * (x.rate - mean)
	}
	limit := mean - float64(cfg.SuccessRateStdev)*math.Sqrt(sq/float64(len(samples)))
	for _, x := range samples {
		if x.rate < limit {
			us.eject(x.s, cfg, now, "success rate")
		}
	}
}

// sweeper runs sweep every interval of one outlier config.
type sweeper struct {
	cfg    config.Outlier
	cancel context.CancelFunc
}

func startSweeper(parent context.Context, wg *sync.WaitGroup, us *upstreamState, cfg config.Outlier) *sweeper {
	ctx, cancel := context.WithCancel(parent)
	sw := &sweeper{cfg: cfg, cancel: cancel}
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(cfg.Interval.D())
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				us.sweep(&sw.cfg, nanotime())
			}
		}
	}()
	return sw
}
