package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"aya/internal/tps"
	"aya/internal/tps/rl"
	"aya/internal/tps/sim"
)

// trainFamilies are the generated traces every training run includes, each at two loads
// (under and over the cap) with fixed seeds distinct from the shipped examples' seeds.
var trainFamilies = []struct {
	family sim.Family
	seed   uint64
	load   float64
}{
	{sim.Steady, 11, 1.15},
	{sim.Diurnal, 11, 1.0}, {sim.Diurnal, 12, 1.25},
	{sim.Bursts, 11, 0.9}, {sim.Bursts, 12, 1.1},
	{sim.FlashCrowd, 11, 0.85}, {sim.FlashCrowd, 12, 1.0},
	{sim.Drift, 11, 1.0}, {sim.Drift, 12, 1.2},
}

// evalSeed draws the arrivals of the closing table: training uses other seeds, so the table
// is measured on arrivals the policy never saw.
const evalSeed = 1

func cmdTPSTrain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("scenarios", "", "directory of scenario files (*.yaml) to train on besides the generated traces")
	out := fs.String("out", "", "model file to write; the learning curve goes beside it as NAME-curve.svg")
	iterations := fs.Int("iterations", 80, "PPO iterations")
	seed := fs.Uint64("seed", 1, "seed of the weights and the exploration")
	episode := fs.Duration("episode", 2*time.Minute, "simulated length of one training episode")
	workers := fs.Int("workers", 2, "episodes simulated in parallel")
	perIter := fs.Int("per-iteration", 8, "episodes per iteration, taken in turn from all the training scenarios")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aya tps train: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "aya tps train: --out is required (e.g. --out model.bin)")
		return 2
	}
	if *episode < 10*time.Second {
		fmt.Fprintf(stderr, "aya tps train: --episode %v is too short; use at least 10s\n", *episode)
		return 2
	}
	scenarios, err := trainingScenarios(*dir, *episode)
	if err != nil {
		fmt.Fprintf(stderr, "aya tps train: %v\n", err)
		return 1
	}
	var envs []rl.Env
	for _, s := range scenarios.episodes {
		env, err := sim.NewEnv(s)
		if err != nil {
			fmt.Fprintf(stderr, "aya tps train: %v\n", err)
			return 1
		}
		// The bar is weighted goodput with the hard guarantees: keep their penalties, and let
		// queueing cost only enough to break ties between equal goodputs.
		env.Reward.QueueLatency, env.Reward.QueueGrowth = 0.05, 0
		defer env.Close()
		envs = append(envs, env)
	}
	fmt.Fprintf(stderr, "training on %d episodes of %v per iteration (%d generated, %d from %s), %d iterations\n",
		len(envs), *episode, len(scenarios.episodes)-scenarios.fromDir, scenarios.fromDir, dirLabel(*dir), *iterations)

	ctx, stop := signalContext()
	defer stop()
	model, curve, err := rl.Train(ctx, rl.TrainConfig{
		Envs: envs, Iterations: *iterations, Seed: *seed, Workers: *workers,
		Seeds: []uint64{101, 102, 103, 104}, PerIteration: *perIter,
		Progress: func(is rl.IterStats) { trainProgress(stderr, is, *iterations) },
	})
	if err != nil {
		fmt.Fprintf(stderr, "\naya tps train: %v\n", err)
		return 1
	}
	if len(curve) == 0 {
		fmt.Fprintln(stderr, "aya tps train: interrupted before the first iteration; nothing written")
		return 1
	}
	if err := model.Save(*out); err != nil {
		fmt.Fprintf(stderr, "aya tps train: %v\n", err)
		return 1
	}
	curvePath := strings.TrimSuffix(*out, filepath.Ext(*out)) + "-curve.svg"
	if err := writeCurve(curvePath, curve); err != nil {
		fmt.Fprintf(stderr, "aya tps train: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "model: %s\nlearning curve: %s\n", *out, curvePath)
	writeCurveSummary(stdout, curve)
	return trainTable(ctx, stdout, stderr, scenarios.full, model)
}

func dirLabel(dir string) string {
	if dir == "" {
		return "no --scenarios"
	}
	return dir
}

// trainSet is what a run trains on (episodes) and is judged on (full).
type trainSet struct {
	episodes []*sim.Scenario // generated traces, and windows of the directory's scenarios
	fromDir  int             // how many episodes come from the directory
	full     []*sim.Scenario // the generated traces and the directory's scenarios, whole
}

// trainingScenarios generates the trace families and loads dir's scenarios. A scenario longer
// than an episode contributes two windows (its start and its middle), so every iteration
// costs about the same whatever the directory holds.
func trainingScenarios(dir string, episode time.Duration) (trainSet, error) {
	var set trainSet
	for _, f := range trainFamilies {
		s, err := sim.GenerateScenario(sim.GenSpec{
			Name: fmt.Sprintf("%s-%d-x%g", f.family, f.seed, f.load), Family: f.family, Seed: f.seed,
			Duration: episode, Load: f.load,
		})
		if err != nil {
			return set, err
		}
		set.episodes = append(set.episodes, s)
		set.full = append(set.full, s)
	}
	if dir == "" {
		return set, nil
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return set, err
	}
	if len(paths) == 0 {
		return set, fmt.Errorf("--scenarios %s: no *.yaml scenario files there", dir)
	}
	for _, p := range paths {
		s, err := sim.Load(p)
		if err != nil {
			return set, err
		}
		set.full = append(set.full, s)
		starts := []time.Duration{0}
		if s.Duration >= 2*episode {
			starts = append(starts, (s.Duration / 2).Truncate(s.Tick))
		}
		for _, from := range starts {
			w, err := window(s, from, min(episode, s.Duration))
			if err != nil {
				return set, fmt.Errorf("%s: %w", p, err)
			}
			set.episodes = append(set.episodes, w)
			set.fromDir++
		}
	}
	return set, nil
}

// window is the part of s from `from` lasting length, as a scenario of its own.
func window(s *sim.Scenario, from, length time.Duration) (*sim.Scenario, error) {
	names := s.Demand.Services()
	rows := make([]sim.DemandRow, 0, len(names))
	for i, name := range names {
		rows = append(rows, sim.DemandRow{Service: name, RPS: s.Demand.Rate(i, from)})
	}
	for _, r := range s.Demand.Rows() {
		if r.T > from && r.T < from+length {
			r.T -= from
			rows = append(rows, r)
		}
	}
	d, err := sim.NewDemand(names, rows)
	if err != nil {
		return nil, err
	}
	w := *s
	w.Name = fmt.Sprintf("%s@%v", s.Name, from)
	w.Duration, w.Demand = length, d
	return &w, w.Validate()
}

// trainProgress redraws one status line per iteration and keeps every tenth.
func trainProgress(w io.Writer, is rl.IterStats, total int) {
	fmt.Fprintf(w, "\riteration %3d/%d  episode reward %8.2f  gain over waterfill %+7.3f  KL %.4f  clip %.2f  %5.0fs",
		is.Iteration, total, is.MeanEpisodeReward, is.MeanGain, is.KL, is.ClipFrac, is.Elapsed.Seconds())
	if is.Iteration%10 == 0 || is.Iteration == total {
		fmt.Fprintln(w)
	}
}

func writeCurve(path string, curve []rl.IterStats) error {
	values := make([]float64, len(curve))
	for i, c := range curve {
		values[i] = c.MeanGain
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("learning curve: %w", err)
	}
	err = rl.WriteCurveSVG(f, "PPO: mean episode reward minus waterfill's on the same arrivals", values)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("learning curve %s: %w", path, err)
	}
	return nil
}

