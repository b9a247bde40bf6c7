package batched

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"aya/internal/state"
)

// bucket is a shared GCRA bucket in memory, counting its round trips.
type bucket struct {
	mu    sync.Mutex
	tat   int64
	calls int
	err   error
}

func (b *bucket) Reserve(_ context.Context, _ string, l state.Limit, n int64, now time.Time) (int64, time.Duration, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.calls++
	if b.err != nil {
		return 0, 0, b.err
	}
	t, ns := l.Interval(), now.UnixNano()
	tat := max(b.tat, ns)
	free := (t*l.Burst - (tat - ns)) / t
	if free < 1 {
		return 0, time.Duration(tat + t - ns - t*l.Burst), nil
	}
	g := min(free, n)
	b.tat = tat + g*t
	return g, 0, nil
}

type exactOnly struct{ calls int }

func (e *exactOnly) Allow(context.Context, string, state.Limit, time.Time) (state.Decision, error) {
	e.calls++
	return state.Decision{Allowed: true}, nil
}

func TestAllow(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name        string
		limit       state.Limit
		batch       int64
		requests    int
		wantAllowed int
		maxCalls    int
	}{
		// Slow rates (per hour): background batches are stamped with the clock, and the wall time
		// the test takes must refill nothing.
		{"a burst of 20 in batches of 5", state.Limit{Count: 10, Period: time.Hour, Burst: 20}, 5, 30, 20, 6},
		{"auto batch of a hot key", state.Limit{Count: 100000, Period: time.Second, Burst: 100000}, 0, 5000, 5000, 6},
		{"batch larger than the burst", state.Limit{Count: 1, Period: time.Hour, Burst: 3}, 10, 10, 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			shared := &bucket{}
			b := New(shared, &exactOnly{}, Options{Batch: tt.batch})
			defer b.Close()
			allowed := 0
			for range tt.requests {
				d, err := b.Allow(context.Background(), "k", tt.limit, now)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allowed {
					allowed++
				} else if d.RetryAfter <= 0 {
					t.Fatalf("denied with RetryAfter %v", d.RetryAfter)
				}
			}
			b.Close() // waits for background reservations
			if allowed != tt.wantAllowed {
				t.Fatalf("allowed %d of %d, want %d", allowed, tt.requests, tt.wantAllowed)
			}
			if shared.calls > tt.maxCalls {
				t.Fatalf("%d round trips, want at most %d", shared.calls, tt.maxCalls)
			}
		})
	}
}

func TestOtherAlgorithmsAreExact(t *testing.T) {
	ex := &exactOnly{}
	b := New(&bucket{}, ex, Options{})
	defer b.Close()
	if _, err := b.Allow(context.Background(), "k", state.Limit{Algorithm: state.FixedWindow, Count: 1, Period: time.Second}, time.Now()); err != nil || ex.calls != 1 {
		t.Fatalf("fixed window: err %v, exact calls %d; want it decided by the exact store", err, ex.calls)
	}
}

func TestSharedStoreErrorReachesCaller(t *testing.T) {
	down := errors.New("down")
	b := New(&bucket{err: down}, &exactOnly{}, Options{})
	defer b.Close()
	if _, err := b.Allow(context.Background(), "k", state.Limit{Count: 1, Period: time.Second, Burst: 1}, time.Now()); !errors.Is(err, down) {
		t.Fatalf("err %v, want the shared store's", err)
	}
}

// Several nodes sharing one bucket never admit more than it holds. The rate is slow enough
// (one token an hour) that the wall time the test takes refills nothing: background batch
// requests are stamped with the clock, not with the requests' now.
func TestNodesNeverExceedTheBucket(t *testing.T) {
	shared := &bucket{}
	l := state.Limit{Count: 1, Period: time.Hour, Burst: 200}
	now := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := 0
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := New(shared, &exactOnly{}, Options{Batch: 7})
			defer b.Close()
			n := 0
			for range 500 {
				if d, _ := b.Allow(context.Background(), "k", l, now); d.Allowed {
					n++
				}
			}
			mu.Lock()
			allowed += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	if allowed > 200 || allowed < 200-3*7 {
		t.Fatalf("3 nodes admitted %d at one instant from a burst of 200, want 200 minus at most a batch each", allowed)
	}
}

func BenchmarkAllowHeld(b *testing.B) {
	l := state.Limit{Count: 1e9, Period: time.Second, Burst: 1e9}
	bl := New(&bucket{}, &exactOnly{}, Options{})
	defer bl.Close()
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		bl.Allow(ctx, "hot", l, now)
	}
}
