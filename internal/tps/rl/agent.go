package rl

import (
	"math"

	"aya/internal/tps"
)

// factor maps the policy's output for one service to the factor on its demand estimate:
// outputs within ±deadZone leave it alone (the policy departs from waterfill only when it is
// clearly sure), and the rest of [-1, 1] maps to [½, 2] on a log scale.
func factor(a float64) float64 {
	const deadZone = 0.1
	a = min(1, max(-1, a))
	if math.Abs(a) <= deadZone {
		return 1
	}
	return math.Exp(math.Ln2 * (a - math.Copysign(deadZone, a)) / (1 - deadZone))
}

// agent is what the live allocator and the trainer share, so that training sees exactly the
// inputs and the action mapping that serving uses: the feature tracker, the base allocator
// (waterfill), and the corrected allocation.
type agent struct {
	pol     *policy
	newBase func() tps.Allocator

	n         int
	tr        *tracker
	base      tps.Allocator // run on the observation as is: fallback, shadow, a feature
	corrected tps.Allocator // run on the observation with the policy's demand estimates
	baseOut   []float64
	raw, x    []float64 // per-service features, raw and standardised (n × serviceFeatures)
	pool      []float64
	mus       []float64
	adj       tps.Observation
	adjStats  []tps.ServiceStats
	tape      *mlpTape
}

func newAgent(pol *policy, newBase func() tps.Allocator) *agent {
	return &agent{pol: pol, newBase: newBase, tape: newMLPTape(pol.actor), pool: make([]float64, poolFeatures)}
}

// resize prepares the per-service state; it allocates only when the pool's services change.
func (g *agent) resize(n int) {
	if n == g.n && g.tr != nil {
		return
	}
	g.n = n
	g.tr = newTracker(n)
	g.base, g.corrected = g.newBase(), g.newBase()
	g.baseOut = make([]float64, n)
	g.raw = make([]float64, n*serviceFeatures)
	g.x = make([]float64, n*serviceFeatures)
	g.mus = make([]float64, n)
	g.adjStats = make([]tps.ServiceStats, n)
}

// observe takes a tick's observation: it advances the forecasts, runs the base allocator
// (into g.baseOut, constrained) and computes the raw features (g.raw, g.pool).
func (g *agent) observe(obs *tps.Observation) {
	g.resize(len(obs.Services))
	g.tr.observe(obs)
	g.base.Allocate(obs, g.baseOut)
	tps.Constrain(obs, g.baseOut)
	g.tr.features(obs, g.baseOut, g.raw, g.pool)
}

// means runs the actor on every service's standardised features and returns the mean
// actions (the deterministic policy).
func (g *agent) means() []float64 {
	p := g.pol
	for i := range g.n {
		x := g.x[i*serviceFeatures : (i+1)*serviceFeatures]
		p.entNorm.apply(g.raw[i*serviceFeatures:(i+1)*serviceFeatures], x)
		g.mus[i] = p.actor.forward(x, g.tape)[0]
	}
	return g.mus
}

// apply writes into out the allocation for actions acts: the base allocator run on the
// observation whose demands are scaled by the policy's factors, then tps.Constrain. CRITICAL
// demand is never scaled down, so the policy cannot starve it. It reports false, leaving out
// untouched, when an action is not a finite number.
func (g *agent) apply(obs *tps.Observation, acts []float64, out []float64) bool {
	for _, a := range acts {
		if math.IsNaN(a) || math.IsInf(a, 0) {
			return false
		}
	}
	g.adj = *obs
	copy(g.adjStats, obs.Stats)
	g.adj.Stats = g.adjStats
	for i := range g.adjStats {
		f := factor(acts[i])
		if obs.Services[i].Priority == tps.Critical {
			f = max(1, f)
		}
		// The base reads the pool's forecast when there is one, else the last demand: scale
		// whichever it would read, in a copy (obs's forecast slices are not ours to change).
		st := &g.adjStats[i]
		if len(st.Forecast) > 0 {
			st.Demand = st.Forecast[0]
			st.Forecast = nil
		}
		st.Demand *= f
	}
	g.corrected.Allocate(&g.adj, out)
	tps.Constrain(obs, out)
	return true
}
