package tps

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestAdmitConcurrent: many goroutines through the blocking path with Run on the wall clock.
// Every request ends admitted or rejected (nobody hangs), the counters add up, and CRITICAL,
// whose demand fits, is never rejected.
func TestAdmitConcurrent(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 400, Tick: ms(50), QueueMax: 100, QueueTimeout: ms(300), Services: []Service{
		{Name: "crit", Priority: Critical, Min: 50}, {Name: "high", Priority: High}, {Name: "low", Priority: Low},
	}}
	p := newTestPool(t, cfg, "waterfill")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()

	var admitted, rejected [3]atomic.Int64
	var wg sync.WaitGroup
	for g := range 48 {
		svc := g % 3
		wg.Go(func() {
			n := 30
			if svc == 0 {
				n = 5 // CRITICAL: about 80/s in total, well within the capacity
			}
			for range n {
				err := p.Admit(ctx, svc)
				var rej *RejectedError
				switch {
				case err == nil:
					admitted[svc].Add(1)
				case errors.As(err, &rej):
					if rej.Pool != "p" || rej.Service != cfg.Services[svc].Name || rej.RetryAfter < time.Second {
						t.Errorf("%+v", rej)
					}
					rejected[svc].Add(1)
				default:
					t.Errorf("Admit: %v", err)
					return
				}
				time.Sleep(ms(3))
			}
		})
	}
	wg.Wait()
	stop()
	<-done
	if ctx.Err() != nil {
		t.Fatal("requests did not finish in time")
	}
	s := p.Snapshot()
	for i, sv := range s.Services {
		if sv.Arrived != sv.Admitted+sv.RejectedTotal+sv.Cancelled ||
			int64(sv.Admitted) != admitted[i].Load() || int64(sv.RejectedTotal) != rejected[i].Load() {
			t.Fatalf("service %d counters %+v; seen admitted %d rejected %d", i, sv, admitted[i].Load(), rejected[i].Load())
		}
	}
	if rejected[0].Load() != 0 {
		t.Fatalf("CRITICAL rejected %d times", rejected[0].Load())
	}
	if s.Queued != 0 {
		t.Fatalf("%d still queued", s.Queued)
	}
}

func TestAdmitContext(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, QueueTimeout: time.Hour, Services: []Service{{Name: "a", Priority: Low}}}
	p, _ := fixedPool(t, cfg, 0)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	ctx, cancel := context.WithTimeout(context.Background(), ms(50))
	defer cancel()
	if err := p.Admit(ctx, 0); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Admit with no capacity: %v", err)
	}
	if s := p.Snapshot(); s.Queued != 0 || s.Services[0].Cancelled != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestRunStopRejectsWaiters(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, QueueTimeout: time.Hour, Services: []Service{{Name: "a", Priority: Low}}}
	p, _ := fixedPool(t, cfg, 0)
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- p.Admit(context.Background(), 0) }()
	}
	for i := 0; p.Snapshot().Queued < 3; i++ {
		if i > 10000 {
			t.Fatal("the requests did not queue")
		}
		time.Sleep(time.Millisecond)
	}
	stop()
	<-done
	for range 3 {
		var rej *RejectedError
		if err := <-errs; !errors.As(err, &rej) || rej.Reason != reasonClosed.String() {
			t.Fatalf("waiter after Run stopped: %v", err)
		}
	}
	if err := p.Admit(context.Background(), 0); err == nil {
		t.Fatal("a closed pool queued a request")
	}
}

// TestAdmitReleasedByRun: a request that must wait for a token is released by Run's timer.
func TestAdmitReleasedByRun(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, Services: []Service{{Name: "a", Priority: Low}}}
	p, _ := fixedPool(t, cfg, 50) // a token every 20 ms
	p.buckets[0].tokens = 0
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for range 5 {
		if err := p.Admit(ctx, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func benchPool(b *testing.B) *Pool {
	cfg := PoolConfig{Name: "p", Capacity: 4e9, Tick: time.Hour, Services: testServices()}
	p, err := NewPool(cfg, &fixedAlloc{shares: []float64{1e9, 1e9, 1e9, 1e9}})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkAdmit is the live fast path: a token is free and nothing waits.
func BenchmarkAdmit(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Admit(ctx, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAdmitParallel(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		svc := int(n.Add(1)) % 4
		for pb.Next() {
			if err := p.Admit(ctx, svc); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkArrive is the simulator's fast path on a virtual clock.
func BenchmarkArrive(b *testing.B) {
	p := benchPool(b)
	b.ReportAllocs()
	now := time.Duration(0)
	for b.Loop() {
		now += time.Microsecond
		if d, _ := p.Arrive(2, now); d != Admitted {
			b.Fatal(d)
		}
	}
}

// BenchmarkQueued: an arrival that queues and is released by Advance a token later.
func BenchmarkQueued(b *testing.B) {
	cfg := PoolConfig{Name: "p", Capacity: 1e6, Tick: time.Hour, Services: []Service{{Name: "a", Priority: Medium}}}
	p, _ := fixedPool(b, cfg, 1e3)
	p.buckets[0].tokens = 0
	var out []Outcome
	now := time.Duration(0)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := p.Arrive(0, now); d != Queued {
			b.Fatal(d)
		}
		now = p.NextEvent()
		if out = p.Advance(now, out[:0]); len(out) != 1 {
			b.Fatal(out)
		}
	}
}

func BenchmarkTick(b *testing.B) {
	for _, name := range ClassicAllocators {
		b.Run(name, func(b *testing.B) {
			cfg := PoolConfig{Name: "p", Capacity: 1500, Tick: ms(250), Services: testServices()}
			p := newTestPool(b, cfg, name)
			now := time.Duration(0)
			b.ReportAllocs()
			for b.Loop() {
				now += ms(250)
				p.Tick(now)
			}
		})
	}
}

// BenchmarkSimulatedMinute drives a pool through one simulated minute of overload (2100/s
// offered to a 1500/s cap, 4 levels) on a virtual clock, as the simulator does.
func BenchmarkSimulatedMinute(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	arr := poissonArrivals(rng, []float64{300, 600, 400, 800}, time.Minute)
	for _, name := range ClassicAllocators {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				cfg := PoolConfig{Name: "p", Capacity: 1500, Tick: ms(250), Services: []Service{
					{Name: "c", Priority: Critical, Min: 300}, {Name: "h", Priority: High}, {Name: "m", Priority: Medium}, {Name: "l", Priority: Low}}}
				var r run
				r.drive(newTestPool(b, cfg, name), arr, time.Minute)
			}
		})
	}
}
