package sim

import (
	"context"
	"fmt"
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
}

// RetrainOn returns the Train function of rl.Retrain that replays the recent traffic in the
// simulator: the trace becomes a scenario (each tick's measured arrival rate, piecewise
// constant), episodes draw fresh Poisson arrivals from it, and PPO trains a new model on them
// with one worker.
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
		m, curve, err := rl.Train(ctx, rl.TrainConfig{
			Envs: []rl.Env{env}, Iterations: cfg.Iterations, Seed: cfg.Seed, Workers: 1,
			Seeds: []uint64{cfg.Seed + 1, cfg.Seed + 2, cfg.Seed + 3, cfg.Seed + 4},
		})
		if err != nil {
			return nil, fmt.Errorf("retrain TPS policy: %w", err)
		}
		if len(curve) < cfg.Iterations {
			return nil, fmt.Errorf("retrain TPS policy: stopped after %d of %d iterations: %w", len(curve), cfg.Iterations, context.Cause(ctx))
		}
		return m, nil
	}
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
