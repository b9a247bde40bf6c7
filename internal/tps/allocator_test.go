package tps

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestNewAllocator(t *testing.T) {
	for _, name := range ClassicAllocators {
		a, err := NewAllocator(name)
		if err != nil || a.Name() != name {
			t.Fatalf("NewAllocator(%q) = %v, %v", name, a, err)
		}
	}
	if _, err := NewAllocator("learned"); err == nil || !strings.Contains(err.Error(), "aimd, proportional, static, waterfill") {
		t.Fatalf("learned without a builder: err = %v", err)
	}
	learned := &Waterfill{}
	a, err := NewAllocator("learned", WithAllocator("learned", func() (Allocator, error) { return learned, nil }))
	if err != nil || a != learned {
		t.Fatalf("learned with a builder = %v, %v", a, err)
	}
	// Fresh state per call: two pools must not share an AIMD.
	x, _ := NewAllocator("aimd")
	y, _ := NewAllocator("aimd")
	if x == y {
		t.Fatal("NewAllocator returned the same instance twice")
	}
}

// allocate runs a fresh allocator on obs ticks times (stateful allocators settle) and returns
// the constrained result.
func allocate(name string, obs *Observation, ticks int) []float64 {
	a, err := NewAllocator(name)
	if err != nil {
		panic(err)
	}
	out := make([]float64, len(obs.Services))
	for range ticks {
		clear(out)
		a.Allocate(obs, out)
		Constrain(obs, out)
	}
	return out
}

func withDemand(obs *Observation, demand ...float64) *Observation {
	for i, d := range demand {
		obs.Stats[i].Demand = d
	}
	return obs
}

func checkShares(t *testing.T, got, want []float64) {
	t.Helper()
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-6*math.Max(1, want[i]) {
			t.Fatalf("shares %v, want %v", got, want)
		}
	}
}

func TestStatic(t *testing.T) {
	c, h, l := Critical, High, Low
	for _, tc := range []struct {
		name   string
		obs    *Observation
		want   []float64
		demand []float64
	}{
		{"mins then weights", obsOf(1500, Service{Priority: c, Min: 300}, Service{Priority: h}, Service{Priority: l}), []float64{300 + 1200*8.0/13, 1200 * 4.0 / 13, 1200 * 1.0 / 13}, nil},
		{"demand is ignored", obsOf(1500, Service{Priority: c, Min: 300}, Service{Priority: h}, Service{Priority: l}), []float64{300 + 1200*8.0/13, 1200 * 4.0 / 13, 1200 * 1.0 / 13}, []float64{0, 5000, 0}},
		{"max passes the rest on", obsOf(1300, Service{Priority: c, Max: 100}, Service{Priority: h}, Service{Priority: l}), []float64{100, 960, 240}, nil},
		{"everyone capped leaves capacity unused", obsOf(1000, Service{Priority: c, Max: 100}, Service{Priority: l, Max: 50}), []float64{100, 50}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			withDemand(tc.obs, tc.demand...)
			checkShares(t, allocate("static", tc.obs, 1), tc.want)
		})
	}
}

func TestProportional(t *testing.T) {
	c, h, l := Critical, High, Low
	for _, tc := range []struct {
		name   string
		obs    *Observation
		demand []float64
		want   []float64
	}{
		{"in proportion, whole capacity", obsOf(1000, Service{Priority: c}, Service{Priority: l}), []float64{100, 300}, []float64{250, 750}},
		{"priority-blind under shortage", obsOf(1000, Service{Priority: c}, Service{Priority: l}), []float64{1000, 1000}, []float64{500, 500}},
		{"min is a floor", obsOf(1000, Service{Priority: c}, Service{Priority: l, Min: 400}), []float64{900, 100}, []float64{600, 400}},
		{"max passes the rest on", obsOf(1000, Service{Priority: c, Max: 100}, Service{Priority: h}, Service{Priority: l}), []float64{500, 300, 100}, []float64{100, 675, 225}},
		{"no demand splits by weight", obsOf(900, Service{Priority: c}, Service{Priority: l}), []float64{0, 0}, []float64{800, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkShares(t, allocate("proportional", withDemand(tc.obs, tc.demand...), 1), tc.want)
		})
	}
	// Queued requests count as demand to be drained within a tick.
	obs := withDemand(obsOf(1000, Service{Priority: c}, Service{Priority: l}), 100, 100)
	obs.Stats[1].Queued = 50 // 50 per 250 ms tick = 200/s
	checkShares(t, allocate("proportional", obs, 1), []float64{250, 750})
}

