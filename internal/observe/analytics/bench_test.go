package analytics

import (
	"testing"
	"time"
)

func BenchmarkRecord(b *testing.B) {
	s := New(Options{})
	r := rec("api", 200, 3*time.Millisecond)
	r.ID = "0190d5f2-7c1e-7a3b-9d4e-2f6a8b0c1d2e"
	r.Consumer = "acme"
	s.Record(r) // names seen once, as in steady state
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.Record(r)
	}
}

func BenchmarkRecordParallel(b *testing.B) {
	s := New(Options{})
	r := rec("api", 200, 3*time.Millisecond)
	r.ID = "0190d5f2-7c1e-7a3b-9d4e-2f6a8b0c1d2e"
	for range nShards {
		s.Record(r)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		r := *r
		for pb.Next() {
			s.Record(&r)
		}
	})
}

func BenchmarkFlush(b *testing.B) {
	s := New(Options{})
	r := rec("api", 200, 3*time.Millisecond)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		for range 100 {
			s.Record(r)
		}
		s.Flush(t0.Add(time.Duration(i) * time.Second))
	}
}
