package tps

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

const eps = 1e-6

func near(a, b float64) bool {
	return math.Abs(a-b) <= eps*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func obsOf(capacity float64, svcs ...Service) *Observation {
	return &Observation{Tick: 250 * time.Millisecond, Capacity: capacity, Services: svcs, Stats: make([]ServiceStats, len(svcs))}
}

func TestConstrain(t *testing.T) {
	c, h, m, l := Critical, High, Medium, Low
	for _, tc := range []struct {
		name string
		cap  float64
		svcs []Service
		in   []float64
		want []float64
	}{
		{"fits untouched", 100, []Service{{Priority: c}, {Priority: l}}, []float64{40, 60}, []float64{40, 60}},
		{"negative and NaN become mins", 100, []Service{{Priority: c, Min: 5}, {Priority: l}}, []float64{-3, math.NaN()}, []float64{5, 0}},
		{"max caps", 100, []Service{{Priority: c, Max: 20}, {Priority: l}}, []float64{50, 10}, []float64{20, 10}},
		{"infinite share capped at capacity", 100, []Service{{Priority: l}}, []float64{math.Inf(1)}, []float64{100}},
		{"min raises", 100, []Service{{Priority: l, Min: 30}, {Priority: c}}, []float64{0, 50}, []float64{30, 50}},
		{"cut low first", 100, []Service{{Priority: c}, {Priority: m}, {Priority: l}}, []float64{60, 30, 30}, []float64{60, 30, 10}},
		{"low down to its min, then medium", 100, []Service{{Priority: c}, {Priority: m}, {Priority: l, Min: 10}}, []float64{70, 40, 40}, []float64{70, 20, 10}},
		{"critical cut last", 100, []Service{{Priority: c}, {Priority: h, Min: 10}, {Priority: l, Min: 10}}, []float64{150, 50, 50}, []float64{80, 10, 10}},
		{"within a level the tallest first", 100, []Service{{Priority: c}, {Priority: l}, {Priority: l}, {Priority: l}}, []float64{40, 10, 30, 50}, []float64{40, 10, 25, 25}},
		{"tallest first respects mins", 100, []Service{{Priority: c}, {Priority: l, Min: 35}, {Priority: l}}, []float64{40, 40, 40}, []float64{40, 35, 25}},
		{"mins over capacity shrink low first", 50, []Service{{Priority: c, Min: 30}, {Priority: h, Min: 20}, {Priority: l, Min: 20}}, []float64{0, 0, 0}, []float64{30, 20, 0}},
		{"mins over capacity shrink within a level", 45, []Service{{Priority: c, Min: 30}, {Priority: h, Min: 20}, {Priority: h, Min: 10}}, []float64{0, 0, 0}, []float64{30, 10, 5}},
		{"zero capacity", 0, []Service{{Priority: c, Min: 30}, {Priority: l}}, []float64{10, 10}, []float64{0, 0}},
		{"NaN capacity", math.NaN(), []Service{{Priority: c}}, []float64{10}, []float64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := append([]float64(nil), tc.in...)
			Constrain(obsOf(tc.cap, tc.svcs...), out)
			for i := range out {
				if !near(out[i], tc.want[i]) {
					t.Fatalf("got %v, want %v", out, tc.want)
				}
			}
		})
	}
}

// randomObservation draws a pool of 1–8 services with random priorities, mins, maxes, demands,
// queues and sometimes forecasts. One case in ten has mins that do not fit in the capacity.
func randomObservation(rng *rand.Rand) *Observation {
	n := 1 + rng.IntN(8)
	capacity := 1 + rng.Float64()*5000
	o := obsOf(capacity, make([]Service, n)...)
	o.Tick = time.Duration(50+rng.IntN(950)) * time.Millisecond
	minBudget := capacity * rng.Float64()
	if rng.IntN(10) == 0 {
		minBudget = capacity * (1 + rng.Float64())
	}
	for i := range o.Services {
		s := &o.Services[i]
		s.Name = string(rune('a' + i))
		s.Priority = Priority(rng.IntN(int(numPriorities)))
		if rng.IntN(2) == 0 {
			s.Min = minBudget / float64(n) * rng.Float64()
		}
		if rng.IntN(3) == 0 {
			s.Max = s.Min + capacity*rng.Float64()
		}
		st := &o.Stats[i]
		switch rng.IntN(4) {
		case 0: // idle
		case 1:
			st.Demand = capacity * rng.Float64() * 0.3
		case 2:
			st.Demand = capacity * rng.Float64()
		default:
			st.Demand = capacity * 3 * rng.Float64()
		}
		if rng.IntN(3) == 0 {
			st.Queued = rng.IntN(500)
		}
		if rng.IntN(4) == 0 {
			st.Forecast = []float64{st.Demand * (0.5 + rng.Float64())}
		}
		st.Served = math.Min(st.Demand, capacity*rng.Float64())
		st.Rejected = st.Demand - st.Served
	}
	return o
}

