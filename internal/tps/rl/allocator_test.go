package rl

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"aya/internal/tps"
)

// randomObservation makes a pool of 1–8 services with random priorities, mins that fit,
// optional maxes, and random demand, queues and rejections.
func randomObservation(rng *rand.Rand) *tps.Observation {
	n := 1 + rng.IntN(8)
	capacity := 50 + rng.Float64()*3000
	obs := &tps.Observation{Tick: 250 * time.Millisecond, Capacity: capacity, Services: make([]tps.Service, n), Stats: make([]tps.ServiceStats, n)}
	minBudget := capacity * rng.Float64() * 0.9
	for i := range n {
		s := tps.Service{Priority: tps.Priorities[rng.IntN(4)], Min: minBudget / float64(n) * rng.Float64()}
		if rng.IntN(3) == 0 {
			s.Max = s.Min + rng.Float64()*capacity
		}
		obs.Services[i] = s
		d := rng.ExpFloat64() * capacity / float64(n)
		obs.Stats[i] = tps.ServiceStats{Demand: d, Served: d * rng.Float64(), Rejected: d * rng.Float64() * 0.3, Queued: rng.IntN(500)}
	}
	if rng.IntN(5) == 0 {
		obs.Upstream429 = rng.IntN(20)
	}
	return obs
}

// checkConstraints fails unless out is finite, within [min, max] per service and sums to at
// most the capacity (mins fit in these observations).
func checkConstraints(t *testing.T, obs *tps.Observation, out []float64) {
	t.Helper()
	sum := 0.0
	for i, v := range out {
		s := obs.Services[i]
		if math.IsNaN(v) || math.IsInf(v, 0) || v < s.Min-1e-9 || (s.Max > 0 && v > s.Max+1e-9) {
			t.Fatalf("service %d (%+v): allocation %v outside [min, max]", i, s, v)
		}
		sum += v
	}
	if sum > obs.Capacity*(1+1e-9) {
		t.Fatalf("allocations sum to %.3f > capacity %.3f", sum, obs.Capacity)
	}
}

func TestLearnedRespectsConstraints(t *testing.T) {
	a, err := New(Options{})
	if err != nil {
		t.Fatalf("embedded model: %v", err)
	}
	rng := rand.New(rand.NewPCG(21, 22))
	for range 2000 {
		obs := randomObservation(rng)
		out := make([]float64, len(obs.Services))
		// A few ticks of the same pool, so forecasts and the policy's state move.
		for range 3 {
			a.Allocate(obs, out)
			checkConstraints(t, obs, out)
			for i := range obs.Stats {
				obs.Stats[i].Demand *= 0.5 + rng.Float64()
			}
		}
	}
	if a.Name() != "learned" {
		t.Errorf("Name() = %q", a.Name())
	}
}

// TestLearnedNeverScalesCriticalDown: whatever the policy says, a CRITICAL service gets at
// least what waterfill gives it.
func TestLearnedNeverScalesCriticalDown(t *testing.T) {
	m, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	g := newAgent(m.pol, func() tps.Allocator { return &tps.Waterfill{} })
	rng := rand.New(rand.NewPCG(3, 3))
	for range 500 {
		obs := randomObservation(rng)
		g.observe(obs)
		acts := make([]float64, len(obs.Services))
		for i := range acts {
			acts[i] = 2*rng.Float64() - 1
			if obs.Services[i].Priority == tps.Critical {
				acts[i] = -1
			}
		}
		out := make([]float64, len(acts))
		g.apply(obs, acts, out)
		checkConstraints(t, obs, out)
		for i, s := range obs.Services {
			if s.Priority == tps.Critical && out[i] < g.baseOut[i]-1e-6 {
				// Only more important demand can take from it, and nothing is more important:
				// a CRITICAL service loses only to other CRITICAL services scaled up.
				onlyCritical := true
				for j, o := range obs.Services {
					if j != i && o.Priority == tps.Critical && acts[j] > 0 {
						onlyCritical = false
					}
				}
				if onlyCritical {
					t.Fatalf("critical service %d: learned %.3f < waterfill %.3f", i, out[i], g.baseOut[i])
				}
			}
		}
	}
}

