package tps

import "math"

// Waterfill is priority-tiered max-min fair water-filling. It first computes what each
// service is entitled to:
//
//  1. every service gets its min (a floor even when more important services want more);
//  2. the rest is poured level by level, CRITICAL first, each service up to its want (forecast
//     or last demand, plus what it has queued, at most its max); within a level, when the rest
//     does not cover every want, max-min fair: the smaller wants are met in full and the
//     larger ones share what remains equally.
//
// Then it keeps back, as the pool's shared capacity, the part of each entitlement the service
// is not sure to use within the tick: the queue-drain term and one standard deviation of a
// Poisson arrival count, so its own share is clamp(demand − σ, min, entitlement). So is
// anything left after step 2. The limiter serves the shared capacity most important waiting
// request first, so a service still gets its entitlement when it needs it, but what it does
// not use goes to less important levels instead of being lost (a service's own tokens are
// never lent to a less important one). Under overload this is the difference between using
// about 98.5% and 100% of the window.
type Waterfill struct {
	s    scratch
	want []float64
	hi   []float64
	lo   []float64
	idx  []int
}

// Name implements Allocator.
func (*Waterfill) Name() string { return "waterfill" }

// Allocate implements Allocator.
func (a *Waterfill) Allocate(obs *Observation, out []float64) {
	mins := a.Entitle(obs, out)
	secs := obs.Tick.Seconds()
	for i, st := range obs.Stats {
		d := st.Demand
		if len(st.Forecast) > 0 {
			d = st.Forecast[0]
		}
		if !(d > 0) {
			d = 0
		}
		if secs > 0 {
			d -= math.Sqrt(d / secs)
		}
		out[i] = math.Max(mins[i], math.Min(d, out[i]))
	}
}

// Entitle writes into out what each service is entitled to (steps 1 and 2 above, before
// anything is kept back as shared) and returns the floors it used; out adds up to at most the
// capacity, and to all of it when the wants do.
func (a *Waterfill) Entitle(obs *Observation, out []float64) []float64 {
	n := len(obs.Services)
	mins := a.s.effectiveMins(obs)
	a.want, a.hi, a.lo = grow(a.want, n), grow(a.hi, n), grow(a.lo, n)
	avail := capacityOf(obs)
	for i, sv := range obs.Services {
		a.want[i] = math.Min(wantOf(obs, i), ceilingOf(sv))
		out[i] = mins[i]
		avail -= mins[i]
	}
	if avail > 0 {
		for i := range out {
			a.hi[i] = math.Max(out[i], a.want[i])
		}
		a.pour(obs, out, avail)
	}
	return mins
}

// pour raises out towards a.hi level by level, CRITICAL first, max-min fair within a level,
// using at most avail.
func (a *Waterfill) pour(obs *Observation, out []float64, avail float64) {
	for _, p := range Priorities {
		if avail <= 0 {
			break
		}
		a.idx = a.idx[:0]
		have, need := 0.0, 0.0
		for i, sv := range obs.Services {
			if sv.Priority == p {
				a.idx = append(a.idx, i)
				have += out[i]
				need += a.hi[i] - out[i]
			}
		}
		if need <= avail {
			for _, i := range a.idx {
				out[i] = a.hi[i]
			}
			avail -= need
			continue
		}
		copy(a.lo, out)
		fillLevel(a.idx, a.lo, a.hi, have+avail, out)
		return
	}
}
