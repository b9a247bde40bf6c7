package tps

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// fixedPool builds a pool whose allocator hands out shares; the capacity they leave is not
// shared (until the next Tick), so that only the shares given limit the services.
func fixedPool(t testing.TB, cfg PoolConfig, shares ...float64) (*Pool, *fixedAlloc) {
	t.Helper()
	a := &fixedAlloc{shares: shares}
	p, err := NewPool(cfg, a)
	if err != nil {
		t.Fatal(err)
	}
	p.buckets[p.sharedBucket()] = bucket{}
	return p, a
}

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

// TestWindowNeverExceeded: in no sliding second do admissions exceed the window cap, whatever
// the allocator, shares, arrivals and feedback; and under steady overload the cap is used.
func TestWindowNeverExceeded(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for n := range 60 {
		svcs := make([]Service, 1+rng.IntN(5))
		capacity := 5 + rng.Float64()*300
		for i := range svcs {
			svcs[i] = Service{Name: string(rune('a' + i)), Priority: Priority(rng.IntN(4))}
			if rng.IntN(2) == 0 {
				svcs[i].Min = capacity / float64(len(svcs)) * rng.Float64()
			}
		}
		cfg := PoolConfig{Name: "p", Capacity: capacity, Tick: ms(50 + rng.IntN(500)), QueueMax: 1 + rng.IntN(300),
			QueueTimeout: ms(1 + rng.IntN(3000)), Services: svcs}
		alloc := ClassicAllocators[rng.IntN(len(ClassicAllocators))]
		p := newTestPool(t, cfg, alloc)
		rates := make([]float64, len(svcs))
		for i := range rates {
			rates[i] = capacity * 2 * rng.Float64()
		}
		until := time.Duration(2+rng.IntN(3)) * time.Second
		var r run
		feedback := n%3 == 0
		if feedback {
			r.hook = func(now time.Duration) {
				switch rng.IntN(400) {
				case 0:
					p.Record429(now, ms(rng.IntN(1500)))
				case 1:
					p.RecordHeadroom(now, float64(rng.IntN(int(capacity))), ms(rng.IntN(1000)))
				}
			}
		}
		r.drive(p, poissonArrivals(rng, rates, until), until)
		limit := int(p.windowLimitOf(p.base))
		if got := maxInWindow(r.admits); got > limit {
			t.Fatalf("case %d (%s, feedback %v): %d admissions in one sliding second, cap %d", n, alloc, feedback, got, limit)
		}
	}
}

// TestWindowUsesItsCap: one service far above the cap gets the cap, to within a slot's worth,
// in every second after the first.
func TestWindowUsesItsCap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	cfg := PoolConfig{Name: "p", Capacity: 500, Tick: ms(250), Services: []Service{{Name: "a", Priority: Low}}}
	p := newTestPool(t, cfg, "waterfill")
	var r run
	r.drive(p, poissonArrivals(rng, []float64{2000}, 10*time.Second), 10*time.Second)
	perSecond := make([]int, 10)
	for _, a := range r.admits {
		perSecond[a.t/time.Second]++
	}
	for s, n := range perSecond[1:] {
		if n > 490 || n < 480 {
			t.Fatalf("second %d: %d admissions, want about 490 (the cap): %v", s+1, n, perSecond)
		}
	}
}

func TestFirstTickMins(t *testing.T) {
	for _, alloc := range ClassicAllocators {
		t.Run(alloc, func(t *testing.T) {
			cfg := PoolConfig{Name: "p", Capacity: 1000, Tick: ms(250), Services: []Service{
				{Name: "c", Priority: Critical, Min: 100},
				{Name: "h", Priority: High, Min: 200},
				{Name: "m", Priority: Medium, Min: 50},
				{Name: "l", Priority: Low, Min: 300},
			}}
			p := newTestPool(t, cfg, alloc)
			// Every service sends exactly its min, evenly, during the first tick: nothing waits.
			var arr []arrival
			for svc, s := range cfg.Services {
				gap := time.Duration(float64(time.Second) / s.Min)
				for at := time.Duration(0); at < ms(250); at += gap {
					arr = append(arr, arrival{at, svc})
				}
			}
			slices.SortStableFunc(arr, func(a, b arrival) int { return int(a.t - b.t) })
			for _, a := range arr {
				if d, _ := p.Arrive(a.svc, a.t); d != Admitted {
					t.Fatalf("service %d at %v: %v before the first tick", a.svc, a.t, d)
				}
			}
		})
	}
}

