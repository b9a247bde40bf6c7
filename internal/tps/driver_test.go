package tps

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// fixedAlloc hands out the shares it is given and remembers what it observed.
type fixedAlloc struct {
	shares []float64
	seen   []Observation
}

func (*fixedAlloc) Name() string { return "fixed" }

func (f *fixedAlloc) Allocate(obs *Observation, out []float64) {
	copy(out, f.shares)
	o := *obs
	o.Stats = slices.Clone(obs.Stats)
	f.seen = append(f.seen, o)
}

type arrival struct {
	t   time.Duration
	svc int
}

// admission is one request sent upstream.
type admission struct {
	t      time.Duration
	svc    int
	waited time.Duration
}

// run is what the simulator does: a virtual clock that jumps to the next tick, arrival or
// queue event, whichever comes first; at each time it ticks if due, calls Advance, then hands
// over the arrivals. It returns every admission in time order and every rejection.
type run struct {
	admits   []admission
	rejected []Outcome // queued then rejected; Outcome.Ticket is zero for rejections at arrival
	outcomes []Outcome
	// hook, if set, runs at every step before the pool is advanced (feedback calls).
	hook func(now time.Duration)
	// after, if set, runs once a step's arrivals are in, with the time of the next step.
	after func(now, next time.Duration)
}

func (r *run) drive(p *Pool, arrivals []arrival, until time.Duration) {
	tick := p.Config().Tick
	nextTick := tick
	i, last, stuck := 0, time.Duration(-1), 0
	for {
		now := min(nextTick, p.NextEvent())
		if i < len(arrivals) {
			now = min(now, arrivals[i].t)
		}
		if now > until {
			return
		}
		if now == last {
			if stuck++; stuck > 10000 {
				panic("virtual clock stuck at " + now.String() + "\n" + p.debugState(now))
			}
		} else {
			last, stuck = now, 0
		}
		if r.hook != nil {
			r.hook(now)
		}
		if now == nextTick {
			p.Tick(now)
			nextTick += tick
		}
		r.collect(p, now)
		for ; i < len(arrivals) && arrivals[i].t == now; i++ {
			switch d, _ := p.Arrive(arrivals[i].svc, now); d {
			case Admitted:
				r.admits = append(r.admits, admission{t: now, svc: arrivals[i].svc})
			case Rejected:
				r.rejected = append(r.rejected, Outcome{Service: arrivals[i].svc, Arrived: now, At: now})
			}
		}
		// Arrivals may have released queued requests (their outcomes carry the time).
		r.collect(p, now)
		if r.after != nil {
			next := min(nextTick, p.NextEvent())
			if i < len(arrivals) {
				next = min(next, arrivals[i].t)
			}
			r.after(now, next)
		}
	}
}

func (r *run) collect(p *Pool, now time.Duration) {
	r.outcomes = p.Advance(now, r.outcomes[:0])
	for _, o := range r.outcomes {
		if o.Admitted {
			r.admits = append(r.admits, admission{t: o.At, svc: o.Service, waited: o.At - o.Arrived})
		} else {
			r.rejected = append(r.rejected, o)
		}
	}
}

// maxInWindow is the largest number of admissions in any sliding second (t−1s, t].
func maxInWindow(admits []admission) int {
	best, lo := 0, 0
	for hi := range admits {
		for admits[lo].t <= admits[hi].t-time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// poissonArrivals draws arrivals at the given rates (per second) over [0, until), in time
// order, with times rounded to the microsecond so that some coincide.
func poissonArrivals(rng *rand.Rand, rates []float64, until time.Duration) []arrival {
	var out []arrival
	for svc, rate := range rates {
		if rate <= 0 {
			continue
		}
		t := 0.0
		for {
			t += rng.ExpFloat64() / rate
			at := time.Duration(t*1e6) * time.Microsecond
			if at >= until {
				break
			}
			out = append(out, arrival{t: at, svc: svc})
		}
	}
	slices.SortStableFunc(out, func(a, b arrival) int { return int(a.t - b.t) })
	return out
}

// debugState describes the pool's queue state, for a failure message.

func (p *Pool) debugState(now time.Duration) string {
	s := fmt.Sprintf("now=%v p.now=%v next=%v paused=%v win.total=%d limit=%d freeAt=%v headroomUntil=%v\n", now, p.now, p.next, p.pausedUntil, p.win.total, p.win.limit, p.win.freeAt(p.now), p.headroomUntil)
	for i, b := range p.buckets {
		h := p.q.head[i]
		dl := time.Duration(-1)
		if h >= 0 {
			dl = p.q.slots[h].deadline
		}
		s += fmt.Sprintf(" svc %d pr %v: rate %v burst %v tokens %v last %v at1 %v atBurst %v qlen %d headDeadline %v\n", i, p.cfg.Services[i].Priority, b.rate, b.burst, b.tokens, b.last, b.at(1), b.at(b.burst), p.q.length[i], dl)
	}
	return s
}
