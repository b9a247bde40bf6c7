package tps

import (
	"math"
	"testing"
	"time"
)

func TestSetCapacity(t *testing.T) {
	cfg := func() PoolConfig {
		return PoolConfig{Name: "partner", Capacity: 100, Margin: 0.1, Tick: 250 * time.Millisecond,
			Services: []Service{{Name: "a", Priority: High}, {Name: "b", Priority: Low}}}
	}
	for _, tc := range []struct {
		name       string
		run        func(p *Pool)
		wantEff    float64
		wantWindow int64
	}{
		{"lease below the cap", func(p *Pool) { p.SetCapacity(50) }, 45, 45},
		{"lease above the cap", func(p *Pool) { p.SetCapacity(200) }, 180, 180},
		{"zero lease", func(p *Pool) { p.SetCapacity(0) }, 0, 0},
		{"down then up", func(p *Pool) { p.SetCapacity(10); p.SetCapacity(60) }, 54, 54},
		{"invalid ignored", func(p *Pool) {
			p.SetCapacity(50)
			p.SetCapacity(-1)
			p.SetCapacity(math.NaN())
			p.SetCapacity(math.Inf(1))
		}, 45, 45},
		{"a 429 cut stays below a larger lease", func(p *Pool) {
			for range 20 {
				p.Arrive(0, time.Millisecond)
			}
			p.Record429(2*time.Millisecond, 0) // 20 sent in the last second: cut to 16
			p.SetCapacity(80)
		}, 16, 16},
		{"a 429 cut is capped by a smaller lease", func(p *Pool) {
			for range 20 {
				p.Arrive(0, time.Millisecond)
			}
			p.Record429(2*time.Millisecond, 0)
			p.SetCapacity(10)
		}, 9, 9},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newTestPool(t, cfg(), "waterfill")
			tc.run(p)
			s := p.Snapshot()
			if math.Abs(s.EffectiveCapacity-tc.wantEff) > 1e-9 || s.WindowLimit != tc.wantWindow {
				t.Fatalf("effective %v window %d, want %v and %d", s.EffectiveCapacity, s.WindowLimit, tc.wantEff, tc.wantWindow)
			}
			if s.Capacity != 100 {
				t.Fatalf("Snapshot.Capacity %v, want the configured 100", s.Capacity)
			}
			p.Tick(time.Second)
			sum := 0.0
			for _, sv := range p.Snapshot().Services {
				sum += sv.Allocation
			}
			if sum > tc.wantEff+1e-9 {
				t.Fatalf("after a tick the shares add up to %v, above the effective capacity %v", sum, tc.wantEff)
			}
		})
	}
}

func BenchmarkSetCapacity(b *testing.B) {
	p := newTestPool(b, PoolConfig{Name: "partner", Capacity: 100, Tick: 250 * time.Millisecond, Services: testServices()}, "waterfill")
	b.ReportAllocs()
	for i := range b.N {
		p.SetCapacity(float64(50 + i%50))
	}
}
