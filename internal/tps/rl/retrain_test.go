package rl

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"aya/internal/tps"
)

// driftingPool feeds a steady demand for 300 ticks and then wild, unforecastable demand, which
// the Page-Hinkley detector flags as drift.
type driftingPool struct {
	obs  *tps.Observation
	out  []float64
	rng  *rand.Rand
	tick int
}

func newDriftingPool() *driftingPool {
	return &driftingPool{
		obs: &tps.Observation{Tick: time.Second, Capacity: 1000, Services: []tps.Service{{Priority: tps.High}, {Priority: tps.Low}},
			Stats: make([]tps.ServiceStats, 2)},
		out: make([]float64, 2),
		rng: rand.New(rand.NewPCG(4, 4)),
	}
}

func (p *driftingPool) step(a *Allocator) {
	for i := range p.obs.Stats {
		d := 300.0
		if p.tick >= 300 {
			d = 600 * p.rng.ExpFloat64() * float64(p.rng.IntN(2))
		}
		p.obs.Stats[i].Demand = d
	}
	p.tick++
	a.Allocate(p.obs, p.out)
}

// fakeTrain stands in for training (which never runs in tests): it records the trace it was
// given and returns model (or err) once release is closed.
type fakeTrain struct {
	model   *Model
	err     error
	release chan struct{}
	got     chan Trace
}

