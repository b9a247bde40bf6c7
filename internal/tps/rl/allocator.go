package rl

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"aya/internal/tps"
)

// Options configure the learned allocator. The zero value runs the embedded model over
// waterfill and enforces it.
type Options struct {
	// Model is the policy; nil loads the embedded default.
	Model *Model
	// NewBase makes the allocator the policy corrects and falls back to; nil: waterfill.
	NewBase func() tps.Allocator
	// Shadow computes (and logs at debug level) what the policy would allocate while
	// enforcing the base allocation, e.g. for a burn-in after retraining.
	Shadow bool
	// MaxForecastError is the average forecast error (pool-wide sMAPE, 0–2) above which the
	// traffic is too unlike anything the policy saw and the base allocator takes over;
	// default 0.5.
	MaxForecastError float64
	// Drift is the Page-Hinkley detector run on the per-tick forecast error; zero fields take
	// Delta 0.02, Lambda 5, MinSamples 120.
	Drift PageHinkley
	// OnDrift is called once, from Allocate, when drift is first detected (it must not block
	// the tick).
	OnDrift func()
	// Retrain, when set, retrains on drift: a new model is trained on the recent traffic in
	// the background and takes over after a burn-in in shadow. nil: drift is only reported.
	Retrain *Retrain
	// Logger receives shadow decisions (debug) and fallbacks (warn); nil: slog.Default().
	Logger *slog.Logger
}

// Fallback says why a tick's allocation came from the base allocator instead of the policy.
type Fallback string

// The reasons for a fallback.
const (
	FallbackNone          Fallback = ""
	FallbackInvalidOutput Fallback = "invalid-output" // the net produced NaN or ±Inf
	FallbackForecastError Fallback = "forecast-error" // forecasts went far off
	FallbackShadow        Fallback = "shadow"         // shadow mode: the base enforces
)

// Status is the allocator's last decision, for the admin API and the dashboard.
type Status struct {
	Learned       []float64 // what the policy allocated (or would have, in shadow mode)
	Base          []float64 // what the base allocator allocated
	Enforced      Fallback  // FallbackNone when Learned was enforced
	ForecastError float64   // average pool-wide forecast error (sMAPE, 0–2)
	Drift         bool      // Page-Hinkley has detected drift since the last ResetDrift
	Fallbacks     uint64    // ticks on which the base allocation was enforced for an anomaly

	// Retraining, with Options.Retrain: whether a training is running, what the retrained
	// model in burn-in would allocate (nil when none is) and its burn-in ticks left, and how
	// many retrained models took over, were dropped in burn-in, or failed to train.
	Retraining      bool
	Candidate       []float64
	BurnInLeft      int
	Retrained       uint64
	RejectedInBurn  uint64
	RetrainFailures uint64
}

// Allocator is the "learned" tps.Allocator: PPO's policy correcting waterfill. Allocate runs
// on the pool's tick and allocates nothing once the pool's services are known; Status,
// LastShadow and ResetDrift may be called from other goroutines.
type Allocator struct {
	opts  Options
	agent *agent
	log   *slog.Logger
	drift PageHinkley
	fired bool
	// resetDrift asks the tick goroutine, which owns the detector, to reset it.
	resetDrift atomic.Bool

	learned []float64

	// Retraining (Options.Retrain): re and the counters belong to the tick goroutine; the
	// training goroutine hands its model over through trained.
	re                 retrainState
	promoted, rejected uint64
	training           atomic.Bool
	trained            atomic.Pointer[Model]
	retrainFailures    atomic.Uint64
	ctx                context.Context
	cancel             context.CancelFunc
	wg                 sync.WaitGroup

	mu   sync.Mutex
	last Status
}

