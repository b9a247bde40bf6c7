package rl

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"aya/internal/tps"
)

// Env is one simulated pool as the trainer drives it, tick by tick (the simulator's gym-like
// environment satisfies it through a small adapter in the caller).
type Env interface {
	// Reset starts a new episode with arrivals drawn from seed and returns the first
	// observation.
	Reset(seed uint64) (*tps.Observation, error)
	// Step enforces the allocation (requests per second per service) for the next tick and
	// returns the observation after it, the tick's reward, and whether the episode is over.
	Step(alloc []float64) (obs *tps.Observation, reward float64, done bool, err error)
}

// TrainConfig sizes a training run.
type TrainConfig struct {
	// Envs are the episodes of every iteration, one per environment (e.g. one per trace
	// family and seed); each iteration replays them all with fresh arrival seeds, so the mean
	// episode reward is comparable across iterations.
	Envs       []Env
	Iterations int    // default 150
	Seed       uint64 // seeds the weights, the exploration and the arrivals
	PPO        PPOConfig
	// RewardScale divides the environment's rewards before PPO sees them (the curve shows
	// them unscaled); default 1.
	RewardScale float64
	// NewBase makes the allocator the policy corrects; nil: waterfill.
	NewBase func() tps.Allocator
	// Progress, when set, is called after every iteration.
	Progress func(IterStats)
}

// IterStats summarises one training iteration.
type IterStats struct {
	Iteration         int
	MeanEpisodeReward float64 // mean over the iteration's episodes of the summed reward, unscaled
	Samples           int     // decisions collected
	Entropy           float64 // of one service's action
	KL                float64 // approximate KL between the old and the updated policy
	ClipFrac          float64 // fraction of samples whose ratio was clipped
	ValueLoss         float64
	Elapsed           time.Duration // since the start of training
}

// Train runs PPO on the environments and returns the trained model and the learning curve.
// It stops early, returning what it has, when ctx is cancelled.
func Train(ctx context.Context, cfg TrainConfig) (*Model, []IterStats, error) {
	if len(cfg.Envs) == 0 {
		return nil, nil, fmt.Errorf("train TPS policy: no environments")
	}
	if cfg.Iterations <= 0 {
		cfg.Iterations = 150
	}
	if cfg.RewardScale <= 0 {
		cfg.RewardScale = 1
	}
	if cfg.NewBase == nil {
		cfg.NewBase = func() tps.Allocator { return &tps.Waterfill{} }
	}
	t := newPPO(cfg.PPO, serviceFeatures, poolFeatures, cfg.Seed)
	seeds := rand.New(rand.NewPCG(cfg.Seed, 0xa7))
	start := time.Now()
	var curve []IterStats
	for it := range cfg.Iterations {
		if err := ctx.Err(); err != nil {
			break
		}
		trajs := make([]trajectory, 0, len(cfg.Envs))
		total, samples := 0.0, 0
		for _, env := range cfg.Envs {
			tr, sum, err := t.episode(env, seeds.Uint64(), cfg)
			if err != nil {
				return nil, curve, err
			}
			trajs = append(trajs, tr)
			total += sum
			samples += len(tr.samples)
		}
		// The entropy bonus anneals linearly to its end value over the run.
		frac := float64(it) / float64(max(1, cfg.Iterations-1))
		ent := t.cfg.EntropyStart + (t.cfg.EntropyEnd-t.cfg.EntropyStart)*frac
		st := t.update(trajs, ent)
		is := IterStats{
			Iteration: it + 1, MeanEpisodeReward: total / float64(len(cfg.Envs)), Samples: samples,
			Entropy: st.Entropy, KL: st.KL, ClipFrac: st.ClipFrac, ValueLoss: st.ValueLoss,
			Elapsed: time.Since(start),
		}
		curve = append(curve, is)
		if cfg.Progress != nil {
			cfg.Progress(is)
		}
	}
	return &Model{pol: t.pol}, curve, nil
}

// episode plays one episode with exploration and returns it with its unscaled total reward.
func (t *ppo) episode(env Env, seed uint64, cfg TrainConfig) (trajectory, float64, error) {
	g := newAgent(t.pol, cfg.NewBase)
	obs, err := env.Reset(seed)
	if err != nil {
		return trajectory{}, 0, fmt.Errorf("train TPS policy: reset environment: %w", err)
	}
	var tr trajectory
	total := 0.0
	alloc := make([]float64, len(obs.Services))
	for {
		g.observe(obs)
		s := t.act(g.raw, g.n, g.pool)
		if !g.apply(obs, s.act, alloc) {
			return tr, total, fmt.Errorf("train TPS policy: the policy diverged (non-finite action); lower the learning rates")
		}
		next, reward, done, err := env.Step(alloc)
		if err != nil {
			return tr, total, fmt.Errorf("train TPS policy: step environment: %w", err)
		}
		if math.IsNaN(reward) || math.IsInf(reward, 0) {
			return tr, total, fmt.Errorf("train TPS policy: the environment returned a non-finite reward")
		}
		total += reward
		s.reward = reward / cfg.RewardScale
		tr.samples = append(tr.samples, s)
		if done {
			// Episodes end on a time limit, not a terminal state: bootstrap from the critic.
			g.observe(next)
			tr.bootstrap = t.value(g.pool)
			return tr, total, nil
		}
		obs = next
	}
}
