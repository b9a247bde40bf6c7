package balance

import (
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

// benchTargets is a pool of ten targets with mixed weights, loads and latencies.
func benchTargets() []*Target {
	targets := targetsOf(1, 2, 3, 1, 2, 3, 1, 2, 3, 1)
	for i, t := range targets {
		t.Begin()
		t.End(time.Duration(i+1)*time.Millisecond, false)
		for range i % 3 {
			t.Begin()
		}
	}
	return targets
}

// BenchmarkPick measures a steady-state pick (tables already built) from parallel
// goroutines, each a different client.
func BenchmarkPick(b *testing.B) {
	for _, name := range Names() {
		b.Run(name, func(b *testing.B) {
			targets := benchTargets()
			bal := mustNew(b, name, Options{})
			bal.Pick(ipRequest(0), targets)
			var clients atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := ipRequest(int(clients.Add(1)))
				for pb.Next() {
					if bal.Pick(r, targets) == nil {
						b.Error("Pick returned nil")
					}
				}
			})
		})
	}
}

// BenchmarkPickHashKey measures maglev picks keyed by each request part.
func BenchmarkPickHashKey(b *testing.B) {
	r := ipRequest(7)
	r.Path = "/api/v1/users/12345/orders"
	r.Query = "page=2&user=u-0123456789abcdef"
	r.Header = httpx.Header{
		{Name: "Host", Value: "api.example.com"},
		{Name: "X-User", Value: "u-0123456789abcdef"},
		{Name: "Cookie", Value: "theme=dark; session=3f9a1c0e5b7d4a2f8e6c1b0a9d8f7e6c"},
	}
	for _, key := range []string{"ip", "path", "header:X-User", "cookie:session", "query:user"} {
		b.Run(key, func(b *testing.B) {
			targets := benchTargets()
			bal := mustNew(b, "maglev", Options{HashKey: key})
			bal.Pick(r, targets)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				bal.Pick(r, targets)
			}
		})
	}
}

// BenchmarkTarget measures the per-request bookkeeping the transport does.
func BenchmarkTarget(b *testing.B) {
	b.Run("BeginEnd", func(b *testing.B) {
		t := NewTarget("a", 1)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				t.Begin()
				t.End(time.Millisecond, false)
			}
		})
	})
	b.Run("Latency", func(b *testing.B) {
		t := NewTarget("a", 1)
		t.Begin()
		t.End(time.Millisecond, false)
		b.ReportAllocs()
		for b.Loop() {
			t.Latency()
		}
	})
}

// BenchmarkBuild measures what a change of the target set costs the first pick after it.
func BenchmarkBuild(b *testing.B) {
	builds := []struct {
		name  string
		build func([]*Target)
	}{
		{"smooth_sequence", func(t []*Target) { smoothSequence(t) }},
		{"weight_line", func(t []*Target) { weightLine(t) }},
		{"ring", func(t []*Target) { buildRing(t, DefaultVirtualNodes, maxRingPoints) }},
		{"maglev", func(t []*Target) { buildMaglev(t) }},
	}
	targets := benchTargets()
	for _, bb := range builds {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bb.build(targets)
			}
		})
	}
}
