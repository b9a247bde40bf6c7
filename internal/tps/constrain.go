package tps

import "math"

// Constrain enforces the hard constraints on an allocation in place, whatever allocator wrote
// it: every share is a finite non-negative rate, at most the service's Max, at least its Min,
// and the shares add up to at most obs.Capacity.
//
// Mins come first. Config validation refuses mins that add up to more than the configured
// capacity, but the effective capacity can drop below their sum (upstream 429s, rate-limit
// headers); then the mins themselves shrink, LOW first, then MEDIUM, HIGH and CRITICAL last.
// When the shares exceed the capacity, the cut also starts at LOW: each level goes down to its
// mins before a more important level loses anything, and within a level the largest shares are
// cut first (max-min fair), so a level's services end as equal as their mins and shares allow.
func Constrain(obs *Observation, out []float64) {
	var s scratch
	s.constrain(obs, out)
}

// scratch holds the working slices of Constrain and the allocators, so that a pool running
// them every tick allocates only once.
type scratch struct {
	mins []float64
	caps []float64
	idx  []int
}

func grow(s []float64, n int) []float64 {
	if cap(s) < n {
		return make([]float64, n)
	}
	return s[:n]
}

// capacityOf reads obs.Capacity as a usable number: NaN and negatives are none.
func capacityOf(obs *Observation) float64 {
	c := obs.Capacity
	if !(c > 0) {
		return 0
	}
	return c
}

// ceilingOf is a service's Max, or +Inf when it has none.
func ceilingOf(s Service) float64 {
	if s.Max > 0 {
		return s.Max
	}
	return math.Inf(1)
}

// effectiveMins writes each service's floor into s.mins: its Min, at most its Max, scaled down
// level by level from LOW when the floors do not fit in the capacity.
func (s *scratch) effectiveMins(obs *Observation) []float64 {
	c := capacityOf(obs)
	s.mins = grow(s.mins, len(obs.Services))
	var perLevel [numPriorities]float64
	total := 0.0
	for i, sv := range obs.Services {
		m := sv.Min
		if !(m > 0) {
			m = 0
		}
		m = math.Min(m, ceilingOf(sv))
		s.mins[i] = m
		perLevel[sv.Priority%numPriorities] += m
		total += m
	}
	if total <= c {
		return s.mins
	}
	excess := total - c
	var scale [numPriorities]float64
	for p := range scale {
		scale[p] = 1
	}
	for p := int(numPriorities) - 1; p >= 0 && excess > 0; p-- {
		if perLevel[p] <= excess {
			scale[p] = 0
			excess -= perLevel[p]
			continue
		}
		scale[p] = (perLevel[p] - excess) / perLevel[p]
		excess = 0
	}
	for i, sv := range obs.Services {
		s.mins[i] *= scale[sv.Priority%numPriorities]
	}
	return s.mins
}

func (s *scratch) constrain(obs *Observation, out []float64) {
	c := capacityOf(obs)
	mins := s.effectiveMins(obs)
	sum := 0.0
	for i, sv := range obs.Services {
		v := out[i]
		if math.IsNaN(v) || v < mins[i] {
			v = mins[i]
		}
		v = math.Min(v, math.Min(ceilingOf(sv), math.Max(c, mins[i])))
		out[i] = v
		sum += v
	}
	if sum <= c {
		return
	}
	excess := sum - c
	for p := int(numPriorities) - 1; p >= 0 && excess > 0; p-- {
		s.idx = s.idx[:0]
		have, reducible := 0.0, 0.0
		for i, sv := range obs.Services {
			if int(sv.Priority) == p {
				s.idx = append(s.idx, i)
				have += out[i]
				reducible += out[i] - mins[i]
			}
		}
		if reducible <= excess {
			for _, i := range s.idx {
				out[i] = mins[i]
			}
			excess -= reducible
			continue
		}
		// Lower the tallest shares first: the level L with Σ clamp(L, min, share) = have − excess.
		s.caps = grow(s.caps, len(out))
		copy(s.caps, out)
		fillLevel(s.idx, mins, s.caps, have-excess, out)
		excess = 0
	}
}

// fillLevel pours target into the services idx like water: each gets clamp(L, lo[i], hi[i])
// for the highest level L whose total does not exceed target (lo ≤ hi, Σ lo ≤ target, every hi
// finite). The result, written into out[i], is max-min fair: nobody gets more than another
// unless the other is at its hi.
func fillLevel(idx []int, lo, hi []float64, target float64, out []float64) {
	if len(idx) == 0 {
		return
	}
	a, b := math.Inf(1), math.Inf(-1)
	total := 0.0
	for _, i := range idx {
		a = math.Min(a, lo[i])
		b = math.Max(b, hi[i])
		total += hi[i]
	}
	if total <= target {
		for _, i := range idx {
			out[i] = hi[i]
		}
		return
	}
	sumAt := func(level float64) float64 {
		t := 0.0
		for _, i := range idx {
			t += math.Max(lo[i], math.Min(level, hi[i]))
		}
		return t
	}
	// Bisection keeps a ≤ L* ≤ b with sumAt(a) ≤ target; 200 halvings reach float precision for
	// any range a float64 can hold.
	for range 200 {
		m := a + (b-a)/2
		if m <= a || m >= b {
			break
		}
		if sumAt(m) <= target {
			a = m
		} else {
			b = m
		}
	}
	for _, i := range idx {
		out[i] = math.Max(lo[i], math.Min(a, hi[i]))
	}
}

// spreadWeighted gives each service idx base[i] + k·w[i], clamped to [lo[i], hi[i]], for the
// largest k ≥ 0 whose total does not exceed target; hi may be +Inf. It returns what was left
// of target (0 unless every service reached its hi).
func spreadWeighted(idx []int, base, w, lo, hi []float64, target float64, out []float64) float64 {
	at := func(k float64) float64 {
		t := 0.0
		for _, i := range idx {
			t += math.Max(lo[i], math.Min(base[i]+k*w[i], hi[i]))
		}
		return t
	}
	write := func(k float64) float64 {
		t := 0.0
		for _, i := range idx {
			out[i] = math.Max(lo[i], math.Min(base[i]+k*w[i], hi[i]))
			t += out[i]
		}
		return t
	}
	if at(0) >= target {
		write(0)
		return 0
	}
	// kMax: the k at which every weighted service reaches its hi (+Inf when one has none).
	kMax := 0.0
	for _, i := range idx {
		if w[i] > 0 {
			kMax = math.Max(kMax, (hi[i]-base[i])/w[i])
		}
	}
	if !math.IsInf(kMax, 1) && at(kMax) <= target {
		return math.Max(0, target-write(kMax))
	}
	a, b := 0.0, 1.0
	for at(b) < target && b < kMax {
		a, b = b, b*2
	}
	b = math.Min(b, kMax)
	for range 200 {
		m := a + (b-a)/2
		if m <= a || m >= b {
			break
		}
		if at(m) <= target {
			a = m
		} else {
			b = m
		}
	}
	return math.Max(0, target-write(a))
}
