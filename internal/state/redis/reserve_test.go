package redis

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"aya/internal/state"
	"aya/internal/state/batched"
)

// Reserve takes from the cell Allow decides on: what one takes, the other does not get.
func TestReserveSharesTheBucket(t *testing.T) {
	c := startRedis(t)
	s := New(c, "aya:rl:")
	ctx := context.Background()
	l := state.Limit{Count: 10, Period: time.Second, Burst: 5}
	now := time.Unix(1_700_000_000, 0)
	steps := []struct {
		n, want int64
		retry   bool
	}{{3, 3, false}, {3, 2, false}, {1, 0, true}}
	for i, st := range steps {
		got, retry, err := s.Reserve(ctx, "res", l, st.n, now)
		if err != nil || got != st.want || (retry > 0) != st.retry {
			t.Fatalf("step %d: reserve %d: got %d, retry %v, err %v; want %d", i, st.n, got, retry, err, st.want)
		}
	}
	if d, err := s.Allow(ctx, "res", l, now); err != nil || d.Allowed {
		t.Fatalf("Allow after the bucket was reserved: %+v %v, want denied", d, err)
	}
	if got, _, err := s.Reserve(ctx, "res", l, 5, now.Add(250*time.Millisecond)); err != nil || got != 2 {
		t.Fatalf("250ms later at 10/s: reserved %d (%v), want 2", got, err)
	}
	if _, _, err := s.Reserve(ctx, "res", state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: time.Second}, 1, now); err == nil {
		t.Fatal("reserving from a fixed window: no error")
	}
}

// Three batched nodes on one key of 100/s (burst 10) admit what one exact limit would, within
// the 5% sync: batched promises: the tokens they hold unused are at most a batch each.
func TestBatchedAccuracy(t *testing.T) {
	c := startRedis(t)
	l := state.Limit{Count: 100, Period: time.Second, Burst: 10}
	for _, batch := range []int64{0, 2} {
		t.Run(fmt.Sprintf("batch %d", batch), func(t *testing.T) {
			key := fmt.Sprintf("acc:%d", batch)
			const d = 2 * time.Second
			var admitted int64
			var mu sync.Mutex
			var wg sync.WaitGroup
			start := time.Now()
			for range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					b := batched.New(New(c, "aya:rl:"), New(c, "aya:rl:"), batched.Options{Batch: batch})
					defer b.Close()
					n := int64(0)
					for time.Since(start) < d {
						if dec, err := b.Allow(context.Background(), key, l, time.Now()); err == nil && dec.Allowed {
							n++
						}
						time.Sleep(time.Millisecond)
					}
					mu.Lock()
					admitted += n
					mu.Unlock()
				}()
			}
			wg.Wait()
			want := 100*time.Since(start).Seconds() + 10
			errPct := 100 * (float64(admitted) - want) / want
			t.Logf("3 batched nodes, 100/s burst 10, batch %d (0: auto), %v: admitted %d, want %.1f: error %+.2f%%", batch, d, admitted, want, errPct)
			if errPct > 5 || errPct < -5 {
				t.Fatalf("admitted %d, want %.1f ± 5%%", admitted, want)
			}
		})
	}
}

// BenchmarkSync compares one node's decisions per second on one hot key: exact (a round trip
// each) and batched (a round trip per batch), against a local redis-server.
func BenchmarkSync(b *testing.B) {
	c := startRedis(b)
	l := state.Limit{Count: 1e9, Period: time.Second, Burst: 1e9}
	exact := New(c, "aya:rl:")
	b.Run("exact", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := exact.Allow(ctx, "bench:exact", l, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	b.Run("batched", func(b *testing.B) {
		bl := batched.New(exact, exact, batched.Options{})
		defer bl.Close()
		b.ReportAllocs()
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			for pb.Next() {
				if _, err := bl.Allow(ctx, "bench:batched", l, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
