// Package statetest is the conformance suite every state.Limiter passes, so the memory and
// Redis stores are held to the same answers.
package statetest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/state"
)

// Run checks l. Keys are prefixed with prefix so a shared store (one Redis) is not confused by
// an earlier run.
func Run(t *testing.T, l state.Limiter, prefix string) {
	ctx := context.Background()
	slow := time.Hour // a refill so slow no token comes back during the test
	t.Run("burst then deny", func(t *testing.T) {
		lim := state.Limit{Algorithm: state.GCRA, Count: 1, Period: slow, Burst: 5}
		now := time.Now()
		for i := range 5 {
			d, err := l.Allow(ctx, prefix+"burst", lim, now)
			if err != nil || !d.Allowed || d.Remaining != int64(4-i) || d.Limit != 5 {
				t.Fatalf("request %d: %+v %v", i, d, err)
			}
		}
		d, err := l.Allow(ctx, prefix+"burst", lim, now)
		if err != nil || d.Allowed || d.RetryAfter <= 0 || d.Remaining != 0 {
			t.Fatalf("6th: %+v %v, want denied with a Retry-After", d, err)
		}
	})
	t.Run("keys are independent", func(t *testing.T) {
		lim := state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: slow}
		now := time.Now()
		for _, k := range []string{"a", "b", "c"} {
			if d, err := l.Allow(ctx, prefix+"indep-"+k, lim, now); err != nil || !d.Allowed {
				t.Fatalf("key %s: %+v %v", k, d, err)
			}
		}
		if d, _ := l.Allow(ctx, prefix+"indep-a", lim, now); d.Allowed {
			t.Fatal("key a allowed twice in one window of 1")
		}
	})
	for _, alg := range []state.Algorithm{state.GCRA, state.FixedWindow, state.SlidingWindow, state.SlidingLog} {
		t.Run("atomic "+alg.String(), func(t *testing.T) {
			lim := state.Limit{Algorithm: alg, Count: 40, Period: slow, Burst: 40}
			if alg == state.GCRA {
				lim.Count = 1
			}
			var allowed atomic.Int64
			var wg sync.WaitGroup
			key := fmt.Sprintf("%satomic-%s", prefix, alg)
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 20 {
						d, err := l.Allow(ctx, key, lim, time.Now())
						if err != nil {
							t.Error(err)
							return
						}
						if d.Allowed {
							allowed.Add(1)
						}
					}
				}()
			}
			wg.Wait()
			if got := allowed.Load(); got != 40 {
				t.Fatalf("%d of 160 concurrent requests allowed, want exactly 40", got)
			}
		})
	}
}
