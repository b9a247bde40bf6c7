package sim

import (
	"bytes"
	"context"
	"math"
	"testing"
	"time"

	"aya/internal/tps"
	"aya/internal/tps/rl"
)

func TestTraceScenario(t *testing.T) {
	tr := rl.Trace{
		Tick:     250 * time.Millisecond,
		Capacity: 98,
		Services: []tps.Service{{Name: "pay", Priority: tps.Critical, Min: 10}, {Priority: tps.Low}},
		Demand:   [][]float64{{10, 50}, {10, 60}, {20, 60}, {20, -1}},
	}
	s, err := traceScenario(tr, RetrainConfig{Queue: QueueSpec{Max: 10, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if s.Duration != time.Second || s.Tick != tr.Tick || math.Abs(s.Capacity*(1-s.Margin)-98) > 1e-9 || s.Services[1].Name != "s2" {
		t.Fatalf("scenario %+v", s)
	}
	tests := []struct {
		svc  int
		at   time.Duration
		want float64
	}{
		{0, 0, 10}, {1, 0, 50},
		{1, 250 * time.Millisecond, 60},
		{0, 500 * time.Millisecond, 20},
		{1, 750 * time.Millisecond, 0}, // a negative rate is no demand
	}
	for _, tc := range tests {
		if got := s.Demand.Rate(tc.svc, tc.at); got != tc.want {
			t.Errorf("service %d at %v: rate %v, want %v", tc.svc, tc.at, got, tc.want)
		}
	}
	if n := len(s.Demand.Rows()); n != 5 {
		t.Errorf("%d demand rows, want 5 (one per change)", n)
	}
	if _, err := traceScenario(rl.Trace{Tick: time.Second}, RetrainConfig{}); err == nil {
		t.Error("an empty trace made a scenario")
	}
}

// TestRetrainOnIsDeterministic runs one PPO iteration on a few seconds of traffic (the only
// training in tests: it takes well under a second) twice with one seed.
func TestRetrainOnIsDeterministic(t *testing.T) {
	tr := rl.Trace{
		Tick:     250 * time.Millisecond,
		Capacity: 100,
		Services: []tps.Service{{Name: "a", Priority: tps.High, Min: 10}, {Name: "b", Priority: tps.Low}},
	}
	for k := range 20 {
		tr.Demand = append(tr.Demand, []float64{40 + float64(k%5)*10, 80})
	}
	train := RetrainOn(RetrainConfig{Iterations: 1, Seed: 3})
	var files [2]bytes.Buffer
	for i := range files {
		m, err := train(context.Background(), tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.WriteTo(&files[i]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(files[0].Bytes(), files[1].Bytes()) {
		t.Fatal("two retrainings with one seed gave different models")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := RetrainOn(RetrainConfig{Iterations: 5})(ctx, tr); err == nil {
		t.Fatal("a cancelled retraining returned a model")
	}
}

func TestRetrainedModelMustDoNoWorse(t *testing.T) {
	tr := rl.Trace{
		Tick:     250 * time.Millisecond,
		Capacity: 100,
		Services: []tps.Service{{Name: "a", Priority: tps.Critical, Min: 10}, {Name: "b", Priority: tps.Low}},
	}
	for range 40 {
		tr.Demand = append(tr.Demand, []float64{50, 90})
	}
	s, err := traceScenario(tr, RetrainConfig{Queue: QueueSpec{Max: 100, Timeout: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rl.DefaultModel()
	if err != nil {
		t.Fatal(err)
	}
	if err := noWorse(context.Background(), s, m, m, 1); err != nil {
		t.Fatalf("a model compared with itself: %v", err)
	}
}

func TestPauseEndsWithTheContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	pause(ctx, time.Hour)
	if time.Since(start) > time.Second {
		t.Fatal("pause outlived its context")
	}
}