func TestStrictPriorityAndFIFO(t *testing.T) {
	// Capacity 10 (window cap 9): the first 9 requests fill the window, the rest queue and
	// leave when the first second's slots expire, most important first, oldest first within
	// a level, whichever service they belong to.
	cfg := PoolConfig{Name: "p", Capacity: 10, Tick: time.Hour, Services: []Service{
		{Name: "low", Priority: Low}, {Name: "high1", Priority: High}, {Name: "crit", Priority: Critical}, {Name: "high2", Priority: High},
	}}
	p, _ := fixedPool(t, cfg, 2.5, 2.5, 2.5, 2.5)
	for i := range 9 {
		p.buckets[i%4].tokens = 100 // plenty of tokens: only the window limits
		if d, _ := p.Arrive(i%4, 0); d != Admitted {
			t.Fatalf("request %d: %v", i, d)
		}
	}
	order := []int{0, 1, 3, 0, 2, 3, 1, 2}
	tickets := map[Ticket]int{}
	for k, svc := range order {
		d, tk := p.Arrive(svc, ms(10*(k+1)))
		if d != Queued {
			t.Fatalf("arrival %d: %v, want queued", k, d)
		}
		tickets[tk] = k
	}
	if next := p.NextEvent(); next != time.Second+slotWidth {
		t.Fatalf("NextEvent = %v, want when the first slot leaves the window", next)
	}
	out := p.Advance(p.NextEvent(), nil)
	var got []int
	for _, o := range out {
		if !o.Admitted {
			t.Fatalf("rejected: %+v", o)
		}
		got = append(got, tickets[o.Ticket])
	}
	// crit (arrivals 4, 7), then high1/high2 by arrival (1, 2, 5, 6), then low (0, 3).
	want := []int{4, 7, 1, 2, 5, 6, 0, 3}
	if len(got) != len(want) {
		t.Fatalf("released %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("released %v, want %v", got, want)
		}
	}
}

func TestQueueReleasesAsTokensCome(t *testing.T) {
	// 4 tokens per second, burst 1 (1 s tick → burst 4; start empty).
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Second, Services: []Service{{Name: "a", Priority: High}}}
	p, _ := fixedPool(t, cfg, 4)
	p.buckets[0].tokens = 0
	var tk []Ticket
	for range 3 {
		d, x := p.Arrive(0, 0)
		if d != Queued {
			t.Fatal(d)
		}
		tk = append(tk, x)
	}
	for i, want := range []time.Duration{ms(250), ms(500), ms(750)} {
		if next := p.NextEvent(); next != want {
			t.Fatalf("release %d: NextEvent %v, want %v", i, next, want)
		}
		if out := p.Advance(want-1, nil); len(out) != 0 {
			t.Fatalf("released early: %+v", out)
		}
		out := p.Advance(want, nil)
		if len(out) != 1 || !out[0].Admitted || out[0].Ticket != tk[i] || out[0].At != want {
			t.Fatalf("release %d: %+v", i, out)
		}
	}
	if p.NextEvent() != Never {
		t.Fatalf("NextEvent %v with an empty queue", p.NextEvent())
	}
}

func TestDeadlineRejects(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, QueueTimeout: ms(300), Services: []Service{{Name: "a", Priority: Critical}}}
	p, _ := fixedPool(t, cfg, 0)
	d, tk := p.Arrive(0, ms(100))
	if d != Queued {
		t.Fatal(d)
	}
	if p.NextEvent() != ms(400) {
		t.Fatalf("NextEvent %v, want the deadline 400ms", p.NextEvent())
	}
	if out := p.Advance(ms(399), nil); len(out) != 0 {
		t.Fatalf("%+v", out)
	}
	out := p.Advance(ms(400), nil)
	if len(out) != 1 || out[0].Admitted || out[0].Ticket != tk || out[0].Arrived != ms(100) || out[0].At != ms(400) {
		t.Fatalf("%+v", out)
	}
	if s := p.Snapshot().Services[0]; s.RejectedTotal != 1 || s.Arrived != 1 || s.Queued != 0 {
		t.Fatalf("%+v", s)
	}
	if p.Cancel(tk, ms(500)) {
		t.Fatal("cancelled a rejected ticket")
	}
}