func TestWaterfillEntitle(t *testing.T) {
	c, h, m, l := Critical, High, Medium, Low
	for _, tc := range []struct {
		name   string
		obs    *Observation
		demand []float64
		want   []float64
	}{
		{"shortage: low cut first", obsOf(1000, Service{Priority: c}, Service{Priority: h}, Service{Priority: l}), []float64{500, 400, 900}, []float64{500, 400, 100}},
		{"shortage: low keeps its min", obsOf(1000, Service{Priority: c}, Service{Priority: h}, Service{Priority: l, Min: 50}), []float64{600, 600, 900}, []float64{600, 350, 50}},
		{"shortage: max-min fair within a level", obsOf(1000, Service{Priority: c}, Service{Priority: h}, Service{Priority: h}, Service{Priority: h}), []float64{400, 100, 400, 900}, []float64{400, 100, 250, 250}},
		{"critical beyond its min", obsOf(1000, Service{Priority: c, Min: 100}, Service{Priority: l}), []float64{800, 800}, []float64{800, 200}},
		{"critical capped by max", obsOf(1000, Service{Priority: c, Max: 300}, Service{Priority: m}), []float64{800, 800}, []float64{300, 700}},
		{"surplus stays unallocated", obsOf(1000, Service{Priority: c}, Service{Priority: h}, Service{Priority: l}), []float64{100, 400, 100}, []float64{100, 400, 100}},
		{"no demand: mins", obsOf(1000, Service{Priority: c, Min: 300}, Service{Priority: h}, Service{Priority: l, Min: 10}), []float64{0, 0, 0}, []float64{300, 0, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := make([]float64, len(tc.obs.Services))
			(&Waterfill{}).Entitle(withDemand(tc.obs, tc.demand...), out)
			checkShares(t, out, tc.want)
		})
	}
}

func TestWaterfill(t *testing.T) {
	// 250 ms ticks: σ = sqrt(d/0.25) = 2·sqrt(d). Own share = clamp(d − σ, min, entitlement);
	// the rest of the capacity is shared.
	c, h, l := Critical, High, Low
	for _, tc := range []struct {
		name   string
		obs    *Observation
		demand []float64
		want   []float64
	}{
		{"shortage", obsOf(1000, Service{Priority: c}, Service{Priority: h}, Service{Priority: l}), []float64{400, 100, 900}, []float64{360, 80, 500}},
		{"min is kept", obsOf(1000, Service{Priority: c, Min: 395}, Service{Priority: l}), []float64{400, 900}, []float64{395, 600}},
		{"surplus", obsOf(1000, Service{Priority: c}, Service{Priority: l}), []float64{100, 100}, []float64{80, 80}},
		{"no demand: mins", obsOf(1000, Service{Priority: c, Min: 300}, Service{Priority: h}, Service{Priority: l, Min: 10}), []float64{0, 0, 0}, []float64{300, 0, 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkShares(t, allocate("waterfill", withDemand(tc.obs, tc.demand...), 1), tc.want)
		})
	}
	// The forecast replaces the last demand; the queue adds its drain rate to the entitlement,
	// which is kept back as shared.
	obs := withDemand(obsOf(1000, Service{Priority: c}, Service{Priority: l}), 100, 2000)
	obs.Stats[0].Forecast = []float64{400, 600}
	obs.Stats[0].Queued = 25 // 100/s over a 250 ms tick
	out := make([]float64, 2)
	(&Waterfill{}).Entitle(obs, out)
	checkShares(t, out, []float64{500, 500})
	checkShares(t, allocate("waterfill", obs, 1), []float64{360, 500})
}

