package tps

import "math"

// Static gives fixed shares that ignore demand: every service its min, and the rest of the
// capacity split by priority weight (critical 8, high 4, medium 2, low 1) on top of the mins;
// a service that reaches its max passes the remainder on to the others by the same weights.
// The shares change only when the capacity does. Unused shares of less important services are
// not wasted outright: the limiter lends their idle tokens to more important requests.
type Static struct {
	s    scratch
	w    []float64
	hi   []float64
	idx  []int
	base []float64
}

// Name implements Allocator.
func (*Static) Name() string { return "static" }

// Allocate implements Allocator.
func (a *Static) Allocate(obs *Observation, out []float64) {
	n := len(obs.Services)
	mins := a.s.effectiveMins(obs)
	a.w, a.hi, a.base = grow(a.w, n), grow(a.hi, n), grow(a.base, n)
	a.idx = a.idx[:0]
	for i, sv := range obs.Services {
		a.w[i] = levelWeight(sv.Priority)
		a.hi[i] = math.Max(mins[i], ceilingOf(sv))
		a.base[i] = mins[i]
		a.idx = append(a.idx, i)
	}
	spreadWeighted(a.idx, a.base, a.w, mins, a.hi, capacityOf(obs), out)
}