func TestLearnedFallsBackOnInvalidOutput(t *testing.T) {
	m, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	m.pol.actor.params[0] = math.NaN() // a corrupted weight poisons every output
	a, err := New(Options{Model: m})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	obs := randomObservation(rng)
	out := make([]float64, len(obs.Services))
	a.Allocate(obs, out)
	checkConstraints(t, obs, out)
	st := a.Status()
	if st.Enforced != FallbackInvalidOutput || st.Fallbacks != 1 {
		t.Fatalf("status %+v: want an invalid-output fallback", st)
	}
	want := make([]float64, len(out))
	(&tps.Waterfill{}).Allocate(obs, want)
	tps.Constrain(obs, want)
	for i := range out {
		if out[i] != want[i] {
			t.Fatalf("fallback allocation %v, want waterfill's %v", out, want)
		}
	}
}

func TestLearnedShadowEnforcesBase(t *testing.T) {
	a, err := New(Options{Shadow: true})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	obs := randomObservation(rng)
	out := make([]float64, len(obs.Services))
	a.Allocate(obs, out)
	st := a.Status()
	if st.Enforced != FallbackShadow {
		t.Fatalf("Enforced = %q, want shadow", st.Enforced)
	}
	for i := range out {
		if out[i] != st.Base[i] {
			t.Fatalf("shadow mode enforced %v, want the base %v", out, st.Base)
		}
	}
	if got := a.LastShadow(); len(got) != len(out) {
		t.Fatalf("LastShadow() = %v, want one rate per service", got)
	}
}

func TestLearnedFallsBackWhenForecastsFail(t *testing.T) {
	a, err := New(Options{MaxForecastError: 0.3})
	if err != nil {
		t.Fatal(err)
	}
	var drifted int
	a.opts.OnDrift = func() { drifted++ }
	obs := &tps.Observation{Tick: time.Second, Capacity: 1000, Services: []tps.Service{{Priority: tps.High}, {Priority: tps.Low}}, Stats: make([]tps.ServiceStats, 2)}
	out := make([]float64, 2)
	rng := rand.New(rand.NewPCG(4, 4))
	for tick := range 600 {
		for i := range obs.Stats {
			d := 300.0
			if tick >= 300 { // wild, unforecastable demand
				d = 600 * rng.ExpFloat64() * float64(rng.IntN(2))
			}
			obs.Stats[i].Demand = d
		}
		a.Allocate(obs, out)
	}
	st := a.Status()
	if st.Enforced != FallbackForecastError || !st.Drift || drifted != 1 {
		t.Fatalf("status %+v, OnDrift calls %d: want a forecast-error fallback and one drift signal", st, drifted)
	}
	a.ResetDrift()
	a.Allocate(obs, out)
	if a.Drifted() {
		t.Error("drift still flagged right after ResetDrift")
	}
}

func TestModelRoundTrip(t *testing.T) {
	m, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	back, err := ReadModel(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	back.WriteTo(&again)
	if !bytes.Equal(again.Bytes(), data) {
		t.Fatal("a model read back writes different bytes")
	}

	corrupt := func(f func([]byte)) []byte {
		c := bytes.Clone(data)
		f(c)
		return c
	}
	bad := map[string][]byte{
		"empty":     nil,
		"magic":     corrupt(func(b []byte) { b[0] = 'X' }),
		"bit flip":  corrupt(func(b []byte) { b[100] ^= 1 }),
		"truncated": data[:len(data)-9],
	}
	for name, b := range bad {
		if _, err := ReadModel(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: ReadModel accepted a bad file", name)
		}
	}
}

func BenchmarkLearnedAllocate(b *testing.B) {
	a, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	svcs := []tps.Service{
		{Name: "payments", Priority: tps.Critical, Min: 150}, {Name: "search", Priority: tps.High, Min: 100},
		{Name: "orders", Priority: tps.High, Min: 100}, {Name: "catalog", Priority: tps.Medium, Min: 50},
		{Name: "reports", Priority: tps.Low, Min: 25, Max: 600}, {Name: "analytics", Priority: tps.Low, Min: 25},
	}
	obs := &tps.Observation{Tick: 250 * time.Millisecond, Capacity: 1470, Services: svcs, Stats: make([]tps.ServiceStats, len(svcs))}
	for i := range obs.Stats {
		obs.Stats[i] = tps.ServiceStats{Demand: 300, Served: 250, Rejected: 5, Queued: 20}
	}
	out := make([]float64, len(svcs))
	a.Allocate(obs, out)
	b.ReportAllocs()
	for b.Loop() {
		a.Allocate(obs, out)
	}
}
