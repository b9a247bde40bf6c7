package upstream

import (
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/config"
)

func shedConfig(algorithm string) *config.LoadShedding {
	return &config.LoadShedding{Algorithm: algorithm, InitialLimit: 20, MinLimit: 5, MaxLimit: 200,
		Window: config.Duration(100 * time.Millisecond), Smoothing: 0.2, Tolerance: 1.5, Backoff: 0.9}
}

// feed drives l for d of fake time: the clients keep `clients` requests outstanding (as many
// as the limit lets in), each answering after latency (failed when fail says so).
func feed(l *limiter, now *int64, d, latency time.Duration, clients int, fail bool) {
	end := *now + int64(d)
	for *now < end {
		n := 0
		for n < clients && l.acquire() {
			n++
		}
		*now += int64(latency)
		for range n {
			l.sample(*now, latency, fail)
			l.release()
		}
	}
}

func TestLimiterFallsUnderRisingLatencyAndRecovers(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*config.LoadShedding)
	}{
		{"gradient", func(*config.LoadShedding) {}},
		{"aimd by latency", func(c *config.LoadShedding) {
			c.Algorithm, c.Latency = config.ShedAIMD, config.Duration(50*time.Millisecond)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := shedConfig(config.ShedGradient)
			tc.cfg(c)
			l := newLimiter(c)
			now := int64(1)
			feed(l, &now, 5*time.Second, 5*time.Millisecond, 100, false)
			steady := l.Limit()
			if steady <= 20 {
				t.Fatalf("limit %d did not grow under steady fast load with clients waiting", steady)
			}
			feed(l, &now, 20*time.Second, 200*time.Millisecond, 100, false)
			slow := l.Limit()
			if slow > steady/2 || slow < 5 {
				t.Fatalf("limit %d under 40x latency (was %d), want at most half and at least min_limit", slow, steady)
			}
			feed(l, &now, 20*time.Second, 5*time.Millisecond, 100, false)
			if back := l.Limit(); back < 2*slow {
				t.Fatalf("limit %d after latency recovered (slow %d, steady %d)", back, slow, steady)
			}
			t.Logf("limit steady %d, slow %d, recovered %d", steady, slow, l.Limit())
		})
	}
}

func TestLimiterBounds(t *testing.T) {
	tests := []struct {
		name      string
		algorithm string
		latency   time.Duration
		clients   int
		fail      bool
		check     func(limit int64) bool
	}{
		{"aimd failures fall to min_limit", config.ShedAIMD, time.Millisecond, 100, true, func(l int64) bool { return l == 5 }},
		{"gradient failures fall to min_limit", config.ShedGradient, time.Millisecond, 100, true, func(l int64) bool { return l == 5 }},
		{"gradient growth stops at max_limit", config.ShedGradient, time.Millisecond, 1000, false, func(l int64) bool { return l == 200 }},
		{"app-limited does not grow", config.ShedGradient, time.Millisecond, 4, false, func(l int64) bool { return l == 20 }},
		{"aimd app-limited does not grow", config.ShedAIMD, time.Millisecond, 4, false, func(l int64) bool { return l == 20 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(shedConfig(tc.algorithm))
			now := int64(1)
			feed(l, &now, 60*time.Second, tc.latency, tc.clients, tc.fail)
			if !tc.check(l.Limit()) {
				t.Fatalf("limit %d", l.Limit())
			}
		})
	}
}

func TestLimiterRefusesBeyondLimit(t *testing.T) {
	c := shedConfig(config.ShedGradient)
	c.InitialLimit = 5
	p := newPool("u", rr, nil, settings{shedding: c}, nil)
	for range 5 {
		if _, ok := p.Admit(); !ok {
			t.Fatal("refused below the limit")
		}
	}
	if after, ok := p.Admit(); ok || after != time.Second {
		t.Fatalf("admitted beyond the limit (%v %v)", after, ok)
	}
	p.Release()
	if _, ok := p.Admit(); !ok {
		t.Fatal("refused after a release")
	}
	if limit, inflight, ok := p.ShedLimit(); !ok || limit != 5 || inflight != 5 {
		t.Fatalf("ShedLimit %d %d %v", limit, inflight, ok)
	}
}

func BenchmarkLimiter(b *testing.B) {
	l := newLimiter(shedConfig(config.ShedGradient))
	b.ReportAllocs()
	now := int64(1)
	for b.Loop() {
		if l.acquire() {
			now += 1000
			l.sample(now, time.Millisecond, false)
			l.release()
		}
	}
}

func TestLimiterSurvivesReload(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	c := shedConfig(config.ShedGradient)
	u := config.Upstream{Name: "u", LoadShedding: c}
	var built atomic.Int64
	p1, err := reg.Pool(&u, rr, countingFactory(&built))
	if err != nil {
		t.Fatal(err)
	}
	p1.Admit()
	p2, _ := reg.Pool(&u, rr, countingFactory(&built))
	if _, inflight, _ := p2.ShedLimit(); inflight != 1 {
		t.Fatalf("a reload with the same load_shedding forgot the request in flight (%d)", inflight)
	}
	c2 := *c
	c2.MaxLimit = 300
	u.LoadShedding = &c2
	p3, _ := reg.Pool(&u, rr, countingFactory(&built))
	if _, inflight, _ := p3.ShedLimit(); inflight != 0 {
		t.Fatalf("a changed load_shedding kept the old limiter (%d in flight)", inflight)
	}
	p1.Release()
}
