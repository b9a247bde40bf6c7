package serve

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable time for token pools.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakePool is a token pool on a fake clock; the test moves time with step, which also does what
// the pool's timer would.
type fakePool struct {
	*tokenPool
	clock *fakeClock
}

func newFakePool(t *testing.T, perMinute float64) *fakePool {
	c := newFakeClock()
	p := &fakePool{newTokenPool(perMinute, 100, c.now), c}
	t.Cleanup(p.close)
	return p
}

func (p *fakePool) step(d time.Duration) {
	p.clock.advance(d)
	p.fire()
}

// queued waits until n calls wait in the pool.
func (p *fakePool) queued(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.mu.Lock()
		w := p.waiting
		p.mu.Unlock()
		if w == n {
			return
		}
	}
	t.Fatalf("%d calls never queued", n)
}

// waitAsync starts a waiting call and reports its outcome, with its name, on out.
func (p *fakePool) waitAsync(ctx context.Context, name string, tier int, n float64, out chan<- string) {
	go func() {
		if _, err := p.wait(ctx, tier, n); err != nil {
			out <- name + " refused"
			return
		}
		out <- name
	}()
}

func recv(t *testing.T, out <-chan string) string {
	t.Helper()
	select {
	case s := <-out:
		return s
	case <-time.After(5 * time.Second):
		t.Fatal("no call was decided")
		return ""
	}
}

func none(t *testing.T, out <-chan string) {
	t.Helper()
	select {
	case s := <-out:
		t.Fatalf("%s decided too early", s)
	case <-time.After(20 * time.Millisecond):
	}
}

var (
	tierCritical = int(PriorityCritical.level())
	tierMedium   = int(PriorityMedium.level())
	tierLow      = int(PriorityLow.level())
)

