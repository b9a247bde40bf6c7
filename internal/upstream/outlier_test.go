package upstream

import (
	"testing"
	"time"

	"aya/internal/config"
)

func outlierCfg() *config.Outlier {
	return &config.Outlier{Consecutive5xx: 3, ConsecutiveConnectFailures: 2, Interval: config.Duration(time.Hour),
		BaseEjection: config.Duration(time.Hour), MaxEjection: config.Duration(3 * time.Hour), MaxEjectedPercent: 0.5,
		SuccessRateStdev: 1.9, SuccessRateMinHosts: 5, SuccessRateMinRequests: 10, FailurePercentageMinRequests: 10}
}

func TestOutlierConsecutive(t *testing.T) {
	tests := []struct {
		name     string
		outcomes []Outcome
		ejected  bool
	}{
		{"three 5xx", []Outcome{Status5xx, Status5xx, Status5xx}, true},
		{"broken by a success", []Outcome{Status5xx, Status5xx, OK, Status5xx, Status5xx}, false},
		{"gateway failures count as 5xx", []Outcome{GatewayFailure, Status5xx, GatewayFailure}, true},
		{"two connect failures", []Outcome{ConnectFailure, ConnectFailure}, true},
		{"connect run broken by a 5xx", []Outcome{ConnectFailure, Status5xx, ConnectFailure}, true}, // but 3 5xx-like in a row
		{"cancellations say nothing", []Outcome{Status5xx, Canceled, Canceled, Status5xx, OK}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reg := NewRegistry(quiet)
			defer reg.Close()
			p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: outlierCfg()}, 4)
			tg := p.Targets()[0]
			for _, o := range tc.outcomes {
				p.Begin(tg)
				p.Answered(tg, o, time.Millisecond)
			}
			if got := tg.State.ejectedUntil.Load() != 0; got != tc.ejected {
				t.Fatalf("ejected %v, want %v", got, tc.ejected)
			}
			if tc.ejected && (availNames(p) != "t1,t2,t3" || tg.State.Status().State != StateEjected) {
				t.Fatalf("ejected target still available: %s %+v", availNames(p), tg.State.Status())
			}
		})
	}
}

func TestOutlierMaxPercentAndDuration(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	cfg := outlierCfg()
	p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: cfg}, 5)
	us := p.up
	now := nanotime()
	for i, want := range []bool{true, true, false, false, false} { // 50% of 5 is 2
		if got := us.eject(p.Targets()[i].State, cfg, now, "test"); got != want {
			t.Fatalf("target %d ejected %v, want %v", i, got, want)
		}
	}
	s := p.Targets()[0].State
	if d := time.Duration(s.ejectedUntil.Load() - now); d != time.Hour {
		t.Fatalf("first ejection for %v", d)
	}
	for _, want := range []time.Duration{2 * time.Hour, 3 * time.Hour, 3 * time.Hour} {
		us.uneject(s, s.ejectedUntil.Load())
		us.eject(s, cfg, now, "test")
		if d := time.Duration(s.ejectedUntil.Load() - now); d != want {
			t.Fatalf("ejection for %v, want %v (base × count, capped)", d, want)
		}
	}
	if s.Status().Ejections != 4 {
		t.Fatalf("status %+v", s.Status())
	}
	// Quiet intervals forgive ejections one at a time.
	us.uneject(s, s.ejectedUntil.Load())
	us.uneject(p.Targets()[1].State, p.Targets()[1].State.ejectedUntil.Load())
	before := s.ejections.Load()
	us.sweep(cfg, now)
	us.sweep(cfg, now)
	if s.ejections.Load() != before-2 {
		t.Fatalf("ejections %d after two quiet sweeps, from %d", s.ejections.Load(), before)
	}
}

func TestOutlierEjectionEnds(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	cfg := outlierCfg()
	cfg.BaseEjection = config.Duration(30 * time.Millisecond)
	p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: cfg}, 3)
	reg.Activate([]*Pool{p})
	p.up.eject(p.Targets()[2].State, cfg, nanotime(), "test")
	if availNames(p) != "t0,t1" {
		t.Fatalf("avail %s", availNames(p))
	}
	waitFor(t, time.Second, func() bool { return availNames(p) == "t0,t1,t2" })
}

func TestOutlierSweep(t *testing.T) {
	feed := func(p *Pool, failures []int, n int) {
		for i, f := range failures {
			tg := p.Targets()[i]
			for k := range n {
				o := OK
				if k < f {
					o = Status5xx
				}
				tg.State.observe(o, &config.Outlier{}) // counts only, no consecutive ejection
			}
		}
	}
	t.Run("success rate", func(t *testing.T) {
		reg := NewRegistry(quiet)
		defer reg.Close()
		cfg := outlierCfg()
		p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: cfg}, 6)
		feed(p, []int{0, 1, 0, 2, 1, 30}, 100)
		p.up.sweep(cfg, nanotime())
		if availNames(p) != "t0,t1,t2,t3,t4" {
			t.Fatalf("avail %s", availNames(p))
		}
		if r := p.Targets()[5].State.Status().EjectReason; r != "success rate" {
			t.Fatalf("reason %q", r)
		}
	})
	t.Run("too few hosts for statistics", func(t *testing.T) {
		reg := NewRegistry(quiet)
		defer reg.Close()
		cfg := outlierCfg()
		p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: cfg}, 3)
		feed(p, []int{0, 0, 30}, 100)
		p.up.sweep(cfg, nanotime())
		if availNames(p) != "t0,t1,t2" {
			t.Fatalf("avail %s", availNames(p))
		}
	})
	t.Run("failure percentage", func(t *testing.T) {
		reg := NewRegistry(quiet)
		defer reg.Close()
		cfg := outlierCfg()
		cfg.FailurePercentage = 0.2
		p := poolOf(t, reg, config.Upstream{Name: "u", Outlier: cfg}, 3)
		feed(p, []int{0, 5, 30}, 100)
		p.up.sweep(cfg, nanotime())
		if availNames(p) != "t0,t1" || p.Targets()[2].State.Status().EjectReason != "failure percentage" {
			t.Fatalf("avail %s", availNames(p))
		}
		// The interval's counts start again.
		if p.Targets()[1].State.total.Load() != 0 {
			t.Fatal("counts not reset")
		}
	})
}

func BenchmarkAnswered(b *testing.B) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	cb := breakerCfg()
	p := poolOfB(b, reg, config.Upstream{Name: "u", Outlier: outlierCfg(), CircuitBreaker: cb}, 4)
	reg.Activate([]*Pool{p})
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := p.Admit(); !ok {
			b.Fatal("refused")
		}
		t := p.Pick(nil)
		p.Begin(t)
		p.Answered(t, OK, time.Millisecond)
		p.End(t, time.Millisecond, false)
		p.Release()
	}
}
