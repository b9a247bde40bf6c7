package sim

import (
	"context"
	"fmt"
	"iter"

	"aya/internal/tps"
)

// Reward weighs what one tick did for a reinforcement-learning agent. Every term is counted in
// requests (or request-seconds) and the sum is divided by the requests the capacity allows in
// a tick, so rewards of pools of different sizes are comparable.
type Reward struct {
	// Goodput multiplies the requests the upstream served, each weighted by its priority's
	// GoodputWeight (critical 8, high 4, medium 2, low 1).
	Goodput float64
	// Overshoot is the cost of one upstream 429.
	Overshoot float64
	// CriticalReject is the cost of one CRITICAL request rejected by aya.
	CriticalReject float64
	// QueueLatency is the cost of one second waited in aya's queue, charged when the request
	// leaves the queue (released or rejected).
	QueueLatency float64
	// QueueGrowth is the cost of one more request waiting at the end of the tick than at its
	// start (shrinking queues cost nothing).
	QueueGrowth float64
}

// DefaultReward makes a 429 cost more than six CRITICAL requests served earn, and a CRITICAL
// rejection more than that: the hard guarantees dominate, goodput decides among allocations
// that keep them.
func DefaultReward() Reward {
	return Reward{Goodput: 1, Overshoot: 50, CriticalReject: 100, QueueLatency: 1, QueueGrowth: 0.1}
}

// Env is a gym-like environment over the simulator for training allocation policies. Each
// Step enforces an allocation for one tick through the very pool that runs live: the action
// is what an allocator would write, passed through tps.Constrain by the pool, and the
// observation is exactly the one a live allocator receives (same struct, same pool code).
//
// An episode is one run of the scenario. Env is not safe for concurrent use; run one Env per
// goroutine for parallel rollouts.
type Env struct {
	// Reward weighs the terms of each step's reward; NewEnv sets DefaultReward.
	Reward Reward

	s      *Scenario
	seed   uint64
	r      *runner
	next   func() (*tps.Observation, bool)
	stop   func()
	quit   bool // the episode is being abandoned: let the simulation unwind
	err    error
	action []float64
	obs    *tps.Observation
	done   bool

	prevServed, prevRejected []int64
	prev429                  int64
	prevWait                 float64
	prevQueued               int
}

// NewEnv makes an environment over a scenario. Call Reset before the first Step.
func NewEnv(s *Scenario) (*Env, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	n := len(s.Services)
	return &Env{
		Reward:       DefaultReward(),
		s:            s,
		action:       make([]float64, n),
		prevServed:   make([]int64, n),
		prevRejected: make([]int64, n),
	}, nil
}

// Reset starts a new episode whose arrivals are drawn from seed and returns the observation
// the pool's allocator gets before any traffic (every Stats entry zero). The observation
// belongs to the environment and stays valid until the next Step or Reset.
func (e *Env) Reset(seed uint64) (*tps.Observation, error) {
	e.Close()
	e.quit, e.err, e.done, e.r, e.seed = false, nil, false, nil, seed
	clear(e.prevServed)
	clear(e.prevRejected)
	e.prev429, e.prevWait, e.prevQueued = 0, 0, 0
	// The simulation runs as a coroutine that pauses inside the pool's tick, where the
	// allocator is asked for shares, and resumes with the action Step was given: the agent
	// acts on this tick's observation, with no lag, through the same Tick as live.
	e.next, e.stop = iter.Pull(e.episode)
	obs, ok := e.next()
	if !ok {
		e.Close()
		if e.err == nil {
			e.err = fmt.Errorf("scenario %s: the episode ended before its first tick", e.s.Name)
		}
		return nil, e.err
	}
	e.obs = obs
	return obs, nil
}

// episode is the coroutine body: build the pool (its first allocation pauses for the first
// action) and run the scenario to its end.
func (e *Env) episode(yield func(*tps.Observation) bool) {
	r, err := newRunner(e.s, &envAllocator{e: e, yield: yield}, e.seed)
	if err != nil {
		e.err = err
		return
	}
	e.r = r
	r.stopped = e.quit
	if err := r.run(context.Background()); err != nil {
		e.err = err
	}
}

// envAllocator hands the pool's observation to the agent and its action back to the pool.
type envAllocator struct {
	e     *Env
	yield func(*tps.Observation) bool
}

func (*envAllocator) Name() string { return "env" }

func (a *envAllocator) Allocate(obs *tps.Observation, out []float64) {
	if !a.yield(obs) {
		a.e.quit = true
		if a.e.r != nil {
			a.e.r.stopped = true
		}
		return
	}
	copy(out, a.e.action)
}

// Step enforces alloc (requests per second per service, in the scenario's service order) for
// the next tick, simulates the tick and returns the observation at its end, the tick's reward
// and whether the episode is over. The observation stays valid until the next Step or Reset.
func (e *Env) Step(alloc []float64) (*tps.Observation, float64, bool, error) {
	if e.next == nil || e.done {
		return nil, 0, true, fmt.Errorf("scenario %s: Step without an episode running: call Reset first", e.s.Name)
	}
	if len(alloc) != len(e.action) {
		return nil, 0, false, fmt.Errorf("scenario %s: action has %d rates, want one per service (%d)", e.s.Name, len(alloc), len(e.action))
	}
	copy(e.action, alloc)
	obs, ok := e.next()
	if e.err != nil {
		e.Close()
		return nil, 0, true, e.err
	}
	if ok {
		e.obs = obs
	}
	e.done = !ok || obs.Now >= e.s.Duration
	reward := e.reward()
	if e.done {
		e.Close()
	}
	return e.obs, reward, e.done, nil
}

// reward scores what happened since the last step.
func (e *Env) reward() float64 {
	r := e.r
	w := e.Reward
	goodput, critRej := 0.0, int64(0)
	for i, p := range r.prio {
		goodput += p.GoodputWeight() * float64(r.served[i]-e.prevServed[i])
		if p == tps.Critical {
			critRej += r.rejected[i] - e.prevRejected[i]
		}
	}
	copy(e.prevServed, r.served)
	copy(e.prevRejected, r.rejected)
	queued := 0
	for _, st := range e.obs.Stats {
		queued += st.Queued
	}
	total := w.Goodput*goodput -
		w.Overshoot*float64(r.upstream429-e.prev429) -
		w.CriticalReject*float64(critRej) -
		w.QueueLatency*(r.waitSum-e.prevWait) -
		w.QueueGrowth*float64(max(queued-e.prevQueued, 0))
	e.prev429, e.prevWait, e.prevQueued = r.upstream429, r.waitSum, queued
	return total / (e.s.Capacity * e.s.Tick.Seconds())
}

// Metrics is the current episode's metrics so far, as evaluate reports them.
func (e *Env) Metrics() Metrics {
	if e.r == nil {
		return Metrics{}
	}
	return e.r.metrics()
}

// Close abandons the current episode, if any, releasing its coroutine. Reset calls it.
func (e *Env) Close() {
	if e.stop != nil {
		e.quit = true
		if e.r != nil {
			e.r.stopped = true
		}
		e.stop()
		e.stop, e.next = nil, nil
	}
}
