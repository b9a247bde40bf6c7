package rl

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"aya/internal/tps"
)

// Env is one simulated pool as the trainer drives it, tick by tick (the simulator's gym-like
// environment satisfies it). Episodes must be deterministic given the seed: the same seed
// gives the same arrivals whatever the allocations.
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
	// family and load). Each must be used by one goroutine at a time: Train does so.
	Envs []Env
	// Seeds are the arrival seeds, cycled over iterations (iteration i plays every
	// environment with Seeds[i % len(Seeds)]); default 1, 2, 3, 4.
	Seeds []uint64
	// PerIteration is how many environments each iteration plays, taken in turn from Envs
	// (iteration i starts where i-1 stopped); default all of them.
	PerIteration int
	Iterations   int    // default 150
	Seed         uint64 // seeds the weights and the exploration
	Workers      int    // episodes played in parallel; default 2
	PPO          PPOConfig
	// NewBase makes the allocator the policy corrects; nil: waterfill.
	NewBase func() tps.Allocator
	// Progress, when set, is called after every iteration.
	Progress func(IterStats)
}

// IterStats summarises one training iteration.
type IterStats struct {
	Iteration         int
	MeanEpisodeReward float64 // mean over the iteration's episodes of the summed reward
	// MeanGain is MeanEpisodeReward minus the base allocator's on the same arrivals: the
	// learning signal with the traffic's own randomness taken out.
	MeanGain  float64
	Samples   int     // decisions collected
	Entropy   float64 // of one service's action
	KL        float64 // approximate KL between the old and the updated policy
	ClipFrac  float64 // fraction of samples whose ratio was clipped
	ValueLoss float64
	Elapsed   time.Duration // since the start of training
}

