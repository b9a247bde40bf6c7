package upstream

import (
	"sync"
	"sync/atomic"
	"time"
)

// epoch anchors nanotime to the monotonic clock.
var epoch = time.Now()

// nanotime is monotonic nanoseconds since epoch, immune to wall-clock steps.
func nanotime() int64 { return int64(time.Since(epoch)) }

// TargetState is what aya knows of a target's fitness: active health, passive ejection,
// circuit breaker and drain. It outlives one config: a Registry keys it by upstream name and
// target URL and hands it to every pool built for that target, so a reload neither forgets that
// a target is down nor resets its ejection history. The request path reads it with atomic
// loads only.
type TargetState struct {
	up  *upstreamState
	url string

	// down is set by active health checks after fall consecutive failures and cleared after
	// rise consecutive passes. Targets start up: a new target is tried at once, and a
	// dead one is found by the checks within interval × fall.
	down atomic.Bool

	mu        sync.Mutex // guards the check details below, which only the admin API reads
	lastCheck time.Time
	lastErr   string
	okRun     int // consecutive passed checks
	failRun   int // consecutive failed checks

	// Passive outlier detection (outlier.go).
	run5xx       atomic.Int64 // consecutive 5xx and gateway failures
	runConnect   atomic.Int64 // consecutive connect failures
	total        atomic.Int64 // requests answered this sweep interval
	failed       atomic.Int64 // of which failed
	ejectedUntil atomic.Int64 // nanotime the ejection ends; 0: not ejected
	ejections    atomic.Int64 // the ejection-time multiplier, forgiven one per quiet interval
	ejectedTotal atomic.Int64 // ejections ever, for the admin API
	ejectReason  atomic.Pointer[string]

	// breaker is the target's own circuit breaker.
	breaker Breaker

	// draining is set through the admin API: the target takes no new requests (sticky
	// clients move), requests in flight finish, and it no longer counts toward the pool's
	// size for panic mode and spill-over.
	draining atomic.Bool

	// Slow start (slowstart.go): whether the target was usable at the last refresh, and since
	// when it has been.
	wasUsable   atomic.Bool
	usableSince atomic.Int64
}

func newTargetState(up *upstreamState, url string) *TargetState {
	s := &TargetState{up: up, url: url}
	s.breaker.onChange = s.breakerChanged
	return s
}

// breakerChanged refreshes the pools when the target's breaker changes state, and arms the
// move from open to half-open: an open target is out of the available set, so no request
// would come to notice that its time is up.
func (s *TargetState) breakerChanged() {
	if s.breaker.state.Load() == breakerOpen {
		if cfg := s.breaker.cfg.Load(); cfg != nil {
			time.AfterFunc(time.Duration(cfg.open), func() { s.breaker.expire(nanotime()) })
		}
	}
	if s.up != nil {
		s.up.changed()
	}
}

// usable reports whether new requests may go to the target.
func (s *TargetState) usable() bool {
	return !s.draining.Load() && !s.down.Load() && s.ejectedUntil.Load() == 0 && s.breaker.state.Load() != breakerOpen
}

// gated reports whether requests to the target need a permit first (a half-open breaker).
func (s *TargetState) gated() bool { return s.breaker.state.Load() == breakerHalfOpen }

// admit takes a permit for one request to a gated target.
func (s *TargetState) admit(now int64) bool { return s.breaker.Allow(now) }

// checked records one active health check result and reports whether the target's health
// flipped.
func (s *TargetState) checked(now time.Time, err error, rise, fall int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastCheck = now
	if err == nil {
		s.lastErr = ""
		s.okRun++
		s.failRun = 0
		if s.down.Load() && s.okRun >= rise {
			s.down.Store(false)
			return true
		}
		return false
	}
	s.lastErr = err.Error()
	s.failRun++
	s.okRun = 0
	if !s.down.Load() && s.failRun >= fall {
		s.down.Store(true)
		return true
	}
	return false
}

// States reported by Status, in the order they take precedence.
const (
	StateDraining  = "draining"  // by the admin API
	StateUnhealthy = "unhealthy" // failed active health checks
	StateEjected   = "ejected"   // by outlier detection
	StateOpen      = "open"      // its circuit breaker is open
	StateHalfOpen  = "half_open" // its breaker lets probes through
	StateHealthy   = "healthy"
)

// Status is a snapshot of a target's state for the admin API.
type Status struct {
	State     string    `json:"state"`
	LastCheck time.Time `json:"last_check,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// ConsecutiveFailures are failed active checks in a row, or failed requests in a row
	// when that is more (passive detection sees them first).
	ConsecutiveFailures int64     `json:"consecutive_failures"`
	Ejections           int64     `json:"ejections"`
	EjectReason         string    `json:"eject_reason,omitempty"`
	EjectedUntil        time.Time `json:"ejected_until,omitzero"`
	Breaker             string    `json:"breaker"`
	Draining            bool      `json:"draining"`
}

// Status reports the target's state now.
func (s *TargetState) Status() Status {
	s.mu.Lock()
	st := Status{LastCheck: s.lastCheck, LastError: s.lastErr, ConsecutiveFailures: int64(s.failRun)}
	s.mu.Unlock()
	st.ConsecutiveFailures = max(st.ConsecutiveFailures, s.run5xx.Load())
	st.Ejections = s.ejectedTotal.Load()
	st.Breaker = s.breaker.State()
	until := s.ejectedUntil.Load()
	st.Draining = s.draining.Load()
	switch {
	case st.Draining:
		st.State = StateDraining
	case s.down.Load():
		st.State = StateUnhealthy
	case until != 0:
		st.State = StateEjected
	case st.Breaker == "open":
		st.State = StateOpen
	case st.Breaker == "half_open":
		st.State = StateHalfOpen
	default:
		st.State = StateHealthy
	}
	if until != 0 {
		st.EjectedUntil = time.Now().Add(time.Duration(until - nanotime())).UTC()
		if r := s.ejectReason.Load(); r != nil {
			st.EjectReason = *r
		}
	}
	return st
}
