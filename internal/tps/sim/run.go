package sim

import (
	"context"
	"fmt"
	"time"

	"aya/internal/tps"
)

// Options tune one simulation run.
type Options struct {
	// Seed draws the arrivals; the same seed gives the same arrivals to every allocator, so
	// they are compared on identical traffic.
	Seed uint64
	// RecordTicks keeps a TickRecord per tick in the Result (for `aya tps simulate`).
	RecordTicks bool
	// Progress, when set, is called with the fraction of simulated time done, about a
	// hundred times per run.
	Progress func(done float64)
}

// Result is one allocator's run on one scenario.
type Result struct {
	Scenario  string
	Allocator string
	Seed      uint64
	Metrics   Metrics
	// Arrived counts requests per priority; Served those the upstream accepted.
	Arrived, Served ByPriority[int64]
	Ticks           []TickRecord // only with Options.RecordTicks
	Elapsed         time.Duration
}

// TickRecord is what happened during one tick, ending at At.
type TickRecord struct {
	At       time.Duration
	Capacity float64   // the effective capacity the shares were computed for
	Shared   float64   // the capacity no service was given, open to all (most important first)
	Alloc    []float64 // each service's share during the tick, requests per second
	Arrived  []int64   // per service
	Served   []int64   // per service, accepted by the upstream
}

// Run simulates the scenario with one allocator, which must be fresh (allocators keep state).
// It drives the same tps.Pool — allocator, buckets, sliding-window cap and queue — that serves
// live traffic, on a virtual clock.
func Run(ctx context.Context, s *Scenario, alloc tps.Allocator, opts Options) (*Result, error) {
	start := time.Now()
	r, err := newRunner(s, alloc, opts.Seed)
	if err != nil {
		return nil, err
	}
	r.record = opts.RecordTicks
	r.progress = opts.Progress
	if r.record {
		r.takeShares()
	}
	if err := r.run(ctx); err != nil {
		return nil, err
	}
	res := r.result(alloc.Name())
	res.Elapsed = time.Since(start)
	return res, nil
}

// runner is the discrete-event loop shared by Run and Env: arrivals, queue releases and
// deadlines from the pool's NextEvent, and ticks, taken in time order.
type runner struct {
	s    *Scenario
	pool *tps.Pool
	up   *Upstream
	arr  *arrivals
	seed uint64
	prio []tps.Priority

	end      time.Duration
	nextTick time.Duration
	lastTick time.Duration
	at       time.Duration // the pending arrival
	svc      int
	more     bool
	lastQ    time.Duration // the latest time the queue was advanced to
	outs     []tps.Outcome
	stopped  bool // set by Env when it abandons an episode

	// Totals, per service.
	arrived, served, rejected []int64
	upstream429               int64
	waitSum                   float64 // seconds waited in the queue by requests that left it
	waits                     [4]*waitHistogram
	// The utilisation denominator: Σ over ticks of min(cap·tick, arrivals in the tick), with
	// the upstream's real cap.
	fair        float64
	tickArrived int64

	record    bool
	ticks     []TickRecord
	inForce   TickRecord // shares and capacity of the current tick
	tickStart []int64    // arrived and served per service at the last tick
	progress  func(float64)
	nextProg  time.Duration
}

func newRunner(s *Scenario, alloc tps.Allocator, seed uint64) (*runner, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	name := s.Name
	if name == "" {
		name = "sim"
	}
	pool, err := tps.NewPool(tps.PoolConfig{
		Name:         name,
		Capacity:     s.Capacity,
		Tick:         s.Tick,
		Margin:       s.Margin,
		QueueMax:     s.Queue.Max,
		QueueTimeout: s.Queue.Timeout,
		Services:     s.Services,
	}, alloc)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", s.Name, err)
	}
	n := len(s.Services)
	r := &runner{
		s:         s,
		tickStart: make([]int64, 2*n),
		pool:      pool,
		up:        NewUpstream(s.upstreamCap()),
		arr:       newArrivals(s.Demand, s.Duration, seed),
		seed:      seed,
		prio:      make([]tps.Priority, n),
		end:       s.Duration,
		nextTick:  s.Tick,
		lastQ:     -1,
		outs:      make([]tps.Outcome, 0, 256),
		arrived:   make([]int64, n),
		served:    make([]int64, n),
		rejected:  make([]int64, n),
	}
	for i, svc := range s.Services {
		r.prio[i] = svc.Priority
	}
	for p := range r.waits {
		r.waits[p] = newWaitHistogram(s.Queue.Timeout)
	}
	r.at, r.svc, r.more = r.arr.next()
	return r, nil
}