// Train runs PPO on the environments and returns the trained model and the learning curve.
// It stops early, returning what it has, when ctx is cancelled.
//
// The reward PPO sees on each tick is the environment's minus what the base allocator earned
// on the same tick of an episode with the same arrivals (computed once per environment and
// seed). That difference does not depend on the policy's actions, so it leaves the best policy
// unchanged, but it removes the arrivals' noise, which otherwise dwarfs the few percent the
// policy can add over waterfill.
func Train(ctx context.Context, cfg TrainConfig) (*Model, []IterStats, error) {
	if len(cfg.Envs) == 0 {
		return nil, nil, fmt.Errorf("train TPS policy: no environments")
	}
	if cfg.Iterations <= 0 {
		cfg.Iterations = 150
	}
	if len(cfg.Seeds) == 0 {
		cfg.Seeds = []uint64{1, 2, 3, 4}
	}
	if cfg.PerIteration <= 0 || cfg.PerIteration > len(cfg.Envs) {
		cfg.PerIteration = len(cfg.Envs)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.NewBase == nil {
		cfg.NewBase = func() tps.Allocator { return &tps.Waterfill{} }
	}
	t := newPPO(cfg.PPO, serviceFeatures, poolFeatures, cfg.Seed)
	baselines := make([][][]float64, len(cfg.Envs)) // [env][seed index] per-tick base rewards
	for i := range baselines {
		baselines[i] = make([][]float64, len(cfg.Seeds))
	}
	start := time.Now()
	var curve []IterStats
	for it := range cfg.Iterations {
		if ctx.Err() != nil {
			break
		}
		si := it % len(cfg.Seeds)
		k := cfg.PerIteration
		picked := make([]int, k)
		for j := range picked {
			picked[j] = (it*k + j) % len(cfg.Envs)
		}
		trajs := make([]trajectory, k)
		totals, gains, errs := make([]float64, k), make([]float64, k), make([]error, k)
		jobs := make(chan int)
		var wg sync.WaitGroup
		for range cfg.Workers {
			wg.Go(func() {
				for j := range jobs {
					e := picked[j]
					env, seed := cfg.Envs[e], cfg.Seeds[si]
					if baselines[e][si] == nil {
						baselines[e][si], errs[j] = baseRewards(env, seed, cfg.NewBase)
						if errs[j] != nil {
							continue
						}
					}
					r := newRoller(t.pol, cfg.Seed^uint64(it)<<20^uint64(e))
					trajs[j], totals[j], gains[j], errs[j] = r.episode(env, seed, baselines[e][si], cfg.NewBase)
				}
			})
		}
		for j := range picked {
			jobs <- j
		}
		close(jobs)
		wg.Wait()
		is := IterStats{Iteration: it + 1}
		for j, err := range errs {
			if err != nil {
				return nil, curve, err
			}
			is.MeanEpisodeReward += totals[j] / float64(k)
			is.MeanGain += gains[j] / float64(k)
			is.Samples += len(trajs[j].samples)
		}
		// The entropy bonus anneals linearly to its end value over the run.
		frac := float64(it) / float64(max(1, cfg.Iterations-1))
		st := t.update(trajs, t.cfg.EntropyStart+(t.cfg.EntropyEnd-t.cfg.EntropyStart)*frac)
		is.Entropy, is.KL, is.ClipFrac, is.ValueLoss = st.Entropy, st.KL, st.ClipFrac, st.ValueLoss
		is.Elapsed = time.Since(start)
		curve = append(curve, is)
		if cfg.Progress != nil {
			cfg.Progress(is)
		}
	}
	return &Model{pol: t.pol}, curve, nil
}

// baseRewards plays an episode with the base allocator alone and returns its reward per tick.
func baseRewards(env Env, seed uint64, newBase func() tps.Allocator) ([]float64, error) {
	obs, err := env.Reset(seed)
	if err != nil {
		return nil, fmt.Errorf("train TPS policy: reset environment: %w", err)
	}
	base := newBase()
	alloc := make([]float64, len(obs.Services))
	var rewards []float64
	for {
		base.Allocate(obs, alloc)
		tps.Constrain(obs, alloc)
		next, r, done, err := env.Step(alloc)
		if err != nil {
			return nil, fmt.Errorf("train TPS policy: step environment: %w", err)
		}
		rewards = append(rewards, r)
		if done {
			return rewards, nil
		}
		obs = next
	}
}

// episode plays one episode with exploration. Each sample's reward is the environment's
// minus base[tick]; it returns the trajectory, the total environment reward and the total
// gain over the base.
func (r *roller) episode(env Env, seed uint64, base []float64, newBase func() tps.Allocator) (trajectory, float64, float64, error) {
	g := newAgent(r.pol, newBase)
	obs, err := env.Reset(seed)
	if err != nil {
		return trajectory{}, 0, 0, fmt.Errorf("train TPS policy: reset environment: %w", err)
	}
	var tr trajectory
	total, gain := 0.0, 0.0
	alloc := make([]float64, len(obs.Services))
	for tick := 0; ; tick++ {
		g.observe(obs)
		s := r.act(g.raw, g.n, g.pool)
		if !g.apply(obs, s.act, alloc) {
			return tr, total, gain, fmt.Errorf("train TPS policy: the policy diverged (non-finite action); lower the learning rates")
		}
		next, reward, done, err := env.Step(alloc)
		if err != nil {
			return tr, total, gain, fmt.Errorf("train TPS policy: step environment: %w", err)
		}
		if math.IsNaN(reward) || math.IsInf(reward, 0) {
			return tr, total, gain, fmt.Errorf("train TPS policy: the environment returned a non-finite reward")
		}
		if tick >= len(base) {
			return tr, total, gain, fmt.Errorf("train TPS policy: an episode ran longer than the same episode under the base allocator; the environment is not deterministic")
		}
		total += reward
		s.reward = reward - base[tick]
		gain += s.reward
		tr.samples = append(tr.samples, s)
		if done {
			// Episodes end on a time limit, not a terminal state: bootstrap from the critic.
			g.observe(next)
			tr.bootstrap = r.value(g.pool)
			return tr, total, gain, nil
		}
		obs = next
	}
}