func TestBorrowing(t *testing.T) {
	svcs := []Service{
		{Name: "crit", Priority: Critical}, {Name: "high", Priority: High},
		{Name: "high2", Priority: High}, {Name: "low", Priority: Low},
	}
	cfg := PoolConfig{Name: "p", Capacity: 1000, Tick: time.Second, Services: svcs}
	t.Run("more important borrows an idle token", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 0, 0, 0, 10)
		if d, _ := p.Arrive(1, 0); d != Admitted {
			t.Fatalf("high with no share, low idle: %v", d)
		}
		if got := p.buckets[3].tokens; got != 9 {
			t.Fatalf("low's bucket %v, want 9", got)
		}
		// Low's bucket is no longer full: not idle, so no more lending until it refills.
		if d, _ := p.Arrive(0, 0); d != Queued {
			t.Fatalf("crit borrowing from a non-idle bucket: %v", d)
		}
		// Low's own request still gets its token.
		if d, _ := p.Arrive(3, 0); d != Admitted {
			t.Fatalf("low: %v", d)
		}
	})
	t.Run("same level lends", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 0, 0, 10, 0)
		if d, _ := p.Arrive(1, 0); d != Admitted {
			t.Fatalf("high borrowing from idle high2: %v", d)
		}
	})
	t.Run("never upward", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 10, 10, 10, 0)
		if d, _ := p.Arrive(3, 0); d != Queued {
			t.Fatalf("low borrowing from more important services: %v", d)
		}
		if d, _ := p.Arrive(3, ms(10)); d != Queued {
			t.Fatal(d)
		}
	})
	t.Run("a lender with a queue does not lend", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 0, 0, 0, 10)
		p.buckets[3].tokens = 0
		if d, _ := p.Arrive(3, 0); d != Queued { // low waits for its own token
			t.Fatal(d)
		}
		p.buckets[3].tokens = 10 // as if it had refilled
		if d, _ := p.Arrive(0, 0); d != Queued {
			t.Fatalf("crit took a token of a service with a queue: %v", d)
		}
	})
	t.Run("shared capacity serves anyone, most important waiting first", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 0, 0, 0, 0)
		p.buckets[p.sharedBucket()].setRate(4, time.Second) // a token every 250 ms, burst 4
		p.buckets[p.sharedBucket()].tokens = 1
		if d, _ := p.Arrive(3, 0); d != Admitted {
			t.Fatalf("low on a shared token: %v", d)
		}
		_, low := p.Arrive(3, ms(10))
		_, crit := p.Arrive(0, ms(20))
		if p.NextEvent() != ms(250) {
			t.Fatalf("NextEvent %v, want the next shared token at 250ms", p.NextEvent())
		}
		if out := p.Advance(ms(250), nil); len(out) != 1 || out[0].Ticket != crit {
			t.Fatalf("first shared token went to %+v, want crit", out)
		}
		if out := p.Advance(ms(500), nil); len(out) != 1 || out[0].Ticket != low {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("queued requests borrow when a bucket fills", func(t *testing.T) {
		p, _ := fixedPool(t, cfg, 0, 0, 0, 4) // low: 4/s, burst 4
		p.buckets[3].tokens = 2
		d, tk := p.Arrive(0, 0)
		if d != Queued {
			t.Fatal(d)
		}
		if p.NextEvent() != ms(500) {
			t.Fatalf("NextEvent %v, want 500ms (low's bucket full)", p.NextEvent())
		}
		out := p.Advance(ms(500), nil)
		if len(out) != 1 || out[0].Ticket != tk || !out[0].Admitted {
			t.Fatalf("%+v", out)
		}
	})
}

func TestEvictionForMoreImportant(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, QueueMax: 3, Services: []Service{
		{Name: "crit", Priority: Critical}, {Name: "low1", Priority: Low}, {Name: "low2", Priority: Low}, {Name: "med", Priority: Medium},
	}}
	p, _ := fixedPool(t, cfg, 0, 0, 0, 0)
	_, a := p.Arrive(1, ms(1))
	_, b := p.Arrive(1, ms(2))
	_, c := p.Arrive(2, ms(3))
	// Full: a more important arrival takes the place of the newest request of the longest
	// LOW queue (low1's b), not of low2's c even though c is newer.
	if d, _ := p.Arrive(0, ms(4)); d != Queued {
		t.Fatalf("crit into a full queue of lows: %v", d)
	}
	out := p.Advance(ms(4), nil)
	if len(out) != 1 || out[0].Ticket != b || out[0].Admitted {
		t.Fatalf("evicted %+v, want b", out)
	}
	if d, _ := p.Arrive(3, ms(5)); d != Queued { // medium evicts a low too
		t.Fatal(d)
	}
	// Now crit, med and one low wait; a low arrival cannot evict anyone.
	if d, _ := p.Arrive(2, ms(6)); d != Rejected {
		t.Fatalf("low into a full queue: %v", d)
	}
	_ = a
	_ = c
	if got := p.Snapshot().Queued; got != 3 {
		t.Fatalf("queued %d", got)
	}
}

