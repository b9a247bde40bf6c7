package tps

import "math"

// Waterfill is priority-tiered max-min fair water-filling:
//
//  1. every service gets its min (a floor even when more important services want more);
//  2. the rest is poured level by level, CRITICAL first, each service up to its want (forecast
//     or last demand, plus what it has queued) and its max; within a level, when the rest does
//     not cover every want, max-min fair: the smaller wants are met in full and the larger ones
//     share what remains equally;
//  3. if capacity is left, each service gets headroom for the randomness of its arrivals
//     (two standard deviations of a Poisson count over one tick), again level by level;
//  4. what is still left goes to the least important level first (up to maxes, max-min fair
//     within the level). Capacity parked there is not lost: the limiter lends a service's idle
//     tokens to requests of the same or a more important priority, never the reverse, so
//     surplus placed at LOW is usable by every level, while surplus placed at CRITICAL would
//     be usable by CRITICAL only.
type Waterfill struct {
	s    scratch
	want []float64
	hi   []float64
	lo   []float64
	idx  []int
}

// headroomSigmas is how many standard deviations of per-tick Poisson noise step 3 adds.
const headroomSigmas = 2

// Name implements Allocator.
func (*Waterfill) Name() string { return "waterfill" }

// Allocate implements Allocator.
func (a *Waterfill) Allocate(obs *Observation, out []float64) {
	n := len(obs.Services)
	mins := a.s.effectiveMins(obs)
	a.want, a.hi, a.lo = grow(a.want, n), grow(a.hi, n), grow(a.lo, n)
	avail := capacityOf(obs)
	for i, sv := range obs.Services {
		a.want[i] = math.Min(wantOf(obs, i), ceilingOf(sv))
		out[i] = mins[i]
		avail -= mins[i]
	}
	if avail <= 0 {
		return
	}
	for i := range out {
		a.hi[i] = math.Max(out[i], a.want[i])
	}
	avail = a.pour(obs, out, avail, mostImportantFirst)
	if avail <= 0 {
		return
	}
	secs := obs.Tick.Seconds()
	for i, sv := range obs.Services {
		noise := 0.0
		if secs > 0 {
			noise = headroomSigmas * math.Sqrt(a.want[i]/secs)
		}
		a.hi[i] = math.Max(out[i], math.Min(a.want[i]+noise, ceilingOf(sv)))
	}
	avail = a.pour(obs, out, avail, mostImportantFirst)
	if avail <= 0 {
		return
	}
	for i, sv := range obs.Services {
		a.hi[i] = math.Max(out[i], math.Min(ceilingOf(sv), out[i]+avail))
	}
	a.pour(obs, out, avail, leastImportantFirst)
}

var (
	mostImportantFirst  = Priorities
	leastImportantFirst = [numPriorities]Priority{Low, Medium, High, Critical}
)

// pour raises out towards a.hi level by level in the given order, max-min fair within a
// level, using at most avail; it returns what is left.
func (a *Waterfill) pour(obs *Observation, out []float64, avail float64, order [numPriorities]Priority) float64 {
	for _, p := range order {
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
		avail = 0
	}
	return avail
}
