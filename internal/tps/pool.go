package tps

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Defaults for the zero values of PoolConfig.
const (
	DefaultMargin       = 0.02
	DefaultQueueMax     = 2000
	DefaultQueueTimeout = 2 * time.Second
)

// PoolConfig describes one shared upstream capacity and the services that use it.
type PoolConfig struct {
	Name string
	// Capacity is what the upstream allows, in requests per second.
	Capacity float64
	// Tick is how often shares are recomputed.
	Tick time.Duration
	// Margin is the fraction of Capacity kept free for jitter between aya's send and the
	// upstream's count; 0 means DefaultMargin (2%).
	Margin float64
	// QueueMax bounds the requests waiting across all services; 0 means DefaultQueueMax.
	QueueMax int
	// QueueTimeout is how long a request may wait; 0 means DefaultQueueTimeout.
	QueueTimeout time.Duration
	// Services keep their order: index i in Observation, Arrive and Snapshot is Services[i].
	Services []Service
}

// Forecaster fills obs.Stats[i].Forecast each tick, before the allocator runs, from the
// demand history it has seen in previous observations. It may keep and reuse the Forecast
// slices: the pool never touches them.
type Forecaster interface {
	Forecast(obs *Observation)
}

// PoolOption changes how NewPool builds a pool.
type PoolOption func(*Pool)

// WithForecaster makes the pool ask f for demand forecasts every tick.
func WithForecaster(f Forecaster) PoolOption { return func(p *Pool) { p.forecaster = f } }

// Pool is one shared capacity: the controller that recomputes shares every tick and the
// limiter that admits, queues or rejects each request. All methods are safe for concurrent
// use; one mutex per pool guards its state, so pools never contend with each other.
//
// Two callers drive it. The simulator passes virtual times to Arrive, Advance and Tick and
// asks NextEvent when to come back; the gateway calls Admit per request and runs Run in a
// goroutine, which reads the wall clock and does the same. Times are durations since the pool
// started and must not go backwards (a smaller time is taken as the latest one seen).
type Pool struct {
	cfg        PoolConfig
	alloc      Allocator
	forecaster Forecaster
	byLevel    [numPriorities][]int
	start      time.Time // wall-clock origin for Admit and Run
	wake       chan struct{}

	tickMu sync.Mutex // one Tick at a time; the allocator runs outside mu
	obs    Observation
	out    []float64
	cs     scratch

	mu       sync.Mutex
	now      time.Duration // latest time seen
	lastTick time.Duration
	buckets  []bucket
	win      window
	q        queue
	next     time.Duration // cached NextEvent
	closed   bool
	outcomes []Outcome
	share    []float64 // current allocation, requests per second
	tickCnt  []counts  // since the last tick
	last     []ServiceStats
	total    []counts // since the start
	capState
}

type counts struct {
	arrived, served, rejected, cancelled uint64
}

// NewPool checks cfg and builds its pool. Before any demand is seen the allocator is asked for
// shares of an empty observation and the result is constrained, so from the start every
// service can use at least its min, and every bucket starts full.
//
// Each service's share becomes the rate of its token bucket; whatever the shares leave of the
// effective capacity is shared: one more bucket that any request may use (most important
// waiting first) once its own has no token and no less important service has an idle one.
func NewPool(cfg PoolConfig, alloc Allocator, opts ...PoolOption) (*Pool, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if alloc == nil {
		return nil, fmt.Errorf("tps pool %q: no allocator: pass one from NewAllocator", cfg.Name)
	}
	n := len(cfg.Services)
	p := &Pool{
		cfg:     cfg,
		alloc:   alloc,
		start:   time.Now(),
		wake:    make(chan struct{}, 1),
		out:     make([]float64, n),
		buckets: make([]bucket, n+1), // the last one is the shared capacity
		q:       newQueue(n),
		next:    Never,
		share:   make([]float64, n),
		tickCnt: make([]counts, n),
		last:    make([]ServiceStats, n),
		total:   make([]counts, n),
	}
	for _, o := range opts {
		o(p)
	}
	for i, s := range cfg.Services {
		p.byLevel[s.Priority] = append(p.byLevel[s.Priority], i)
	}
	p.obs = Observation{Tick: cfg.Tick, Services: cfg.Services, Stats: make([]ServiceStats, n)}
	p.capState = newCapState(cfg.Capacity * (1 - cfg.Margin))
	p.win.limit = p.windowLimit()
	p.obs.Capacity = p.effective
	p.allocate()
	p.setRates()
	for i := range p.buckets {
		p.buckets[i].tokens = p.buckets[i].burst
	}
	return p, nil
}