// New returns a learned allocator.
func New(opts Options) (*Allocator, error) {
	if opts.Model == nil {
		m, err := DefaultModel()
		if err != nil {
			return nil, err
		}
		opts.Model = m
	}
	if opts.NewBase == nil {
		opts.NewBase = func() tps.Allocator { return &tps.Waterfill{} }
	}
	if opts.MaxForecastError <= 0 {
		opts.MaxForecastError = 0.5
	}
	d := opts.Drift
	if d.Delta <= 0 {
		d.Delta = 0.02
	}
	if d.Lambda <= 0 {
		d.Lambda = 5
	}
	if d.MinSamples <= 0 {
		d.MinSamples = 120
	}
	if r := opts.Retrain; r != nil {
		if r.Train == nil {
			return nil, fmt.Errorf("learned allocator: Retrain needs a Train function")
		}
		rc := *r
		if rc.History <= 0 {
			rc.History = 2400
		}
		if rc.BurnIn <= 0 {
			rc.BurnIn = 240
		}
		opts.Retrain = &rc
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Allocator{opts: opts, agent: newAgent(opts.Model.pol, opts.NewBase), log: log, drift: d, ctx: ctx, cancel: cancel}, nil
}

// Close stops a retraining in progress and waits for it. The allocator keeps allocating.
func (a *Allocator) Close() {
	a.cancel()
	a.wg.Wait()
}

// Name is "learned".
func (a *Allocator) Name() string { return "learned" }

// Allocate writes the policy's allocation — or the base allocator's, in shadow mode or when
// the policy misbehaves — into out. Both are constrained.
func (a *Allocator) Allocate(obs *tps.Observation, out []float64) {
	if a.opts.Retrain != nil {
		a.re.hist.add(obs, a.opts.Retrain.History)
	}
	g := a.agent
	g.observe(obs)
	n := len(obs.Services)
	if len(a.learned) != n {
		a.learned = make([]float64, n)
	}
	why := FallbackNone
	if !g.apply(obs, g.means(), a.learned) {
		why = FallbackInvalidOutput
		copy(a.learned, g.baseOut)
	} else if g.tr.errAvg > a.opts.MaxForecastError {
		why = FallbackForecastError
	}
	if a.resetDrift.Swap(false) {
		a.drift.Reset()
		a.fired = false
	}
	if g.tr.warm > 1 && a.drift.Add(g.tr.err) && !a.fired {
		a.fired = true
		a.log.Warn("tps learned allocator: demand drifted from what the model was trained on", "forecast_error", g.tr.errAvg)
		if a.opts.OnDrift != nil {
			a.opts.OnDrift()
		}
		if a.opts.Retrain != nil {
			a.startRetrain(obs)
		}
	}
	if why == FallbackNone && a.opts.Shadow {
		why = FallbackShadow
	}
	switch why {
	case FallbackNone:
		copy(out, a.learned)
	case FallbackShadow:
		copy(out, g.baseOut)
		if a.log.Enabled(context.Background(), slog.LevelDebug) {
			a.log.Debug("tps learned allocator (shadow)", "learned", fmt.Sprint(a.learned), "enforced", fmt.Sprint(g.baseOut))
		}
	default:
		copy(out, g.baseOut)
		if a.last.Enforced != why { // log the start of a fallback, not every tick of it
			a.log.Warn("tps learned allocator: enforcing the base allocation", "reason", string(why), "forecast_error", g.tr.errAvg)
		}
	}
	if a.opts.Retrain != nil {
		a.burnIn(obs)
	}
	a.record(why, g)
}

// record publishes the decision g made for Status without allocating.
func (a *Allocator) record(why Fallback, g *agent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.last.Learned = append(a.last.Learned[:0], a.learned...)
	a.last.Base = append(a.last.Base[:0], g.baseOut...)
	if why != FallbackNone && why != FallbackShadow {
		a.last.Fallbacks++
	}
	a.last.Enforced = why
	a.last.ForecastError = g.tr.errAvg
	a.last.Drift = a.drift.Drifted()
	a.last.Retraining = a.training.Load()
	a.last.Candidate = a.last.Candidate[:0]
	a.last.BurnInLeft = 0
	if a.re.cand != nil {
		a.last.Candidate = append(a.last.Candidate, a.re.candOut...)
		a.last.BurnInLeft = a.re.left
	}
	a.last.Retrained, a.last.RejectedInBurn = a.promoted, a.rejected
	a.last.RetrainFailures = a.retrainFailures.Load()
}

// Status returns a copy of the last decision.
func (a *Allocator) Status() Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	s := a.last
	s.Learned = slices.Clone(s.Learned)
	s.Base = slices.Clone(s.Base)
	if len(s.Candidate) == 0 {
		s.Candidate = nil
	} else {
		s.Candidate = slices.Clone(s.Candidate)
	}
	return s
}

// LastShadow returns what the policy allocated (or would have) on the last tick, per service.
func (a *Allocator) LastShadow() []float64 { return a.Status().Learned }

// Drifted reports whether drift has been detected since the last ResetDrift.
func (a *Allocator) Drifted() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.last.Drift
}

// ResetDrift clears the drift flag, e.g. once a retrained model has taken over; it takes
// effect on the next tick.
func (a *Allocator) ResetDrift() {
	a.mu.Lock()
	a.last.Drift = false
	a.mu.Unlock()
	a.resetDrift.Store(true)
}

var _ tps.Allocator = (*Allocator)(nil)
