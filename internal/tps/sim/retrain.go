package sim

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"aya/internal/tps"
	"aya/internal/tps/rl"
)

// RetrainConfig sizes a retraining on a live pool's recent traffic. It is small on purpose:
// it runs beside the data plane, on one core at most.
type RetrainConfig struct {
	Iterations int       // PPO iterations; default 20
	Seed       uint64    // seeds the weights, the exploration and the replayed arrivals
	Queue      QueueSpec // the pool's queue; zero fields take tps's defaults
	Margin     float64   // the pool's safety margin; 0: tps.DefaultMargin
	// Duty is the fraction of wall time spent training: after each iteration the trainer
	// sleeps so that it uses at most this share of one core; default 0.5.
	Duty float64
}

// RetrainOn returns the Train function of rl.Retrain that replays the recent traffic in the
// simulator: the trace becomes a scenario (each tick's measured arrival rate, piecewise
// constant), episodes draw fresh Poisson arrivals from it, and PPO trains a new model on them
// with one worker, pausing between iterations to keep to cfg.Duty of a core. The result must
// then earn at least the weighted goodput of the model in charge (recent.Model) on the same
// replayed arrivals, without more upstream 429s or CRITICAL rejections; otherwise Train
// returns an error and the pool keeps its model.
//
// The trace's capacity is the pool's effective capacity of the last tick (after the margin,
// AIMD and the upstream's headers), so the replay assumes the upstream's cap stays where the
// pool last found it.
func RetrainOn(cfg RetrainConfig) func(ctx context.Context, recent rl.Trace) (*rl.Model, error) {
	if cfg.Iterations <= 0 {
		cfg.Iterations = 20
	}
	if cfg.Queue.Max <= 0 {
		cfg.Queue.Max = tps.DefaultQueueMax
	}
	if cfg.Queue.Timeout <= 0 {
		cfg.Queue.Timeout = tps.DefaultQueueTimeout
	}
	if cfg.Duty <= 0 || cfg.Duty > 1 {
		cfg.Duty = 0.5
	}
	return func(ctx context.Context, recent rl.Trace) (*rl.Model, error) {
		s, err := traceScenario(recent, cfg)
		if err != nil {
			return nil, err
		}
		env, err := NewEnv(s)
		if err != nil {
			return nil, fmt.Errorf("retrain TPS policy: %w", err)
		}
		defer env.Close()
		var last time.Duration
		m, curve, err := rl.Train(ctx, rl.TrainConfig{
			Envs: []rl.Env{env}, Iterations: cfg.Iterations, Seed: cfg.Seed, Workers: 1,
			Seeds: []uint64{cfg.Seed + 1, cfg.Seed + 2, cfg.Seed + 3, cfg.Seed + 4},
			Progress: func(is rl.IterStats) {
				ran := is.Elapsed - last
				rest := time.Duration(float64(ran) * (1 - cfg.Duty) / cfg.Duty)
				pause(ctx, rest)
				last = is.Elapsed + rest
			},
		})
		if err != nil {
			return nil, fmt.Errorf("retrain TPS policy: %w", err)
		}
		if len(curve) < cfg.Iterations {
			return nil, fmt.Errorf("retrain TPS policy: stopped after %d of %d iterations: %w", len(curve), cfg.Iterations, context.Cause(ctx))
		}
		if recent.Model != nil {
			if err := noWorse(ctx, s, m, recent.Model, cfg.Seed+100); err != nil {
				return nil, err
			}
		}
		return m, nil
	}
}

// pause sleeps for d or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// noWorse replays the scenario with the candidate and with the current model on the same
// arrivals, and refuses the candidate if it earns less weighted goodput, or lets through more
// upstream 429s or CRITICAL rejections.
func noWorse(ctx context.Context, s *Scenario, candidate, current *rl.Model, seed uint64) error {
	var got [2]Metrics
	for i, m := range []*rl.Model{candidate, current} {
		a, err := rl.New(rl.Options{Model: m, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			return fmt.Errorf("retrain TPS policy: %w", err)
		}
		res, err := Run(ctx, s, a, Options{Seed: seed})
		if err != nil {
			return fmt.Errorf("retrain TPS policy: replay: %w", err)
		}
		got[i] = res.Metrics
	}
	c, cur := got[0], got[1]
	if c.WeightedGoodput < cur.WeightedGoodput || c.Upstream429 > cur.Upstream429 || c.Rejected[tps.Critical] > cur.Rejected[tps.Critical] {
		return fmt.Errorf("retrain TPS policy: the retrained model does no better on the recent traffic (weighted goodput %.0f vs %.0f, upstream 429s %d vs %d, CRITICAL rejections %d vs %d); keeping the current one",
			c.WeightedGoodput, cur.WeightedGoodput, c.Upstream429, cur.Upstream429, c.Rejected[tps.Critical], cur.Rejected[tps.Critical])
	}
	return nil
}

// traceScenario turns a trace into a scenario that replays it.
func traceScenario(t rl.Trace, cfg RetrainConfig) (*Scenario, error) {
	if len(t.Demand) == 0 || len(t.Services) == 0 || t.Tick <= 0 {
		return nil, fmt.Errorf("retrain TPS policy: the trace is empty (%d ticks of %d services)", len(t.Demand), len(t.Services))
	}
	names := make([]string, len(t.Services))
	services := make([]tps.Service, len(t.Services))
	for i, s := range t.Services {
		names[i] = s.Name
		if names[i] == "" {
			names[i] = fmt.Sprintf("s%d", i+1)
		}
		s.Name = names[i]
		services[i] = s
	}
	rows := make([]DemandRow, 0, len(t.Demand)*len(names))
	for k, tick := range t.Demand {
		at := time.Duration(k) * t.Tick
		for i, rps := range tick {
			if k > 0 && t.Demand[k-1][i] == rps {
				continue // piecewise constant: only changes need a row
			}
			rows = append(rows, DemandRow{T: at, Service: names[i], RPS: max(rps, 0)})
		}
	}
	d, err := NewDemand(names, rows)
	if err != nil {
		return nil, fmt.Errorf("retrain TPS policy: %w", err)
	}
	margin := cfg.Margin
	if margin <= 0 {
		margin = tps.DefaultMargin
	}
	return &Scenario{
		Name: "recent-traffic",
		// The simulated pool takes its margin off again, which leaves the trace's capacity.
		Capacity: t.Capacity / (1 - margin),
		Margin:   margin,
		Tick:     t.Tick,
		Duration: time.Duration(len(t.Demand)) * t.Tick,
		Services: services,
		Queue:    cfg.Queue,
		Demand:   d,
	}, nil
}