func TestCancel(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: time.Hour, Services: []Service{{Name: "a", Priority: Low}}}
	p, _ := fixedPool(t, cfg, 0)
	_, x := p.Arrive(0, 0)
	_, y := p.Arrive(0, 0)
	if !p.Cancel(x, ms(1)) || p.Cancel(x, ms(1)) {
		t.Fatal("cancel once, then not again")
	}
	if s := p.Snapshot(); s.Queued != 1 || s.Services[0].Cancelled != 1 {
		t.Fatalf("%+v", s)
	}
	// The slot is reused; the old ticket must not match the new request.
	_, z := p.Arrive(0, ms(2))
	if z == x || p.Cancel(x, ms(3)) {
		t.Fatal("stale ticket cancelled a new request")
	}
	if !p.Cancel(y, ms(3)) || !p.Cancel(z, ms(3)) || p.NextEvent() != Never {
		t.Fatal("cancel all")
	}
}

// TestNextEventNeverLate: on random runs, an Advance at any time before NextEvent changes
// nothing, so a driver that sleeps until NextEvent misses no release or deadline; and after an
// Advance, NextEvent lies in the future, so a driver never spins.
func TestNextEventNeverLate(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	for n := range 60 {
		svcs := []Service{{Name: "c", Priority: Critical, Min: 10}, {Name: "h", Priority: High}, {Name: "l", Priority: Low, Min: 5}}
		cfg := PoolConfig{Name: "p", Capacity: 50 + rng.Float64()*200, Tick: ms(100 + rng.IntN(400)), QueueTimeout: ms(100 + rng.IntN(1000)), Services: svcs}
		p := newTestPool(t, cfg, ClassicAllocators[n%len(ClassicAllocators)])
		var r run
		if n%2 == 1 {
			r.hook = func(now time.Duration) {
				switch rng.IntN(300) {
				case 0:
					p.Record429(now, ms(rng.IntN(800)))
				case 1:
					p.RecordHeadroom(now, float64(rng.IntN(int(cfg.Capacity))), ms(rng.IntN(700)))
				}
			}
		}
		r.after = func(now, step time.Duration) {
			// Once advanced to now, nothing is left to do at now: a driver always moves on.
			next := p.NextEvent()
			if next <= now {
				t.Fatalf("case %d: NextEvent %v not after the time %v just advanced to\n%s", n, next, now, p.debugState(now))
			}
			// Nothing happens between now and the driver's next step, so an Advance there
			// must find nothing to do.
			if step-now > 1 {
				probe := now + 1 + time.Duration(rng.Int64N(int64(step-now-1)))
				if out := p.Advance(probe, nil); len(out) != 0 {
					t.Fatalf("case %d: outcome at %v before NextEvent %v: %+v", n, probe, next, out)
				}
			}
		}
		r.drive(p, poissonArrivals(rng, []float64{cfg.Capacity * rng.Float64(), cfg.Capacity * rng.Float64(), cfg.Capacity}, 3*time.Second), 3*time.Second)
	}
}

