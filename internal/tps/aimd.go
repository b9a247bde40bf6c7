package tps

import "math"

// AIMD adapts each service's share by additive increase and multiplicative decrease, the way
// TCP flows share a link, with the pool's capacity as the link:
//
//   - a service that is short (it had requests rejected, its queue did not shrink, or its want
//     exceeds its share) gains a fixed step per second, larger for more important levels
//     (critical 10% of the capacity per second, high 5%, medium 2.5%, low 1.25%);
//   - a service that wants less than its share gives the surplus back gradually (its share
//     shrinks by 20% per tick, but never below its want);
//   - when the shares add up to more than the capacity (congestion), the least important level
//     still above its mins shrinks multiplicatively (low ×0.7, medium ×0.8, high ×0.9,
//     critical ×0.95, never below the mins), and whatever still does not fit is cut exactly like
//     Constrain does, from LOW up. A more important level thus loses nothing while a less
//     important one is above its mins.
//
// It reacts to what happened instead of computing the optimum, so it needs a few ticks to
// follow a jump in demand, and under steady overload its shares saw-tooth below the capacity;
// it is the classic baseline for feedback-only control. The steps were tuned on the shipped
// scenarios for the best weighted goodput without CRITICAL rejections: larger increases
// over-allocate the important levels (whose idle share no less important level may use),
// smaller ones react too slowly to a CRITICAL burst.
type AIMD struct {
	s      scratch
	share  []float64
	queued []int
}

var (
	aimdIncrease = [numPriorities]float64{0.1, 0.05, 0.025, 0.0125} // of capacity, per second
	aimdDecrease = [numPriorities]float64{0.95, 0.9, 0.8, 0.7}      // on congestion
)

// aimdRelease is how much of an unused share is kept from one tick to the next.
const aimdRelease = 0.8

// Name implements Allocator.
func (*AIMD) Name() string { return "aimd" }

// Allocate implements Allocator.
func (a *AIMD) Allocate(obs *Observation, out []float64) {
	n := len(obs.Services)
	c := capacityOf(obs)
	mins := a.s.effectiveMins(obs)
	secs := obs.Tick.Seconds()
	if len(a.share) != n {
		a.share = make([]float64, n)
		a.queued = make([]int, n)
		for i := range a.share {
			a.share[i] = math.Max(mins[i], wantOf(obs, i))
		}
	} else {
		for i, sv := range obs.Services {
			st := obs.Stats[i]
			want := wantOf(obs, i)
			short := st.Rejected > 0 || (st.Queued > 0 && st.Queued >= a.queued[i]) || want > a.share[i]
			switch {
			case short:
				a.share[i] += aimdIncrease[sv.Priority%numPriorities] * c * secs
			case want < a.share[i]:
				a.share[i] = math.Max(want, a.share[i]*aimdRelease)
			}
		}
	}
	total := 0.0
	for i, sv := range obs.Services {
		a.share[i] = math.Max(mins[i], math.Min(a.share[i], ceilingOf(sv)))
		total += a.share[i]
	}
	// Congestion: one multiplicative decrease per tick, on the least important level that has
	// something above its mins.
	for p := int(numPriorities) - 1; p >= 0 && total > c; p-- {
		cut := false
		for i, sv := range obs.Services {
			if int(sv.Priority) == p && a.share[i] > mins[i] {
				a.share[i] = math.Max(mins[i], a.share[i]*aimdDecrease[p])
				cut = true
			}
		}
		if cut {
			break
		}
	}
	a.s.constrain(obs, a.share)
	copy(out, a.share)
	for i := range obs.Stats {
		a.queued[i] = obs.Stats[i].Queued
	}
}