// TestTokenPoolPriority: with tokens short, a critical call that came after a low one is
// admitted first, calls of one tier in their order, and a low call is not admitted ahead of a
// waiting more important one even when it would fit.
func TestTokenPoolPriority(t *testing.T) {
	p := newFakePool(t, 600) // 10 tokens a second, a bucket of 100
	if _, ok := p.take(tierLow, 100); !ok {
		t.Fatal("a full bucket did not admit its burst")
	}
	if _, ok := p.take(tierCritical, 1); ok {
		t.Fatal("an empty bucket admitted a call")
	}
	out := make(chan string, 8)
	ctx := context.Background()
	p.waitAsync(ctx, "low", tierLow, 50, out)
	p.queued(t, 1)
	p.waitAsync(ctx, "critical-1", tierCritical, 50, out)
	p.queued(t, 2)
	p.waitAsync(ctx, "critical-2", tierCritical, 20, out)
	p.queued(t, 3)
	p.step(4 * time.Second) // 40 tokens: not enough for the head
	none(t, out)
	p.step(time.Second)
	if got := recv(t, out); got != "critical-1" {
		t.Fatalf("first admitted: %s, want critical-1", got)
	}
	// A small low call that would fit still waits behind the waiting critical one.
	if _, ok := p.take(tierLow, 1); ok {
		t.Fatal("a low call overtook a waiting critical one")
	}
	p.step(2 * time.Second)
	if got := recv(t, out); got != "critical-2" {
		t.Fatalf("second admitted: %s, want critical-2", got)
	}
	p.step(4 * time.Second)
	none(t, out)
	p.step(time.Second)
	if got := recv(t, out); got != "low" {
		t.Fatalf("third admitted: %s, want low", got)
	}
	st := p.snapshot()
	if st[tierCritical].Admitted != 70 || st[tierLow].Admitted != 150 || st[tierLow].Queued != 50 || st[tierLow].Refused != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenPoolSettle: an overestimate is given back at once; a shortfall is a debt that
// delays the next admissions until the bucket has refilled it.
func TestTokenPoolSettle(t *testing.T) {
	p := newFakePool(t, 600)
	g, ok := p.take(tierMedium, 100)
	if !ok {
		t.Fatal("not admitted")
	}
	p.settle(g, 40) // 60 back
	if _, ok := p.take(tierMedium, 60); !ok {
		t.Fatal("the refund was not given back")
	}
	if p.win.sum != 100 {
		t.Fatalf("the minute holds %v, want the 40 used and the 60 taken again", p.win.sum)
	}
	p.step(10 * time.Second) // the bucket is full again
	g, _ = p.take(tierMedium, 50)
	p.settle(g, 250) // 200 more than estimated: the bucket is at -150
	p.step(15 * time.Second)
	if _, ok := p.take(tierMedium, 10); ok {
		t.Fatal("admitted while the debt is not paid")
	}
	p.step(2 * time.Second) // -150 + 170 = 20
	if _, ok := p.take(tierMedium, 10); !ok {
		t.Fatal("not admitted after the debt was paid")
	}
}

// TestTokenPoolBatchSpare: batch takes only spare tokens: never while an interactive call
// waits, and never the bucket's last quarter.
func TestTokenPoolBatchSpare(t *testing.T) {
	p := newFakePool(t, 600)
	p.take(tierMedium, 70) // 30 left
	if _, ok := p.take(batchService, 10); ok {
		t.Fatal("batch took from the bucket's reserve")
	}
	if _, ok := p.take(tierLow, 10); !ok {
		t.Fatal("an interactive call was refused spare tokens")
	}
	out := make(chan string, 4)
	ctx := context.Background()
	p.waitAsync(ctx, "batch", batchService, 10, out)
	p.queued(t, 1)
	p.waitAsync(ctx, "medium", tierMedium, 60, out)
	p.queued(t, 2)
	p.step(4 * time.Second) // 60
	if got := recv(t, out); got != "medium" {
		t.Fatalf("admitted %s, want the medium call before batch", got)
	}
	p.step(3 * time.Second) // 30: batch needs 10 + 25
	none(t, out)
	p.step(time.Second)
	if got := recv(t, out); got != "batch" {
		t.Fatalf("admitted %s, want batch", got)
	}
}

// TestTokenPoolWaitEnds: a wait that ends leaves the queue, and the calls behind it move up.
func TestTokenPoolWaitEnds(t *testing.T) {
	p := newFakePool(t, 600)
	p.take(tierMedium, 100)
	out := make(chan string, 4)
	ctx, cancel := context.WithCancel(context.Background())
	p.waitAsync(ctx, "big", tierCritical, 100, out)
	p.queued(t, 1)
	p.waitAsync(context.Background(), "small", tierLow, 10, out)
	p.queued(t, 2)
	p.step(time.Second) // 10: fits small, but big is ahead
	none(t, out)
	cancel()
	// Both waiters' goroutines report; which one does first is up to the scheduler.
	got := map[string]bool{recv(t, out): true, recv(t, out): true}
	if !got["big refused"] || !got["small"] {
		t.Fatalf("got %v, want big refused and small admitted once big left", got)
	}
	if st := p.snapshot(); st[tierCritical].Refused != 100 {
		t.Fatalf("stats %+v", st)
	}
}

// TestTokenPoolMinute: whatever the demand, no 60 seconds see more than the limit admitted,
// for requests (rpm 10) and tokens (tpm 600, calls of varying size with settlements), and
// the limit is nearly used.
func TestTokenPoolMinute(t *testing.T) {
	for _, tt := range []struct {
		name      string
		perMinute float64
		sizes     []float64
	}{
		{"rpm 10", 10, []float64{1}},
		{"rpm 1", 1, []float64{1}},
		{"tpm 600", 600, []float64{40, 7, 120, 33}},
	} {
		p := newFakePool(t, tt.perMinute)
		type admission struct {
			at time.Duration
			n  float64
		}
		var log []admission
		var elapsed time.Duration
		for i := 0; elapsed < 5*time.Minute; i++ {
			n := tt.sizes[i%len(tt.sizes)]
			if g, ok := p.take(tierMedium, n); ok {
				log = append(log, admission{elapsed, n})
				if len(tt.sizes) > 1 && i%3 == 0 {
					p.settle(g, n/2) // an overestimate, given back
					log[len(log)-1].n = n / 2
				}
			}
			step := 100 * time.Millisecond
			elapsed += step
			p.step(step)
		}
		var total float64
		for i, a := range log {
			var in float64
			for _, b := range log[i:] {
				if b.at-a.at < time.Minute {
					in += b.n
				}
			}
			if in > tt.perMinute {
				t.Fatalf("%s: %v admitted in the minute from %v", tt.name, in, a.at)
			}
			total += a.n
		}
		if min := tt.perMinute * 4; total < min {
			t.Fatalf("%s: %v admitted in 5 minutes, want at least %v", tt.name, total, min)
		}
	}
}

// TestTokenPoolFullQueue: a full queue makes room for a more important call by refusing the
// newest of the least important; a call with nothing below it is refused.
func TestTokenPoolFullQueue(t *testing.T) {
	c := newFakeClock()
	p := &fakePool{newTokenPool(600, 2, c.now), c}
	t.Cleanup(p.close)
	p.take(tierMedium, 100)
	out := make(chan string, 4)
	ctx := context.Background()
	p.waitAsync(ctx, "low-1", tierLow, 10, out)
	p.queued(t, 1)
	p.waitAsync(ctx, "batch", batchService, 10, out)
	p.queued(t, 2)
	p.waitAsync(ctx, "critical", tierCritical, 10, out)
	if got := recv(t, out); got != "batch refused" {
		t.Fatalf("got %s, want batch pushed out", got)
	}
	p.queued(t, 2)
	if _, err := p.wait(ctx, tierLow, 10); !errors.Is(err, errPushedOut) {
		t.Fatalf("a low call in a queue full of low and critical ones: %v", err)
	}
	p.close()
	for range 2 {
		if got := recv(t, out); got != "critical refused" && got != "low-1 refused" {
			t.Fatalf("after close: %s", got)
		}
	}
}

func BenchmarkTokenPoolTake(b *testing.B) {
	b.ReportAllocs()
	p := newTokenPool(6e12, 100, time.Now)
	for b.Loop() {
		g, ok := p.take(tierMedium, 500)
		if !ok {
			b.Fatal("not admitted")
		}
		p.settle(g, 400)
	}
}

// TestTokenPoolSetLimit: a cluster share resizes the bucket (a level above the new size is
// cut, one below is not raised), the minute window keeps what was admitted under a larger
// share, a share of 0 admits nothing, a waiting call is admitted as soon as the share grows,
// and a call larger than the share waits for a larger one.
func TestTokenPoolSetLimit(t *testing.T) {
	take := func(t *testing.T, p *fakePool, n float64, want bool) {
		t.Helper()
		if _, ok := p.take(tierMedium, n); ok != want {
			t.Fatalf("take(%v) = %v, want %v", n, ok, want)
		}
	}
	t.Run("bucket", func(t *testing.T) {
		p := newFakePool(t, 600)
		p.setLimit(300) // 5 a second, a bucket of 50
		take(t, p, 50, true)
		take(t, p, 1, false)
		p.step(time.Second)
		take(t, p, 5, true)
		take(t, p, 1, false)
		p.setLimit(600) // the level is not raised…
		take(t, p, 1, false)
		p.step(time.Second) // …it refills at the new rate
		take(t, p, 10, true)
	})
	t.Run("window", func(t *testing.T) {
		p := newFakePool(t, 600)
		take(t, p, 100, true)
		p.setLimit(60) // 1 a second; the 100 admitted stay in the minute
		if u := p.used(); u != 100 {
			t.Fatalf("used %v, want 100", u)
		}
		p.step(30 * time.Second)
		take(t, p, 1, false)
		p.step(31 * time.Second) // the second of the 100 left the window
		take(t, p, 1, true)
		if u := p.used(); u != 1 {
			t.Fatalf("used %v, want 1", u)
		}
	})
	t.Run("zero, then a waiter admitted when the share grows", func(t *testing.T) {
		p := newFakePool(t, 600)
		p.setLimit(0)
		take(t, p, 1, false)
		if d := p.retryIn(tierMedium, 1); d > maxReadyIn {
			t.Fatalf("retryIn %v on a share of 0, want at most %v", d, maxReadyIn)
		}
		out := make(chan string, 1)
		p.waitAsync(context.Background(), "waiter", tierMedium, 1, out)
		p.queued(t, 1)
		p.step(10 * time.Second)
		none(t, out)
		p.setLimit(600) // no step: the share's change admits it
		if got := recv(t, out); got != "waiter" {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("a call larger than the share", func(t *testing.T) {
		p := newFakePool(t, 600)
		p.setLimit(100)
		out := make(chan string, 1)
		p.waitAsync(context.Background(), "large", tierMedium, 500, out)
		p.queued(t, 1)
		p.step(time.Minute)
		none(t, out)
		p.setLimit(600)
		p.step(10 * time.Second) // a full bucket admits a call larger than it
		if got := recv(t, out); got != "large" {
			t.Fatalf("got %s", got)
		}
	})
	t.Run("inherit", func(t *testing.T) {
		old := newFakePool(t, 600)
		take(t, old, 80, true)
		p := &fakePool{newTokenPool(600, 100, old.clock.now), old.clock}
		t.Cleanup(p.close)
		p.setLimit(0) // a cluster's new pool, before its lease
		p.inherit(old.tokenPool)
		p.setLimit(120) // a bucket of 20, a minute of 120
		if u := p.used(); u != 80 {
			t.Fatalf("used %v after inheriting, want 80", u)
		}
		take(t, p, 20, true) // old's level of 20 fits the new bucket
		take(t, p, 1, false)
		p.step(10 * time.Second)
		take(t, p, 20, true)
		p.step(10 * time.Second)
		take(t, p, 1, false) // the bucket refilled, but 80 + 20 + 20 fill the minute of 120
	})
	t.Run("arrivals", func(t *testing.T) {
		p := newFakePool(t, 600)
		p.arrive(0.2) // at least one
		p.arrive(41.6)
		if got := p.arrived.Load(); got != 43 {
			t.Fatalf("arrived %d, want 43", got)
		}
	})
}

// TestTokenPoolSharesKeepTheMinute runs two nodes' token pools on shares that follow their
// demand as cluster leases do (each node's share at most what the other's share and the other's
// admissions in the minute leave, cluster.Usage), with the demand moving from one node to the
// other every 20 s: what both admitted in any 60 s stays within the limit, and most of it is used.
func TestTokenPoolSharesKeepTheMinute(t *testing.T) {
	const limit = 6000.0
	c := newFakeClock()
	nodes := [2]*tokenPool{newTokenPool(limit, 100, c.now), newTokenPool(limit, 100, c.now)}
	shares := [2]float64{limit / 2, limit / 2}
	for i, p := range nodes {
		t.Cleanup(p.close)
		p.setLimit(shares[i])
	}
	type admission struct {
		at time.Duration
		n  float64
	}
	var log []admission
	const step, renewEvery, total = 100 * time.Millisecond, 250 * time.Millisecond, 5 * time.Minute
	for elapsed := time.Duration(0); elapsed < total; elapsed += step {
		busy := int(elapsed/(20*time.Second)) % 2 // the node with the demand
		for i, p := range nodes {
			sizes := []float64{17, 90, 260}
			if i != busy {
				sizes = sizes[:1] // a trickle
			}
			for _, n := range sizes {
				if _, ok := p.take(tierMedium, n); ok {
					log = append(log, admission{elapsed, n})
				}
			}
		}
		if elapsed%renewEvery == 0 {
			for i, p := range nodes {
				o := 1 - i
				want := limit * 0.1
				if i == busy {
					want = limit * 0.9
				}
				room := limit - max(shares[o], nodes[o].used())
				shares[i] = max(0, min(want, room))
				p.setLimit(shares[i])
			}
		}
		c.advance(step)
	}
	var sum float64
	for i, a := range log {
		var in float64
		for _, b := range log[i:] {
			if b.at-a.at < time.Minute {
				in += b.n
			}
		}
		if in > limit {
			t.Fatalf("%v admitted across both nodes in the minute from %v, above the limit %v", in, a.at, limit)
		}
		sum += a.n
	}
	if got, want := sum/total.Minutes(), 0.7*limit; got < want {
		t.Fatalf("%.0f admitted a minute, want at least %.0f", got, want)
	}
	t.Logf("%.0f admitted a minute of %v", sum/total.Minutes(), limit)
}