func TestTickObservation(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 100, Tick: ms(500), QueueMax: 2, Services: []Service{{Name: "a", Priority: High}, {Name: "b", Priority: Low}}}
	p, a := fixedPool(t, cfg, 4, 0)
	p.buckets[0].tokens = 2
	for range 3 { // 2 admitted, 1 queued
		p.Arrive(0, ms(100))
	}
	p.Arrive(1, ms(100)) // queued
	p.Arrive(1, ms(100)) // rejected: the queue is full
	p.Record429(ms(200), 0)
	p.Tick(ms(500))
	o := a.seen[len(a.seen)-1]
	if o.Now != ms(500) || o.Tick != ms(500) || o.Upstream429 != 1 {
		t.Fatalf("%+v", o)
	}
	want := []ServiceStats{{Demand: 6, Served: 4, Queued: 1}, {Demand: 4, Rejected: 2, Queued: 1}}
	for i, w := range want {
		g := o.Stats[i]
		if g.Demand != w.Demand || g.Served != w.Served || g.Rejected != w.Rejected || g.Queued != w.Queued {
			t.Fatalf("service %d: %+v, want %+v", i, g, w)
		}
	}
	// After a 429 the capacity dropped from what was sent (2 requests in the last second),
	// floored at 5% of the cap.
	if o.Capacity != 98*floorFraction {
		t.Fatalf("capacity %v", o.Capacity)
	}
	s := p.Snapshot()
	if s.Upstream429 != 1 || s.Services[0].Allocation != 4 || s.Services[0].Demand != 6 || s.Services[1].RejectedTotal != 1 {
		t.Fatalf("%+v", s)
	}
}

func TestFeedback(t *testing.T) {
	cfg := PoolConfig{Name: "p", Capacity: 1000, Tick: ms(100), Services: []Service{{Name: "a", Priority: High}}}
	t.Run("429 decreases from what was sent, once per second, then probes up", func(t *testing.T) {
		p := newTestPool(t, cfg, "waterfill")
		rng := rand.New(rand.NewPCG(1, 1))
		var r run
		r.drive(p, poissonArrivals(rng, []float64{2000}, 2*time.Second), 2*time.Second)
		p.Record429(2*time.Second, 0)
		if got := p.Snapshot().EffectiveCapacity; got != 980*decreaseFactor {
			t.Fatalf("after a 429: %v, want %v", got, 980*decreaseFactor)
		}
		p.Record429(2*time.Second+ms(500), 0) // within the same second: no second decrease
		if got := p.Snapshot().EffectiveCapacity; got != 980*decreaseFactor {
			t.Fatalf("second 429 within a second: %v", got)
		}
		p.Tick(2*time.Second + ms(600)) // a 429 this tick: no probe
		p.Tick(3*time.Second + ms(100)) // more than a second after the decrease: +2%/s × 0.5 s
		if got, want := p.Snapshot().EffectiveCapacity, 784+980*increasePerSec*0.5; !near(got, want) {
			t.Fatalf("after probing: %v, want %v", got, want)
		}
		for i := range 200 {
			p.Tick(3*time.Second + ms(100*(i+2)))
		}
		if got := p.Snapshot().EffectiveCapacity; got != 980 {
			t.Fatalf("probe stops at the cap: %v", got)
		}
	})
	t.Run("Retry-After pauses admissions", func(t *testing.T) {
		p := newTestPool(t, cfg, "waterfill")
		p.Record429(ms(10), ms(700))
		d, tk := p.Arrive(0, ms(20))
		if d != Queued || p.NextEvent() != ms(710) {
			t.Fatalf("%v, NextEvent %v", d, p.NextEvent())
		}
		if s := p.Snapshot(); s.PausedFor != ms(690) {
			t.Fatalf("paused for %v", s.PausedFor)
		}
		out := p.Advance(ms(710), nil)
		if len(out) != 1 || out[0].Ticket != tk || !out[0].Admitted {
			t.Fatalf("%+v", out)
		}
	})
	t.Run("headroom caps until its reset", func(t *testing.T) {
		p := newTestPool(t, cfg, "waterfill")
		p.RecordHeadroom(ms(100), 0, ms(300)) // nothing left for 300 ms
		if d, _ := p.Arrive(0, ms(150)); d != Queued {
			t.Fatal(d)
		}
		if p.NextEvent() != ms(400) {
			t.Fatalf("NextEvent %v, want the reset at 400ms", p.NextEvent())
		}
		out := p.Advance(ms(400), nil)
		if len(out) != 1 || !out[0].Admitted {
			t.Fatalf("%+v", out)
		}
		p.RecordHeadroom(ms(500), 50, ms(500)) // 100/s until 1s
		if got := p.Snapshot().EffectiveCapacity; got != 100 {
			t.Fatalf("headroom capacity %v", got)
		}
		p.Tick(ms(1000))
		if got := p.Snapshot().EffectiveCapacity; got != 980 {
			t.Fatalf("after the reset %v", got)
		}
	})
}
