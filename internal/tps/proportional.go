package tps

import "math"

// Proportional shares the capacity in proportion to each service's want (its forecast or last
// demand, plus what it has queued), never below its min nor above its max; what a capped
// service cannot take goes to the others in the same proportion. It ignores priorities except
// when nobody wants anything, when it splits by priority weight like Static. All of the
// capacity is handed out, so a service whose demand grows within a tick has room to grow.
type Proportional struct {
	s    scratch
	w    []float64
	hi   []float64
	zero []float64
	idx  []int
}

// Name implements Allocator.
func (*Proportional) Name() string { return "proportional" }

// Allocate implements Allocator.
func (a *Proportional) Allocate(obs *Observation, out []float64) {
	n := len(obs.Services)
	mins := a.s.effectiveMins(obs)
	a.w, a.hi, a.zero = grow(a.w, n), grow(a.hi, n), grow(a.zero, n)
	a.idx = a.idx[:0]
	total := 0.0
	for i, sv := range obs.Services {
		a.w[i] = wantOf(obs, i)
		total += a.w[i]
		a.hi[i] = math.Max(mins[i], ceilingOf(sv))
		a.zero[i] = 0
		a.idx = append(a.idx, i)
	}
	if total == 0 {
		for i, sv := range obs.Services {
			a.w[i] = levelWeight(sv.Priority)
		}
	}
	spreadWeighted(a.idx, a.zero, a.w, mins, a.hi, capacityOf(obs), out)
}
