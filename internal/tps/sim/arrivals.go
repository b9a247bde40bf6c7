package sim

import (
	"math"
	"math/rand/v2"
	"time"
)

// arrivals yields Poisson arrivals of all services in time order without a heap: the
// superposition of independent Poisson processes is one Poisson process at the total rate,
// each arrival belonging to service i with probability rate_i/total. Rates are piecewise
// constant, and memorylessness lets the process restart at each change of rate.
type arrivals struct {
	rng    *rand.Rand
	demand *Demand
	end    time.Duration
	now    time.Duration
	seg    int
	segEnd time.Duration
	cum    []float64 // cumulative rates of the current segment
	total  float64   // requests per second
}

func newArrivals(d *Demand, end time.Duration, seed uint64) *arrivals {
	a := &arrivals{
		// The second PCG word separates the arrival stream from other uses of the same seed.
		rng:    rand.New(rand.NewPCG(seed, 0x61727269)),
		demand: d,
		end:    end,
		cum:    make([]float64, len(d.Services())),
		seg:    -1,
	}
	a.enter(0)
	return a
}

// enter starts segment seg at its start time (or at 0 for the first).
func (a *arrivals) enter(seg int) {
	a.seg = seg
	if seg > 0 {
		a.now = a.demand.starts[seg]
	}
	if seg+1 < len(a.demand.starts) {
		a.segEnd = min(a.demand.starts[seg+1], a.end)
	} else {
		a.segEnd = a.end
	}
	sum := 0.0
	for i, r := range a.demand.rates[seg] {
		sum += r
		a.cum[i] = sum
	}
	a.total = sum
}

// next returns the next arrival's time and service, or ok false once past the end.
func (a *arrivals) next() (at time.Duration, svc int, ok bool) {
	for {
		if a.total > 0 {
			gap := time.Duration(math.Ceil(a.rng.ExpFloat64() / a.total * float64(time.Second)))
			if t := a.now + gap; t < a.segEnd {
				a.now = t
				return t, a.pick(), true
			}
		}
		if a.segEnd >= a.end || a.seg+1 >= len(a.demand.starts) {
			a.now = a.end
			return 0, 0, false
		}
		a.enter(a.seg + 1)
	}
}

func (a *arrivals) pick() int {
	u := a.rng.Float64() * a.total
	for i, c := range a.cum {
		if u < c {
			return i
		}
	}
	return len(a.cum) - 1
}
