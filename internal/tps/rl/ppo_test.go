package rl

import (
	"math"
	"math/rand/v2"
	"testing"
)

// toyTarget is the best action of an entity in the toy task.
func toyTarget(x []float64) float64 { return 0.8*x[0] - 0.3*x[1] }

// toyBatch plays the toy task: episodes of 8 decisions, each over 2–4 entities with two
// features in [-1,1]; an entity's reward is minus the squared distance of its action to
// toyTarget. It returns the trajectories and the mean reward per decision.
func toyBatch(t *roller, rng *rand.Rand, episodes int) ([]trajectory, float64) {
	trajs := make([]trajectory, episodes)
	total, count := 0.0, 0
	for e := range trajs {
		for range 8 {
			n := 2 + rng.IntN(3)
			ents := make([]float64, 2*n)
			glob := make([]float64, 2)
			for i := range ents {
				ents[i] = 2*rng.Float64() - 1
				glob[i%2] += ents[i] / float64(n)
			}
			s := t.act(ents, n, glob)
			for i, a := range s.act {
				d := a - toyTarget(ents[2*i:2*i+2])
				s.reward -= d * d / float64(n)
			}
			total += s.reward
			count++
			trajs[e].samples = append(trajs[e].samples, s)
		}
	}
	return trajs, total / float64(count)
}

// TestPPOLearnsToyTask checks that the optimiser really learns: the mean reward of a
// contextual continuous task rises from about -0.38 (the initial policy) close to the optimum
// (0 minus the exploration noise), and the deterministic action approaches the target.
func TestPPOLearnsToyTask(t *testing.T) {
	const iterations = 25
	tr := newPPO(PPOConfig{Hidden: 16, Minibatch: 64, Epochs: 4, ActorLR: 3e-3, CriticLR: 3e-3}, 2, 2, 7)
	rng := rand.New(rand.NewPCG(11, 12))
	var first, last float64
	for it := range iterations {
		trajs, mean := toyBatch(newRoller(tr.pol, uint64(it)), rng, 32)
		if it == 0 {
			first = mean
		}
		last = mean
		ent := tr.cfg.EntropyStart * (1 - float64(it)/iterations)
		tr.update(trajs, ent)
	}
	tape := newMLPTape(tr.pol.actor)
	x, xs := make([]float64, 2), make([]float64, 2)
	var mse float64
	for range 200 {
		x[0], x[1] = 2*rng.Float64()-1, 2*rng.Float64()-1
		tr.pol.entNorm.apply(x, xs)
		d := tr.pol.actor.forward(xs, tape)[0] - toyTarget(x)
		mse += d * d / 200
	}
	t.Logf("mean reward %.3f → %.3f, σ %.3f, deterministic MSE %.4f", first, last, math.Exp(tr.pol.logStd()), mse)
	if last < -0.12 || last < first+0.2 {
		t.Errorf("mean reward %.3f → %.3f: want a rise to above -0.12", first, last)
	}
	if mse > 0.02 {
		t.Errorf("deterministic action MSE %.4f, want < 0.02", mse)
	}
}
