package rl

import (
	"bytes"
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"aya/internal/tps"
)

// fakeEnv is a 20-tick pool of two services whose reward is the weighted allocation up to
// demand: enough to drive Train's loop end to end.
type fakeEnv struct {
	rng  *rand.Rand
	tick int
	obs  tps.Observation
}

func newFakeEnv() *fakeEnv {
	return &fakeEnv{obs: tps.Observation{
		Tick: 500 * time.Millisecond, Capacity: 100,
		Services: []tps.Service{{Name: "a", Priority: tps.Critical, Min: 10}, {Name: "b", Priority: tps.Low}},
		Stats:    make([]tps.ServiceStats, 2),
	}}
}

func (e *fakeEnv) Reset(seed uint64) (*tps.Observation, error) {
	e.rng, e.tick = rand.New(rand.NewPCG(seed, 1)), 0
	e.draw()
	return &e.obs, nil
}

func (e *fakeEnv) draw() {
	for i := range e.obs.Stats {
		e.obs.Stats[i].Demand = 30 + 60*e.rng.Float64()
	}
}

func (e *fakeEnv) Step(alloc []float64) (*tps.Observation, float64, bool, error) {
	r := 0.0
	for i, a := range alloc {
		r += min(a, e.obs.Stats[i].Demand) * e.obs.Services[i].Priority.GoodputWeight()
	}
	e.tick++
	e.draw()
	return &e.obs, r / 100, e.tick == 20, nil
}

func TestTrainSmoke(t *testing.T) {
	var calls int
	m, curve, err := Train(context.Background(), TrainConfig{
		Envs: []Env{newFakeEnv(), newFakeEnv()}, Iterations: 3, Seed: 1,
		PPO:      PPOConfig{Hidden: 8, Epochs: 2},
		Progress: func(IterStats) { calls++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(curve) != 3 || calls != 3 || curve[2].Samples != 40 {
		t.Fatalf("curve %+v, %d progress calls: want 3 iterations of 40 samples", curve, calls)
	}
	var buf bytes.Buffer
	if _, err := m.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadModel(&buf); err != nil {
		t.Fatalf("trained model does not read back: %v", err)
	}
	var svg strings.Builder
	values := make([]float64, len(curve))
	for i, c := range curve {
		values[i] = c.MeanEpisodeReward
	}
	if err := WriteCurveSVG(&svg, "smoke", values); err != nil || !strings.Contains(svg.String(), "<polyline") {
		t.Fatalf("learning curve SVG: %v\n%s", err, svg.String())
	}
}