func TestAIMD(t *testing.T) {
	c, l := Critical, Low
	// Demand above capacity and unchanged: CRITICAL (short) climbs by 2.5% of the capacity per
	// 250 ms tick, LOW is cut multiplicatively when the shares exceed the capacity.
	obs := withDemand(obsOf(1000, Service{Priority: c}, Service{Priority: l, Min: 50}), 800, 800)
	obs.Stats[0].Rejected, obs.Stats[1].Rejected = 100, 100
	a := &AIMD{}
	out := make([]float64, 2)
	a.Allocate(obs, out)
	checkShares(t, out, []float64{800, 200}) // first tick: wants; low ×0.7 = 560, then cut to fit
	a.Allocate(obs, out)
	// Both short: 825 and 203.125; over capacity: low ×0.7 fits.
	checkShares(t, out, []float64{825, 142.1875})
	// A service that no longer wants its share gives it back gradually (×0.8 per tick).
	obs.Stats[0].Demand, obs.Stats[0].Rejected = 100, 0
	a.Allocate(obs, out)
	checkShares(t, out, []float64{660, 145.3125})

	// Converges: with steady demands that fit, every service ends with at least its demand.
	// Starting from low shares, a steady overload settles with CRITICAL served in full.
	obs = obsOf(1000, Service{Priority: c}, Service{Priority: Medium}, Service{Priority: l})
	a = &AIMD{}
	got := make([]float64, 3)
	a.Allocate(obs, got) // first tick, no demand yet
	withDemand(obs, 300, 300, 600)
	for range 160 {
		for i := range got {
			obs.Stats[i].Served = math.Min(got[i], obs.Stats[i].Demand)
			obs.Stats[i].Rejected = obs.Stats[i].Demand - obs.Stats[i].Served
		}
		a.Allocate(obs, got)
		Constrain(obs, got)
	}
	if got[0] < 300 || got[1] < 300 || got[0]+got[1]+got[2] < 900 {
		t.Fatalf("aimd after 40 s of steady overload: %v", got)
	}
}

func TestAllocatorProperties(t *testing.T) {
	for _, name := range ClassicAllocators {
		t.Run(name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(name))))
			for n := range 2000 {
				obs := randomObservation(rng)
				out := allocate(name, obs, 1+rng.IntN(3))
				checkHard(t, obs, out)
				if name == "waterfill" {
					// The priority order holds for the entitlements; Allocate only keeps part
					// of them back as shared capacity, which the limiter serves most
					// important first.
					ent := make([]float64, len(out))
					(&Waterfill{}).Entitle(obs, ent)
					checkHard(t, obs, ent)
					checkPriorityOrder(t, n, obs, ent)
					for i := range out {
						if out[i] > ent[i]+1e-9*math.Max(1, ent[i]) {
							t.Fatalf("case %d: own share %v above entitlement %v", n, out[i], ent[i])
						}
					}
				}
			}
		})
	}
}

// checkPriorityOrder: a service above its floor means every more important service got its
// want; CRITICAL gets its want whenever it fits beside the other levels' mins; within a level,
// a service short of its want is never below another that is above its floor.
func checkPriorityOrder(t *testing.T, n int, obs *Observation, out []float64) {
	t.Helper()
	fl := floors(obs)
	want := make([]float64, len(out))
	critWant, othersMin := 0.0, 0.0
	for i, sv := range obs.Services {
		want[i] = math.Max(fl[i], math.Min(wantOf(obs, i), ceilingOf(sv)))
		if sv.Priority == Critical {
			critWant += want[i]
		} else {
			othersMin += fl[i]
		}
	}
	tol := func(x float64) float64 { return 1e-6 * math.Max(1, x) }
	for j, sj := range obs.Services {
		if out[j] <= fl[j]+tol(fl[j]) {
			continue
		}
		for i, si := range obs.Services {
			if si.Priority < sj.Priority && out[i] < want[i]-tol(want[i]) {
				t.Fatalf("case %d: %v service %d above its floor (%v > %v) while %v service %d is short (%v < %v)",
					n, sj.Priority, j, out[j], fl[j], si.Priority, i, out[i], want[i])
			}
			if si.Priority == sj.Priority && out[i] < want[i]-tol(want[i]) && out[i] < out[j]-tol(out[j]) {
				t.Fatalf("case %d: not max-min fair within %v: %d short at %v, %d has %v", n, si.Priority, i, out[i], j, out[j])
			}
		}
	}
	if critWant+othersMin <= capacityOf(obs) {
		for i, sv := range obs.Services {
			if sv.Priority == Critical && out[i] < want[i]-tol(want[i]) {
				t.Fatalf("case %d: CRITICAL %d got %v of %v though it fits", n, i, out[i], want[i])
			}
		}
	}
}

func BenchmarkAllocate(b *testing.B) {
	obs := withDemand(obsOf(1470, testServices()...), 400, 600, 300, 500)
	for _, name := range ClassicAllocators {
		b.Run(name, func(b *testing.B) {
			a, _ := NewAllocator(name)
			out := make([]float64, len(obs.Services))
			b.ReportAllocs()
			for b.Loop() {
				a.Allocate(obs, out)
			}
		})
	}
}
