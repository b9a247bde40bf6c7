package sim

import (
	"context"
	"math"
	"testing"
	"time"

	"aya/internal/tps"
)

// TestEnvMatchesRun: an agent that plays waterfill's allocation through the Env gets exactly
// the run of the waterfill allocator, so the Env adds no lag and no other behaviour.
func TestEnvMatchesRun(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Bursts, Seed: 5, Duration: 20 * time.Second, Load: 1.3})
	if err != nil {
		t.Fatal(err)
	}
	want, err := Run(context.Background(), s, &tps.Waterfill{}, Options{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	env, err := NewEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // a second episode after Reset must be as good as the first
		wf := &tps.Waterfill{}
		obs, err := env.Reset(9)
		if err != nil {
			t.Fatal(err)
		}
		alloc := make([]float64, len(s.Services))
		steps, total := 0, 0.0
		for {
			clear(alloc)
			wf.Allocate(obs, alloc)
			next, reward, done, err := env.Step(alloc)
			if err != nil {
				t.Fatal(err)
			}
			if math.IsNaN(reward) || math.IsInf(reward, 0) {
				t.Fatalf("step %d: reward %v", steps, reward)
			}
			total += reward
			steps++
			if done {
				break
			}
			obs = next
		}
		if wantSteps := int(s.Duration / s.Tick); steps != wantSteps {
			t.Errorf("%d steps, want %d (one per tick)", steps, wantSteps)
		}
		if got := env.Metrics(); got != want.Metrics {
			t.Errorf("env metrics %+v\nrun metrics %+v", got, want.Metrics)
		}
		if total <= 0 {
			t.Errorf("waterfill earned a total reward of %v; want positive", total)
		}
		if _, _, _, err := env.Step(alloc); err == nil {
			t.Error("Step after the end of the episode did not fail")
		}
	}
}

func TestEnvRewardPenalises(t *testing.T) {
	s := scenarioOf(t, 200, 30*time.Second, []tps.Service{
		{Name: "pay", Priority: tps.Critical, Min: 10}, {Name: "bulk", Priority: tps.Low, Min: 10},
	}, []float64{100, 1000})
	s.Tick = 500 * time.Millisecond
	env, err := NewEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	play := func(alloc func(obs *tps.Observation, out []float64)) (float64, Metrics) {
		obs, err := env.Reset(1)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float64, len(s.Services))
		total := 0.0
		for {
			clear(out)
			alloc(obs, out)
			next, r, done, err := env.Step(out)
			if err != nil {
				t.Fatal(err)
			}
			total += r
			if done {
				return total, env.Metrics()
			}
			obs = next
		}
	}
	wf := &tps.Waterfill{}
	good, gm := play(wf.Allocate)
	// Giving all the capacity to "bulk", which uses every token of it, leaves CRITICAL its
	// min (nothing idle to borrow, nothing unallocated) and must score far worse.
	bad, bm := play(func(obs *tps.Observation, out []float64) { out[1] = obs.Capacity })
	if bm.Rejected[tps.Critical] == 0 || gm.Rejected[tps.Critical] != 0 {
		t.Fatalf("critical rejections: starving %d, waterfill %d", bm.Rejected[tps.Critical], gm.Rejected[tps.Critical])
	}
	if bad >= good {
		t.Errorf("starving CRITICAL earned %v, waterfill %v", bad, good)
	}
}

func TestEnvAbandonAndErrors(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Steady, Duration: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	env, _ := NewEnv(s)
	if _, _, _, err := env.Step(make([]float64, len(s.Services))); err == nil {
		t.Error("Step before Reset did not fail")
	}
	if _, err := env.Reset(1); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := env.Step([]float64{1}); err == nil {
		t.Error("an action of the wrong length did not fail")
	}
	for range 3 {
		if _, _, _, err := env.Step(make([]float64, len(s.Services))); err != nil {
			t.Fatal(err)
		}
	}
	env.Close() // mid-episode
	env.Close()
	if _, err := env.Reset(2); err != nil {
		t.Fatal(err)
	}
	env.Close()
}

func BenchmarkEnvEpisode(b *testing.B) {
	b.ReportAllocs()
	s, err := GenerateScenario(GenSpec{Family: Diurnal, Duration: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	env, _ := NewEnv(s)
	wf := &tps.Waterfill{}
	out := make([]float64, len(s.Services))
	for i := 0; b.Loop(); i++ {
		obs, _ := env.Reset(uint64(i))
		for {
			clear(out)
			wf.Allocate(obs, out)
			next, _, done, _ := env.Step(out)
			if done {
				break
			}
			obs = next
		}
	}
}

// TestEnvPartialLastTick: a duration that is not a whole number of ticks ends with a step
// that covers the remainder.
func TestEnvPartialLastTick(t *testing.T) {
	s := scenarioOf(t, 100, 10250*time.Millisecond, []tps.Service{{Name: "a", Priority: tps.High}}, []float64{50})
	s.Tick = 500 * time.Millisecond
	env, err := NewEnv(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Reset(1); err != nil {
		t.Fatal(err)
	}
	steps := 0
	for {
		_, _, done, err := env.Step([]float64{100})
		if err != nil {
			t.Fatal(err)
		}
		steps++
		if done {
			break
		}
	}
	if steps != 21 {
		t.Errorf("%d steps, want 20 whole ticks and the remainder", steps)
	}
	if m := env.Metrics(); m.Utilization < 0.99 || m.Rejected != (ByPriority[int64]{}) {
		t.Errorf("metrics %+v; want everything served", m)
	}
}

// TestEnvsInParallel: environments over one scenario run on separate goroutines (parallel
// rollouts) without sharing mutable state.
func TestEnvsInParallel(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Diurnal, Duration: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan Metrics, 2)
	for range 2 {
		go func() {
			env, err := NewEnv(s)
			if err != nil {
				t.Error(err)
				done <- Metrics{}
				return
			}
			obs, _ := env.Reset(3)
			wf := &tps.Waterfill{}
			out := make([]float64, len(s.Services))
			for {
				clear(out)
				wf.Allocate(obs, out)
				next, _, end, err := env.Step(out)
				if err != nil || end {
					break
				}
				obs = next
			}
			done <- env.Metrics()
		}()
	}
	if a, b := <-done, <-done; a != b || a.WeightedGoodput == 0 {
		t.Errorf("parallel episodes with one seed differ: %+v vs %+v", a, b)
	}
}
