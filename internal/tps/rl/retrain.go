package rl

import (
	"context"
	"slices"
	"time"

	"aya/internal/tps"
)

// Retrain configures what the learned allocator does when drift is detected: train a new
// model on the traffic the pool saw recently, in the background, then run it in shadow for a
// burn-in period before it takes over.
//
// rl does not know how to turn traffic into training episodes (the simulator does, and it
// imports rl), so the caller supplies Train; sim.RetrainOn is the usual one.
type Retrain struct {
	// Train trains a model on the recent traffic. It runs in a goroutine of its own, never two
	// at once, off the pool's tick; it should keep to a small CPU budget (one worker) and
	// return soon after ctx is cancelled (Allocator.Close).
	Train func(ctx context.Context, recent Trace) (*Model, error)
	// History is how many ticks of traffic are kept for Train; default 2400 (10 minutes at
	// 250ms ticks).
	History int
	// BurnIn is how many ticks a retrained model runs in shadow, its output checked on every
	// one, before it takes over; default 240 (a minute at 250ms ticks).
	BurnIn int
}

// Trace is the traffic a pool saw recently: each service's arrival rate per tick, oldest
// first, and the setting around it.
type Trace struct {
	Tick     time.Duration
	Capacity float64 // the effective capacity of the last tick
	Services []tps.Service
	Demand   [][]float64 // Demand[t][i]: service i's arrival rate in requests per second on tick t
	// Model is the model in charge when the trace was taken, so Train can check that its
	// result does better on this traffic. Inference only reads it, concurrently with the pool.
	Model *Model
}

// history is a ring of the last ticks' demands, allocated once per set of services.
type history struct {
	rows [][]float64
	next int // where the next tick goes
	full bool
}

func (h *history) add(obs *tps.Observation, size int) {
	n := len(obs.Services)
	if len(h.rows) != size || (size > 0 && len(h.rows[0]) != n) {
		h.rows = make([][]float64, size)
		flat := make([]float64, size*n)
		for i := range h.rows {
			h.rows[i] = flat[i*n : (i+1)*n : (i+1)*n]
		}
		h.next, h.full = 0, false
	}
	row := h.rows[h.next]
	for i := range row {
		row[i] = obs.Stats[i].Demand
	}
	h.next++
	if h.next == len(h.rows) {
		h.next, h.full = 0, true
	}
}

// trace copies the ring out, oldest first.
func (h *history) trace(obs *tps.Observation) Trace {
	t := Trace{Tick: obs.Tick, Capacity: obs.Capacity, Services: slices.Clone(obs.Services)}
	if h.full {
		for _, r := range h.rows[h.next:] {
			t.Demand = append(t.Demand, slices.Clone(r))
		}
	}
	for _, r := range h.rows[:h.next] {
		t.Demand = append(t.Demand, slices.Clone(r))
	}
	return t
}

// retrainState is the allocator's side of retraining. The tick goroutine owns everything but
// trained and training, which the training goroutine sets.
type retrainState struct {
	hist history
	// cand is a retrained model in burn-in: it sees every observation and allocates in
	// shadow, left ticks more, before it replaces the agent.
	cand    *agent
	left    int
	candOut []float64
}

// startRetrain trains a model on the recent traffic in the background, unless a training is
// already running. Called from Allocate when drift is first detected.
func (a *Allocator) startRetrain(obs *tps.Observation) {
	if a.training.Swap(true) {
		return
	}
	recent := a.re.hist.trace(obs)
	recent.Model = &Model{pol: a.agent.pol}
	a.log.Info("tps learned allocator: retraining on the recent traffic", "ticks", len(recent.Demand))
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer a.training.Store(false)
		m, err := a.opts.Retrain.Train(a.ctx, recent)
		if err != nil || m == nil {
			if a.ctx.Err() == nil {
				a.log.Warn("tps learned allocator: retraining failed; the current model keeps serving", "error", err)
			}
			a.retrainFailures.Add(1)
			return
		}
		a.trained.Store(m)
	}()
}

// burnIn runs the candidate model, if any, on the observation: in shadow, checked every tick,
// and in charge once its burn-in is over. A candidate that produces an invalid allocation is
// dropped; like a failed training, that leaves drift flagged (no retraining loop) until
// ResetDrift.
func (a *Allocator) burnIn(obs *tps.Observation) {
	if m := a.trained.Swap(nil); m != nil {
		a.re.cand = newAgent(m.pol, a.opts.NewBase)
		a.re.left = a.opts.Retrain.BurnIn
		a.log.Info("tps learned allocator: retrained model in burn-in (shadow)", "ticks", a.re.left)
	}
	c := a.re.cand
	if c == nil {
		return
	}
	if len(a.re.candOut) != len(obs.Services) {
		a.re.candOut = make([]float64, len(obs.Services))
	}
	c.observe(obs)
	if !c.apply(obs, c.means(), a.re.candOut) {
		a.log.Warn("tps learned allocator: retrained model produced an invalid allocation in burn-in; dropped")
		a.re.cand = nil
		a.rejected++
		return
	}
	a.re.left--
	if a.re.left > 0 {
		return
	}
	a.agent = c
	a.re.cand = nil
	a.drift.Reset()
	a.fired = false
	a.promoted++
	a.log.Info("tps learned allocator: retrained model took over after its burn-in")
}