func (f *fakeTrain) train(ctx context.Context, recent Trace) (*Model, error) {
	f.got <- recent
	select {
	case <-f.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return f.model, f.err
}

func newRetrainAllocator(t *testing.T, f *fakeTrain, burnIn int) *Allocator {
	t.Helper()
	a, err := New(Options{MaxForecastError: 0.3, Logger: slog.New(slog.DiscardHandler),
		Retrain: &Retrain{Train: f.train, History: 100, BurnIn: burnIn}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

// runUntil steps the pool until cond holds, or fails after limit ticks.
func runUntil(t *testing.T, p *driftingPool, a *Allocator, limit int, what string, cond func(Status) bool) {
	t.Helper()
	for range limit {
		p.step(a)
		if cond(a.Status()) {
			return
		}
	}
	t.Fatalf("%s: not within %d ticks; status %+v", what, limit, a.Status())
}

func TestDriftRetrainsThenBurnsInThenTakesOver(t *testing.T) {
	m, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeTrain{model: m, release: make(chan struct{}), got: make(chan Trace, 1)}
	a := newRetrainAllocator(t, f, 50)
	p := newDriftingPool()
	before := a.agent

	runUntil(t, p, a, 600, "retraining to start on drift", func(s Status) bool { return s.Retraining })
	recent := <-f.got
	if len(recent.Demand) != 100 || len(recent.Services) != 2 || recent.Tick != time.Second || recent.Capacity != 1000 || recent.Model == nil {
		t.Fatalf("trace: %d ticks, %d services, tick %v, capacity %v; want the last 100 ticks of 2 services",
			len(recent.Demand), len(recent.Services), recent.Tick, recent.Capacity)
	}
	if last := recent.Demand[len(recent.Demand)-1]; last[0] != p.obs.Stats[0].Demand || last[1] != p.obs.Stats[1].Demand {
		t.Fatalf("the trace ends with %v, want the last tick's demand %v %v", last, p.obs.Stats[0].Demand, p.obs.Stats[1].Demand)
	}
	// While it trains, the pool keeps ticking with the current model and no second training.
	for range 20 {
		p.step(a)
	}
	if a.agent != before || len(f.got) != 0 {
		t.Fatal("the model changed, or a second training started, before the first finished")
	}

	close(f.release)
	runUntil(t, p, a, 200, "burn-in to start", func(s Status) bool { return s.BurnInLeft > 0 })
	st := a.Status()
	if len(st.Candidate) != 2 || a.agent != before {
		t.Fatalf("in burn-in: candidate %v, model replaced %v; want a shadow allocation and the old model enforcing", st.Candidate, a.agent != before)
	}
	for i, v := range st.Candidate {
		if math.IsNaN(v) || v < 0 {
			t.Fatalf("candidate allocation %d = %v", i, v)
		}
	}
	runUntil(t, p, a, 60, "the retrained model to take over", func(s Status) bool { return s.Retrained == 1 })
	st = a.Status()
	if a.agent == before || st.Candidate != nil || st.BurnInLeft != 0 || st.Drift || st.Retraining {
		t.Fatalf("after burn-in: status %+v; want the new model in charge and drift cleared", st)
	}
}

func TestBurnInDropsAnInvalidModel(t *testing.T) {
	bad, err := DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	bad.pol.actor.params[0] = math.NaN()
	f := &fakeTrain{model: bad, release: make(chan struct{}), got: make(chan Trace, 4)}
	close(f.release)
	a := newRetrainAllocator(t, f, 50)
	p := newDriftingPool()
	before := a.agent
	runUntil(t, p, a, 800, "the invalid model to be dropped", func(s Status) bool { return s.RejectedInBurn == 1 })
	if a.agent != before || a.Status().Retrained != 0 {
		t.Fatal("an invalid retrained model took over")
	}
	for i, v := range p.out {
		if math.IsNaN(v) {
			t.Fatalf("allocation %d is NaN", i)
		}
	}
}

func TestFailedRetrainingKeepsTheModel(t *testing.T) {
	f := &fakeTrain{err: errors.New("out of budget"), release: make(chan struct{}), got: make(chan Trace, 4)}
	close(f.release)
	a := newRetrainAllocator(t, f, 50)
	p := newDriftingPool()
	before := a.agent
	runUntil(t, p, a, 800, "the failure to be counted", func(s Status) bool { return s.RetrainFailures == 1 && !s.Retraining })
	if a.agent != before || a.Status().BurnInLeft != 0 {
		t.Fatal("a failed training changed the model")
	}
}

func TestCloseStopsTraining(t *testing.T) {
	f := &fakeTrain{release: make(chan struct{}), got: make(chan Trace, 1)}
	a := newRetrainAllocator(t, f, 50)
	p := newDriftingPool()
	runUntil(t, p, a, 600, "retraining to start", func(s Status) bool { return s.Retraining })
	<-f.got
	done := make(chan struct{})
	go func() { a.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not stop the training")
	}
}

func TestRetrainNeedsTrain(t *testing.T) {
	if _, err := New(Options{Retrain: &Retrain{}}); err == nil {
		t.Fatal("Retrain without Train accepted")
	}
}

func TestHistoryKeepsTheLastTicksOldestFirst(t *testing.T) {
	tests := []struct {
		name  string
		ticks int
		want  []float64 // service 0's demand per kept tick
	}{
		{"not full", 2, []float64{0, 1}},
		{"exactly full", 4, []float64{0, 1, 2, 3}},
		{"wrapped", 6, []float64{2, 3, 4, 5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h history
			obs := &tps.Observation{Services: make([]tps.Service, 1), Stats: make([]tps.ServiceStats, 1)}
			for i := range tc.ticks {
				obs.Stats[0].Demand = float64(i)
				h.add(obs, 4)
			}
			tr := h.trace(obs)
			if len(tr.Demand) != len(tc.want) {
				t.Fatalf("%d ticks kept, want %d", len(tr.Demand), len(tc.want))
			}
			for i, w := range tc.want {
				if tr.Demand[i][0] != w {
					t.Fatalf("tick %d: %v, want %v", i, tr.Demand[i][0], w)
				}
			}
		})
	}
}

func BenchmarkAllocateWithRetrain(b *testing.B) {
	a, err := New(Options{Logger: slog.New(slog.DiscardHandler), Retrain: &Retrain{Train: func(context.Context, Trace) (*Model, error) { return nil, errors.New("no") }}})
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	rng := rand.New(rand.NewPCG(7, 7))
	obs := randomObservation(rng)
	out := make([]float64, len(obs.Services))
	b.ReportAllocs()
	for b.Loop() {
		a.Allocate(obs, out)
	}
}