// fill applies defaults and validates, with errors that name the pool, the service and the fix.
func (c *PoolConfig) fill() error {
	where := fmt.Sprintf("tps pool %q", c.Name)
	switch {
	case c.Name == "":
		return errors.New("tps pool: name is empty: give every pool a name")
	case !(c.Capacity >= 1) || math.IsInf(c.Capacity, 0):
		return fmt.Errorf("%s: capacity %v: want a number of requests per second, at least 1", where, c.Capacity)
	case c.Tick <= 0:
		return fmt.Errorf("%s: tick %v: want a positive duration such as 250ms", where, c.Tick)
	case c.Margin < 0 || c.Margin >= 1 || math.IsNaN(c.Margin):
		return fmt.Errorf("%s: margin %v: want a fraction in [0, 1), e.g. 0.02", where, c.Margin)
	case c.QueueMax < 0:
		return fmt.Errorf("%s: queue max %d: want 0 (default %d) or more", where, c.QueueMax, DefaultQueueMax)
	case c.QueueTimeout < 0:
		return fmt.Errorf("%s: queue timeout %v: want 0 (default %v) or more", where, c.QueueTimeout, DefaultQueueTimeout)
	case len(c.Services) == 0:
		return fmt.Errorf("%s: no services: list the services that share the capacity", where)
	}
	if c.Margin == 0 {
		c.Margin = DefaultMargin
	}
	if c.QueueMax == 0 {
		c.QueueMax = DefaultQueueMax
	}
	if c.QueueTimeout == 0 {
		c.QueueTimeout = DefaultQueueTimeout
	}
	seen := make(map[string]bool, len(c.Services))
	mins := 0.0
	for _, s := range c.Services {
		w := fmt.Sprintf("%s: service %q", where, s.Name)
		switch {
		case s.Name == "":
			return fmt.Errorf("%s: a service has no name: name every service", where)
		case seen[s.Name]:
			return fmt.Errorf("%s: listed twice: service names must be unique in a pool", w)
		case s.Priority >= numPriorities:
			return fmt.Errorf("%s: priority %d: want critical, high, medium or low", w, s.Priority)
		case !(s.Min >= 0) || math.IsInf(s.Min, 0):
			return fmt.Errorf("%s: min %v: want 0 or more requests per second", w, s.Min)
		case !(s.Max >= 0) || math.IsInf(s.Max, 0):
			return fmt.Errorf("%s: max %v: want 0 (none) or more requests per second", w, s.Max)
		case s.Max > 0 && s.Max < s.Min:
			return fmt.Errorf("%s: max %v below min %v: raise max or lower min", w, s.Max, s.Min)
		}
		seen[s.Name] = true
		mins += s.Min
	}
	if mins > c.Capacity {
		return fmt.Errorf("%s: the services' mins add up to %v, more than the capacity %v: lower the mins", where, mins, c.Capacity)
	}
	return nil
}

// Name is the pool's config name.
func (p *Pool) Name() string { return p.cfg.Name }

// Config is the pool's configuration with defaults filled in.
func (p *Pool) Config() PoolConfig { return p.cfg }

// Service finds a service's index by name.
func (p *Pool) Service(name string) (int, bool) {
	for i, s := range p.cfg.Services {
		if s.Name == name {
			return i, true
		}
	}
	return 0, false
}

// Tick ends the current tick at now: it turns the tick's counters into the observation,
// updates the effective capacity (additive probe after upstream 429s, expired headroom), asks
// the allocator for shares, constrains them, sets the bucket rates and releases whatever the
// new rates allow. Call it every cfg.Tick; Run does so on the wall clock.
func (p *Pool) Tick(now time.Duration) {
	p.tickMu.Lock()
	defer p.tickMu.Unlock()

	p.mu.Lock()
	now = p.observe(now)
	elapsed := now - p.lastTick
	if elapsed <= 0 {
		elapsed = p.cfg.Tick
	}
	secs := elapsed.Seconds()
	p.probe(now, elapsed)
	p.refreshCapacity(now)
	for i := range p.tickCnt {
		c := &p.tickCnt[i]
		st := &p.obs.Stats[i]
		st.Demand = float64(c.arrived) / secs
		st.Served = float64(c.served) / secs
		st.Rejected = float64(c.rejected) / secs
		st.Queued = p.q.length[i]
		p.last[i] = ServiceStats{Demand: st.Demand, Served: st.Served, Rejected: st.Rejected, Queued: st.Queued}
		*c = counts{}
	}
	p.obs.Now = now
	p.obs.Capacity = p.effective
	p.obs.Upstream429 = p.tick429
	p.tick429 = 0
	p.lastTick = now
	p.mu.Unlock()

	p.allocate()

	p.mu.Lock()
	for i := range p.buckets {
		p.buckets[i].refill(p.now)
	}
	p.setRates()
	p.advanceLocked(p.now)
	p.mu.Unlock()
}

// setRates gives every bucket its share, and the shared bucket what the shares leave of the
// effective capacity.
func (p *Pool) setRates() {
	rest := p.effective
	for i, s := range p.share {
		p.buckets[i].setRate(s, p.cfg.Tick)
		rest -= s
	}
	p.buckets[p.sharedBucket()].setRate(max(rest, 0), p.cfg.Tick)
}

// allocate runs the forecaster and the allocator on p.obs and stores the constrained shares.
// Only NewPool and Tick (under tickMu) call it.
func (p *Pool) allocate() {
	if p.forecaster != nil {
		p.forecaster.Forecast(&p.obs)
	}
	clear(p.out)
	p.alloc.Allocate(&p.obs, p.out)
	p.cs.constrain(&p.obs, p.out)
	p.mu.Lock()
	copy(p.share, p.out)
	p.mu.Unlock()
}

// observe records now as the latest time seen and returns it (or the latest time, if now is
// earlier: concurrent callers may read the clock in one order and lock in another).
func (p *Pool) observe(now time.Duration) time.Duration {
	if now < p.now {
		return p.now
	}
	p.now = now
	return now
}