// writeCurveSummary prints the mean gain of the first and last tenth of the run.
func writeCurveSummary(w io.Writer, curve []rl.IterStats) {
	k := max(1, len(curve)/10)
	mean := func(cs []rl.IterStats) float64 {
		s := 0.0
		for _, c := range cs {
			s += c.MeanGain
		}
		return s / float64(len(cs))
	}
	last := curve[len(curve)-1]
	fmt.Fprintf(w, "mean episode reward gain over waterfill: first %d iterations %+.3f, last %d %+.3f (%d iterations, %.0fs)\n\n",
		k, mean(curve[:k]), k, mean(curve[len(curve)-k:]), len(curve), last.Elapsed.Seconds())
}

// trainTable runs waterfill, aimd and the new model on every training scenario, whole, with
// arrivals training never used, and prints their weighted goodput and hard guarantees.
func trainTable(ctx context.Context, stdout, stderr io.Writer, scenarios []*sim.Scenario, model *rl.Model) int {
	quiet := slog.New(slog.DiscardHandler)
	build := sim.Allocators(map[string]func() (tps.Allocator, error){
		"learned": func() (tps.Allocator, error) { return rl.New(rl.Options{Model: model, Logger: quiet}) },
	})
	names := []string{"waterfill", "aimd", "learned"}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario (arrival seed %d)\tweighted goodput waterfill\taimd\tlearned\tlearned vs waterfill\tupstream 429s w/a/l\tCRITICAL rejected w/a/l\n", evalSeed)
	for i, s := range scenarios {
		fmt.Fprintf(stderr, "\revaluating %d/%d %-40s", i+1, len(scenarios), s.Name)
		res, err := sim.Evaluate(ctx, s, names, build, sim.Options{Seed: evalSeed}, nil)
		if err != nil {
			fmt.Fprintf(stderr, "\naya tps train: %v\n", err)
			return 1
		}
		wf, ai, le := res[0].Metrics, res[1].Metrics, res[2].Metrics
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%.0f\t%+.3f%%\t%d/%d/%d\t%d/%d/%d\n", s.Name,
			wf.WeightedGoodput, ai.WeightedGoodput, le.WeightedGoodput, 100*(le.WeightedGoodput/wf.WeightedGoodput-1),
			wf.Upstream429, ai.Upstream429, le.Upstream429,
			wf.Rejected[tps.Critical], ai.Rejected[tps.Critical], le.Rejected[tps.Critical])
	}
	fmt.Fprintln(stderr)
	tw.Flush()
	return 0
}
