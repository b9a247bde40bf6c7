package tps

import "math"

// AIMD adapts each service's share by additive increase and multiplicative decrease, the way
// TCP flows share a link, with the pool's capacity as the link:
//
//   - a service that is short (it had requests rejected, its queue did not shrink, or its want
//     exceeds its share) gains a fixed step per second, larger for more important levels
//     (critical 40% of the capacity per second, high 20%, medium 10%, low 5%);
//   - a service that wants less than its share gives the surplus back gradually (its share
//     shrinks by 20% per tick, but never below its want plus Poisson headroom);
//   - when the shares add up to more than the capacity (congestion), shares shrink
//     multiplicatively level by level from LOW (×0.5, medium ×0.7, high ×0.8, critical ×0.9),
//     each level only if the less important ones did not free enough, never below the mins;
//     the last overshoot is cut exactly like Constrain does.
//
// It reacts to what happened instead of computing the optimum, so it needs a few ticks to
// follow a jump in demand; it is the classic baseline for feedback-only control.
type AIMD struct {
	s      scratch
	share  []float64
	queued []int
}

var (
	aimdIncrease = [numPriorities]float64{0.4, 0.2, 0.1, 0.05} // of capacity, per second
	aimdDecrease = [numPriorities]float64{0.9, 0.8, 0.7, 0.5}  // on congestion
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
				keep := want
				if secs > 0 {
					keep += headroomSigmas * math.Sqrt(want/secs)
				}
				a.share[i] = math.Max(keep, a.share[i]*aimdRelease)
			}
		}
	}
	total := 0.0
	for i, sv := range obs.Services {
		a.share[i] = math.Max(mins[i], math.Min(a.share[i], ceilingOf(sv)))
		total += a.share[i]
	}
	for p := int(numPriorities) - 1; p >= 0 && total > c; p-- {
		for i, sv := range obs.Services {
			if int(sv.Priority) == p {
				cut := math.Max(mins[i], a.share[i]*aimdDecrease[p])
				total -= a.share[i] - cut
				a.share[i] = cut
			}
		}
	}
	a.s.constrain(obs, a.share)
	copy(out, a.share)
	for i := range obs.Stats {
		a.queued[i] = obs.Stats[i].Queued
	}
}
