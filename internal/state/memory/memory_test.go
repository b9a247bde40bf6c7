package memory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"aya/internal/state"
	"aya/internal/state/statetest"
)

func TestConformance(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	statetest.Run(t, s, "")
}

func TestMaxKeysEvictsOldest(t *testing.T) {
	s := New(Options{MaxKeys: 4, Shards: 1})
	defer s.Close()
	ctx := context.Background()
	lim := state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: time.Hour}
	now := time.Now()
	for i := range 4 {
		s.Allow(ctx, fmt.Sprint("k", i), lim, now)
	}
	s.Allow(ctx, "k0", lim, now) // k0 is now the most recently used; k1 the oldest
	s.Allow(ctx, "k4", lim, now)
	if n := s.Len(); n != 4 {
		t.Fatalf("%d keys kept, want 4", n)
	}
	if d, _ := s.Allow(ctx, "k0", lim, now); d.Allowed {
		t.Fatal("k0 was evicted although recently used")
	}
	if d, _ := s.Allow(ctx, "k2", lim, now); d.Allowed {
		t.Fatal("k2 was evicted before the older k1")
	}
	// k1 went (and coming back evicted k3, the oldest then): it starts afresh
	if d, _ := s.Allow(ctx, "k1", lim, now); !d.Allowed {
		t.Fatal("k1 kept its count; it should have been evicted as the oldest")
	}
}

func TestSweepDropsExpired(t *testing.T) {
	s := New(Options{Shards: 4})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	short := state.Limit{Algorithm: state.GCRA, Count: 10, Period: time.Second, Burst: 10}
	long := state.Limit{Algorithm: state.FixedWindow, Count: 10, Period: time.Hour}
	for i := range 100 {
		s.Allow(ctx, fmt.Sprint("short", i), short, now)
		s.Allow(ctx, fmt.Sprint("long", i), long, now)
	}
	if n := s.sweep(now.UnixNano()); n != 0 {
		t.Fatalf("swept %d live keys", n)
	}
	if n := s.sweep(now.Add(time.Second).UnixNano()); n != 100 {
		t.Fatalf("swept %d keys a second later, want the 100 refilled buckets", n)
	}
	if n := s.Len(); n != 100 {
		t.Fatalf("%d keys left, want 100", n)
	}
}

func TestSweeperRuns(t *testing.T) {
	s := New(Options{Sweep: 5 * time.Millisecond})
	defer s.Close()
	lim := state.Limit{Algorithm: state.GCRA, Count: 1000, Period: time.Second, Burst: 1}
	s.Allow(context.Background(), "k", lim, time.Now())
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the sweeper did not drop an expired key")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestAlgorithmChangeResetsCell(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	ctx := context.Background()
	now := time.Now()
	log := state.Limit{Algorithm: state.SlidingLog, Count: 2, Period: time.Hour}
	s.Allow(ctx, "k", log, now)
	s.Allow(ctx, "k", log, now)
	fixed := state.Limit{Algorithm: state.FixedWindow, Count: 2, Period: time.Hour}
	if d, _ := s.Allow(ctx, "k", fixed, now); !d.Allowed || d.Remaining != 1 {
		t.Fatalf("%+v: the fixed window read the log's state", d)
	}
}

func TestZeroAllocsForExistingKey(t *testing.T) {
	s := New(Options{})
	defer s.Close()
	ctx := context.Background()
	for _, alg := range []state.Algorithm{state.GCRA, state.FixedWindow, state.SlidingWindow, state.SlidingLog} {
		lim := state.Limit{Algorithm: alg, Count: 100, Period: time.Second, Burst: 100}
		key := "alloc-" + alg.String()
		now := time.Now()
		s.Allow(ctx, key, lim, now)
		if n := testing.AllocsPerRun(100, func() { s.Allow(ctx, key, lim, now) }); n != 0 {
			t.Errorf("%s: %v allocs per decision", alg, n)
		}
	}
}

func BenchmarkAllowTokenBucket(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	ctx := context.Background()
	lim := state.Limit{Algorithm: state.TokenBucket, Count: 1e6, Period: time.Second, Burst: 1000}
	now := time.Now()
	b.ReportAllocs()
	cpu := processCPU()
	for i := range b.N {
		s.Allow(ctx, "route\x00consumer-alice", lim, now.Add(time.Duration(i)))
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}

func BenchmarkAllowTokenBucketParallel(b *testing.B) {
	s := New(Options{})
	defer s.Close()
	ctx := context.Background()
	lim := state.Limit{Algorithm: state.TokenBucket, Count: 1e6, Period: time.Second, Burst: 1000}
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprintf("route\x00ip-10.0.%d.%d", i/256, i%256)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Allow(ctx, keys[i&1023], lim, time.Now())
			i++
		}
	})
}

func BenchmarkAllowNewKeys(b *testing.B) {
	s := New(Options{MaxKeys: 1 << 14})
	defer s.Close()
	ctx := context.Background()
	lim := state.Limit{Algorithm: state.TokenBucket, Count: 10, Period: time.Second, Burst: 10}
	keys := make([]string, 1<<16)
	for i := range keys {
		keys[i] = fmt.Sprint("k", i)
	}
	now := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		s.Allow(ctx, keys[i&(1<<16-1)], lim, now)
	}
}
