package upstream

import (
	"testing"
	"time"

	"aya/internal/config"
)

func breakerCfg() *config.CircuitBreaker {
	return &config.CircuitBreaker{ErrorRatio: 0.5, Window: config.Duration(10 * time.Second), MinRequests: 4,
		Latency: config.Duration(100 * time.Millisecond), OpenDuration: config.Duration(5 * time.Second), HalfOpenRequests: 2}
}

func TestBreakerStates(t *testing.T) {
	const s = int64(time.Second)
	type step struct {
		at      int64 // seconds
		op      string
		failed  bool
		latency time.Duration
		want    bool // Allow's answer, or whether Record opened the breaker
		state   string
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"opens at the error ratio once min_requests are seen", []step{
			{0, "record", true, 0, false, "closed"},
			{0, "record", true, 0, false, "closed"}, // 2 of 2 failed, below min_requests
			{1, "record", false, 0, false, "closed"},
			{1, "record", true, 0, true, "open"}, // 3 of 4
			{2, "allow", false, 0, false, "open"},
		}},
		{"latency counts as failure", []step{
			{0, "record", false, 300 * time.Millisecond, false, "closed"},
			{0, "record", false, 300 * time.Millisecond, false, "closed"},
			{0, "record", false, 10 * time.Millisecond, false, "closed"},
			{0, "record", false, 300 * time.Millisecond, true, "open"},
		}},
		{"old failures slide out of the window", []step{
			{0, "record", true, 0, false, "closed"},
			{0, "record", true, 0, false, "closed"},
			{0, "record", true, 0, false, "closed"},
			{11, "record", false, 0, false, "closed"},
			{11, "record", false, 0, false, "closed"},
			{11, "record", false, 0, false, "closed"},
			{11, "record", true, 0, false, "closed"}, // 1 of 4 in the window
		}},
		{"half-open: probes close it", []step{
			{0, "record", true, 0, false, "closed"}, {0, "record", true, 0, false, "closed"},
			{0, "record", true, 0, false, "closed"}, {0, "record", true, 0, true, "open"},
			{4, "allow", false, 0, false, "open"},
			{5, "allow", false, 0, true, "half_open"},
			{5, "allow", false, 0, true, "half_open"},
			{5, "allow", false, 0, false, "half_open"}, // two permits only
			{5, "record", false, 0, false, "half_open"},
			{5, "record", false, 0, false, "closed"},
			{5, "allow", false, 0, true, "closed"},
		}},
		{"half-open: a failed probe reopens it", []step{
			{0, "record", true, 0, false, "closed"}, {0, "record", true, 0, false, "closed"},
			{0, "record", true, 0, false, "closed"}, {0, "record", true, 0, true, "open"},
			{6, "allow", false, 0, true, "half_open"},
			{6, "record", true, 0, true, "open"},
			{7, "allow", false, 0, false, "open"},
			{11, "allow", false, 0, true, "half_open"},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b Breaker
			changes := 0
			b.onChange = func() { changes++ }
			b.configure(breakerCfg())
			for i, st := range tc.steps {
				now := st.at*s + 1
				var got bool
				if st.op == "allow" {
					got = b.Allow(now)
				} else {
					got = b.Record(now, st.failed, st.latency)
				}
				if got != st.want || b.State() != st.state {
					t.Fatalf("step %d (%s at %ds): got %v state %s, want %v %s", i, st.op, st.at, got, b.State(), st.want, st.state)
				}
			}
		})
	}
}

func TestBreakerRetryAfterAndOff(t *testing.T) {
	var b Breaker
	b.configure(breakerCfg())
	for range 4 {
		b.Record(1, true, 0)
	}
	if got := b.RetryAfter(1 + int64(2*time.Second)); got != 3*time.Second {
		t.Fatalf("retry after %v", got)
	}
	b.configure(nil)
	if !b.Allow(2) || b.State() != "closed" || b.RetryAfter(2) != 0 {
		t.Fatal("a breaker without config refused")
	}
}

func TestPoolAdmitCaps(t *testing.T) {
	cb := breakerCfg()
	cb.MaxRequests, cb.MaxPending = 2, 1
	p := poolOf(t, NewRegistry(quiet), config.Upstream{Name: "u", CircuitBreaker: cb}, 2)
	if _, ok := p.Admit(); !ok {
		t.Fatal("first request refused")
	}
	tg := p.Pick(nil)
	p.Begin(tg)
	if _, ok := p.Admit(); ok {
		t.Fatal("max_pending 1 admitted a second request while one waits for its head")
	}
	p.Answered(tg, OK, time.Millisecond)
	if _, ok := p.Admit(); !ok {
		t.Fatal("second request refused")
	}
	if after, ok := p.Admit(); ok || after != time.Second {
		t.Fatalf("max_requests 2 admitted a third (%v)", after)
	}
	p.Release()
	p.Release()
	for range 4 {
		p.Begin(tg)
		p.Answered(tg, Status5xx, time.Millisecond)
	}
	if after, ok := p.Admit(); ok || after < 4*time.Second {
		t.Fatalf("open upstream breaker admitted (retry after %v)", after)
	}
}