// run processes every event before the end of the scenario, then closes the last (partial)
// tick. Ties go to the queue first (releases at t happen before arrivals at t), then the tick.
func (r *runner) run(ctx context.Context) error {
	for !r.stopped {
		arr := r.end
		if r.more {
			arr = r.at
		}
		// NextEvent never comes after the real event; a time not after the last advance would
		// mean no progress, so the loop moves on by the smallest step instead of spinning.
		qe := max(r.pool.NextEvent(), r.lastQ+1)
		switch {
		case qe <= arr && qe <= r.nextTick && qe < r.end:
			r.advance(qe)
		case r.nextTick <= arr && r.nextTick <= r.end:
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("simulation of %s stopped at %v: %w", r.s.Name, r.nextTick, err)
			}
			r.tick(r.nextTick)
		case r.more:
			r.arrive(qe <= r.at)
		default:
			if r.lastTick < r.end {
				r.closeTick(r.end)
			}
			if r.progress != nil {
				r.progress(1)
			}
			return nil
		}
	}
	return nil
}

// arrive offers the pending arrival to the pool. queueDue says the queue had an event due at
// the same time, in which case the pool advanced it inside Arrive and its outcomes, stamped
// with this very time, are collected at once so the upstream sees sends in time order.
func (r *runner) arrive(queueDue bool) {
	at, svc := r.at, r.svc
	r.arrived[svc]++
	r.tickArrived++
	switch d, _ := r.pool.Arrive(svc, at); d {
	case tps.Admitted:
		r.waits[r.prio[svc]].add(0)
		r.send(svc, at)
	case tps.Rejected:
		r.rejected[svc]++
	}
	if queueDue {
		r.advance(at)
	}
	r.at, r.svc, r.more = r.arr.next()
}

// advance releases and expires queued requests at t.
func (r *runner) advance(t time.Duration) {
	r.lastQ = t
	r.outs = r.pool.Advance(t, r.outs[:0])
	for _, o := range r.outs {
		wait := o.At - o.Arrived
		r.waitSum += wait.Seconds()
		if o.Admitted {
			r.waits[r.prio[o.Service]].add(wait)
			r.send(o.Service, o.At)
		} else {
			r.rejected[o.Service]++
		}
	}
}

// send delivers an admitted request to the upstream; a 429 is fed back to the pool as the
// gateway does live.
func (r *runner) send(svc int, at time.Duration) {
	if r.up.Send(at) {
		r.served[svc]++
		return
	}
	r.upstream429++
	r.pool.Record429(at, 0)
}

func (r *runner) tick(t time.Duration) {
	r.closeTick(t)
	r.pool.Tick(t)
	r.advance(t) // collect what the new shares released
	r.nextTick = t + r.s.Tick
	if r.record {
		r.recordTick(t)
	}
	if r.progress != nil && t >= r.nextProg && t < r.end {
		r.progress(float64(t) / float64(r.end))
		r.nextProg = t + r.end/100
	}
}

// closeTick adds the tick ending at t to the utilisation denominator.
func (r *runner) closeTick(t time.Duration) {
	r.fair += min(r.s.upstreamCap()*(t-r.lastTick).Seconds(), float64(r.tickArrived))
	r.tickArrived = 0
	r.lastTick = t
}

// recordTick keeps the tick that just ended at t with the shares that were in force during
// it, and takes the new shares for the next record.
func (r *runner) recordTick(t time.Duration) {
	n := len(r.s.Services)
	rec := r.inForce
	rec.At = t
	rec.Arrived, rec.Served = make([]int64, n), make([]int64, n)
	for i := range n {
		rec.Arrived[i] = r.arrived[i] - r.tickStart[i]
		rec.Served[i] = r.served[i] - r.tickStart[n+i]
		r.tickStart[i], r.tickStart[n+i] = r.arrived[i], r.served[i]
	}
	r.ticks = append(r.ticks, rec)
	r.takeShares()
}

// takeShares notes the pool's current shares and effective capacity as those in force.
func (r *runner) takeShares() {
	snap := r.pool.Snapshot()
	r.inForce = TickRecord{Capacity: snap.EffectiveCapacity, Shared: snap.Shared, Alloc: make([]float64, len(snap.Services))}
	for i, svc := range snap.Services {
		r.inForce.Alloc[i] = svc.Allocation
	}
}

// metrics computes the metrics of everything simulated so far.
func (r *runner) metrics() Metrics {
	var m Metrics
	for i, p := range r.prio {
		m.Rejected[p] += r.rejected[i]
		m.WeightedGoodput += float64(r.served[i]) * p.GoodputWeight()
	}
	if r.fair > 0 {
		m.Utilization = float64(r.totalServed()) / r.fair
	}
	m.Upstream429 = r.upstream429
	for p, h := range r.waits {
		m.QueueP99Ms[p] = float64(h.quantile(0.99)) / float64(time.Millisecond)
	}
	return m
}

func (r *runner) totalServed() int64 {
	var n int64
	for _, s := range r.served {
		n += s
	}
	return n
}

func (r *runner) result(allocator string) *Result {
	res := &Result{Scenario: r.s.Name, Allocator: allocator, Seed: r.seed, Metrics: r.metrics(), Ticks: r.ticks}
	for i, p := range r.prio {
		res.Arrived[p] += r.arrived[i]
		res.Served[p] += r.served[i]
	}
	return res
}