// floors are the mins Constrain guarantees: Min capped by Max, shrunk from LOW when they do
// not fit.
func floors(obs *Observation) []float64 {
	var s scratch
	return append([]float64(nil), s.effectiveMins(obs)...)
}

// checkHard verifies the constraints every allocator's output meets after Constrain.
func checkHard(t *testing.T, obs *Observation, out []float64) {
	t.Helper()
	c := capacityOf(obs)
	fl := floors(obs)
	sum, rawMins := 0.0, 0.0
	for i, v := range out {
		sv := obs.Services[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			t.Fatalf("share %d = %v", i, v)
		}
		if sv.Max > 0 && v > sv.Max*(1+eps) {
			t.Fatalf("share %d = %v above max %v", i, v, sv.Max)
		}
		if v < fl[i]-eps*math.Max(1, fl[i]) {
			t.Fatalf("share %d = %v below its floor %v (min %v)", i, v, fl[i], sv.Min)
		}
		sum += v
		rawMins += math.Min(sv.Min, ceilingOf(sv))
	}
	if sum > c*(1+eps)+eps {
		t.Fatalf("shares add up to %v, above capacity %v: %v", sum, c, out)
	}
	if rawMins <= c {
		for i, sv := range obs.Services {
			if m := math.Min(sv.Min, ceilingOf(sv)); out[i] < m-eps*math.Max(1, m) {
				t.Fatalf("feasible mins: share %d = %v below min %v", i, out[i], m)
			}
		}
		return
	}
	// Infeasible mins: a level keeps less than its mins only if every less important level
	// was cut to zero.
	for i, si := range obs.Services {
		m := math.Min(si.Min, ceilingOf(si))
		if out[i] >= m-eps*math.Max(1, m) {
			continue
		}
		for j, sj := range obs.Services {
			if sj.Priority > si.Priority && out[j] > eps {
				t.Fatalf("service %d (%v) below its min %v while less important %d (%v) keeps %v", i, si.Priority, m, j, sj.Priority, out[j])
			}
		}
	}
}

func TestConstrainProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for n := range 2000 {
		obs := randomObservation(rng)
		in := make([]float64, len(obs.Services))
		for i := range in {
			switch rng.IntN(10) {
			case 0:
				in[i] = math.NaN()
			case 1:
				in[i] = -rng.Float64() * 100
			case 2:
				in[i] = math.Inf(1)
			default:
				in[i] = obs.Capacity * rng.Float64()
			}
		}
		out := append([]float64(nil), in...)
		Constrain(obs, out)
		checkHard(t, obs, out)

		// Cuts go from LOW up: if a service ends below what it asked for (within its max) and
		// above its floor... then no less important service is above its floor.
		fl := floors(obs)
		for i, si := range obs.Services {
			asked := in[i]
			if math.IsNaN(asked) || asked < fl[i] {
				asked = fl[i]
			}
			asked = math.Min(asked, math.Min(ceilingOf(si), obs.Capacity))
			if out[i] >= asked-eps*math.Max(1, asked) {
				continue
			}
			for j, sj := range obs.Services {
				if sj.Priority > si.Priority && out[j] > fl[j]+eps*math.Max(1, fl[j]) {
					t.Fatalf("case %d: %v service %d cut to %v (asked %v) while %v service %d keeps %v above its floor %v",
						n, si.Priority, i, out[i], asked, sj.Priority, j, out[j], fl[j])
				}
			}
		}
		// Constrain is idempotent.
		again := append([]float64(nil), out...)
		Constrain(obs, again)
		for i := range out {
			if !near(again[i], out[i]) {
				t.Fatalf("case %d: second Constrain changed %v to %v", n, out, again)
			}
		}
	}
}

func BenchmarkConstrain(b *testing.B) {
	obs := obsOf(1470, testServices()...)
	out := make([]float64, len(obs.Services))
	var s scratch
	b.ReportAllocs()
	for b.Loop() {
		for i := range out {
			out[i] = 600
		}
		s.constrain(obs, out)
	}
}
