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
}

func newTargetState(up *upstreamState, url string) *TargetState {
	return &TargetState{up: up, url: url}
}

// usable reports whether new requests may go to the target.
func (s *TargetState) usable() bool {
	return !s.down.Load()
}

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

// Health states reported by Status.
const (
	StateHealthy   = "healthy"
	StateUnhealthy = "unhealthy" // failed active health checks
)

// Status is a snapshot of a target's state for the admin API.
type Status struct {
	State            string    `json:"state"`
	LastCheck        time.Time `json:"last_check,omitzero"`
	LastError        string    `json:"last_error,omitempty"`
	ConsecutiveFails int       `json:"consecutive_failures"`
}

// Status reports the target's state now.
func (s *TargetState) Status() Status {
	s.mu.Lock()
	st := Status{LastCheck: s.lastCheck, LastError: s.lastErr, ConsecutiveFails: s.failRun}
	s.mu.Unlock()
	st.State = StateHealthy
	if s.down.Load() {
		st.State = StateUnhealthy
	}
	return st
}
