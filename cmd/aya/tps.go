package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"aya/internal/tps"
	"aya/internal/tps/rl"
	"aya/internal/tps/sim"
)

const tpsUsage = `aya tps — the adaptive TPS balancer, offline.

Usage:
  aya tps simulate --scenario s.yaml --allocator NAME [--seed N] [--json] [--model FILE]
      run one allocator on a scenario: its metrics and the allocation over time
  aya tps evaluate --scenario s.yaml [--allocators a,b,...] [--seed N] [--json] [--model FILE]
      compare allocators on one scenario (default: static, proportional, waterfill, aimd,
      learned) on the same arrivals; --json prints one object keyed by allocator
  aya tps generate --family F --out s.yaml [--seed N] [--duration D] [--load X]
      write a scenario with a generated demand trace (steady, diurnal, bursts, flash-crowd,
      drift) and its CSV beside it
  aya tps train --scenarios DIR --out model.bin
      train the learned policy (PPO) on scenarios
`

// cmdTPS dispatches `aya tps <subcommand>`.
func cmdTPS(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, tpsUsage)
		return 2
	}
	switch args[0] {
	case "simulate":
		return cmdTPSSimulate(args[1:], stdout, stderr)
	case "evaluate":
		return cmdTPSEvaluate(args[1:], stdout, stderr)
	case "generate":
		return cmdTPSGenerate(args[1:], stdout, stderr)
	case "train":
		return cmdTPSTrain(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tpsUsage)
		return 0
	}
	fmt.Fprintf(stderr, "aya tps: unknown command %q\n\n%s", args[0], tpsUsage)
	return 2
}

// tpsFlags are the flags simulate and evaluate share.
type tpsFlags struct {
	scenario string
	seed     uint64
	json     bool
	model    string
}

func (f *tpsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.scenario, "scenario", "", "scenario file (YAML)")
	fs.Uint64Var(&f.seed, "seed", 1, "seed of the Poisson arrivals")
	fs.BoolVar(&f.json, "json", false, "print JSON instead of a table")
	fs.StringVar(&f.model, "model", "", "model file for the learned allocator (default: the embedded one)")
}

// parseTPSFlags parses args, requiring --scenario and no positional arguments; it prints
// the problem and returns false on a usage error.
func parseTPSFlags(fs *flag.FlagSet, f *tpsFlags, args []string, stderr io.Writer) bool {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "aya tps %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	if f.scenario == "" {
		fmt.Fprintf(stderr, "aya tps %s: --scenario is required\n", fs.Name())
		return false
	}
	return true
}

// loadScenario loads a scenario, printing every problem as file:line: reason.
func loadScenario(path string, stderr io.Writer) (*sim.Scenario, bool) {
	s, err := sim.Load(path)
	if err != nil {
		var ps sim.Problems
		if errors.As(err, &ps) {
			for _, p := range ps {
				fmt.Fprintln(stderr, p.Error())
			}
		} else {
			fmt.Fprintln(stderr, err)
		}
		return nil, false
	}
	return s, true
}

// learnedBuilder makes the learned allocator's constructor from --model (or the embedded
// model). Its fallbacks are counted in its status, not logged: a simulation would print
// thousands of lines.
func learnedBuilder(modelPath string) (func() (tps.Allocator, error), error) {
	var (
		m   *rl.Model
		err error
	)
	if modelPath != "" {
		m, err = rl.LoadModelFile(modelPath)
	} else {
		m, err = rl.DefaultModel()
	}
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	return func() (tps.Allocator, error) {
		return rl.New(rl.Options{Model: m, Logger: quiet})
	}, nil
}

// builders returns the allocator registry and, when the learned allocator cannot be built,
// why (the classic allocators always can).
func builders(modelPath string) (sim.Builder, error) {
	learned, err := learnedBuilder(modelPath)
	if err != nil {
		return sim.Allocators(nil), err
	}
	return sim.Allocators(map[string]func() (tps.Allocator, error){"learned": learned}), nil
}

// signalContext ends on SIGINT/SIGTERM so a long run stops cleanly.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

func cmdTPSSimulate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	var f tpsFlags
	f.register(fs)
	name := fs.String("allocator", "", "allocator: static, proportional, waterfill, aimd or learned")
	if !parseTPSFlags(fs, &f, args, stderr) {
		return 2
	}
	if *name == "" {
		fmt.Fprintln(stderr, "aya tps simulate: --allocator is required (static, proportional, waterfill, aimd or learned)")
		return 2
	}
	s, ok := loadScenario(f.scenario, stderr)
	if !ok {
		return 1
	}
	build, learnedErr := builders(f.model)
	if *name == "learned" && learnedErr != nil {
		fmt.Fprintf(stderr, "aya tps simulate: allocator learned is unavailable: %v\n", learnedErr)
		return 1
	}
	a, err := build(*name)
	if err != nil {
		fmt.Fprintf(stderr, "aya tps simulate: %v\n", err)
		return 2
	}
	ctx, stop := signalContext()
	defer stop()
	opts := sim.Options{Seed: f.seed, RecordTicks: true}
	var bar *progressBar
	if !f.json {
		bar = newProgressBar(stderr)
		opts.Progress = func(done float64) { bar.set(done, *name) }
	}
	res, err := sim.Run(ctx, s, a, opts)
	bar.finish()
	if err != nil {
		fmt.Fprintf(stderr, "aya tps simulate: %v\n", err)
		return 1
	}
	res.Allocator = *name
	if f.json {
		return writeJSON(stdout, stderr, simulateJSON(s, res))
	}
	writeScenarioHeader(stdout, s, f.seed)
	writeMetricsTable(stdout, []*sim.Result{res}, nil)
	fmt.Fprintln(stdout)
	writeAllocationSummary(stdout, s, res.Ticks)
	return 0
}

func cmdTPSEvaluate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("evaluate", flag.ContinueOnError)
	var f tpsFlags
	f.register(fs)
	list := fs.String("allocators", "", "comma-separated allocators (default: "+strings.Join(sim.AllocatorNames(), ",")+")")
	if !parseTPSFlags(fs, &f, args, stderr) {
		return 2
	}
	names := sim.AllocatorNames()
	explicit := *list != ""
	if explicit {
		names = nil
		for n := range strings.SplitSeq(*list, ",") {
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
		if len(names) == 0 {
			fmt.Fprintln(stderr, "aya tps evaluate: --allocators is empty")
			return 2
		}
	}
	s, ok := loadScenario(f.scenario, stderr)
	if !ok {
		return 1
	}
	build, learnedErr := builders(f.model)
	unavailable := map[string]string{}
	if learnedErr != nil && slices.Contains(names, "learned") {
		if explicit && f.json {
			fmt.Fprintf(stderr, "aya tps evaluate: allocator learned is unavailable: %v\n", learnedErr)
			return 1
		}
		if f.json {
			fmt.Fprintf(stderr, "aya tps evaluate: leaving out learned, unavailable: %v\n", learnedErr)
		}
		unavailable["learned"] = learnedErr.Error()
		names = slices.DeleteFunc(names, func(n string) bool { return n == "learned" })
	}
	for _, n := range names {
		if _, err := build(n); err != nil {
			fmt.Fprintf(stderr, "aya tps evaluate: %v\n", err)
			return 2
		}
	}
	ctx, stop := signalContext()
	defer stop()
	var bar *progressBar
	var progress func(int, float64)
	if !f.json {
		bar = newProgressBar(stderr)
		progress = func(i int, done float64) {
			bar.set((float64(i)+done)/float64(len(names)), fmt.Sprintf("%s (%d/%d)", names[i], i+1, len(names)))
		}
	}
	results, err := sim.Evaluate(ctx, s, names, build, sim.Options{Seed: f.seed}, progress)
	bar.finish()
	if err != nil {
		fmt.Fprintf(stderr, "aya tps evaluate: %v\n", err)
		return 1
	}
	if f.json {
		out := make(map[string]sim.Metrics, len(results))
		for _, r := range results {
			out[r.Allocator] = r.Metrics
		}
		return writeJSON(stdout, stderr, out)
	}
	writeScenarioHeader(stdout, s, f.seed)
	writeMetricsTable(stdout, results, unavailable)
	return 0
}

func cmdTPSGenerate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("generate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	family := fs.String("family", "", "trace family: steady, diurnal, bursts, flash-crowd or drift")
	out := fs.String("out", "", "scenario file to write; its CSV goes beside it")
	seed := fs.Uint64("seed", 1, "seed of the trace")
	duration := fs.Duration("duration", 10*time.Minute, "simulated duration")
	load := fs.Float64("load", 1, "multiplies every service's base rate (1: 1700 rps against a 1500 cap)")
	capacity := fs.Float64("capacity", 1500, "the partner's cap, requests per second")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *family == "" || *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "aya tps generate: --family and --out are required, and nothing else")
		return 2
	}
	name := strings.TrimSuffix(filepath.Base(*out), filepath.Ext(*out))
	s, err := sim.GenerateScenario(sim.GenSpec{
		Name: name, Family: sim.Family(*family), Seed: *seed, Duration: *duration, Load: *load, Capacity: *capacity,
	})
	if err == nil {
		err = s.WriteFiles(*out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "aya tps generate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "wrote %s (%s, seed %d, %v)\n", *out, *family, *seed, *duration)
	return 0
}

func writeJSON(stdout, stderr io.Writer, v any) int {
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "aya tps: %v\n", err)
		return 1
	}
	return 0
}

// simulateTick is one tick of `simulate --json`: rates per second by service name.
type simulateTick struct {
	T        float64            `json:"t"`
	Capacity float64            `json:"capacity"`
	Shared   float64            `json:"shared"`
	Alloc    map[string]float64 `json:"alloc"`
	Demand   map[string]float64 `json:"demand"`
	Served   map[string]float64 `json:"served"`
}

func simulateJSON(s *sim.Scenario, res *sim.Result) any {
	ticks := make([]simulateTick, len(res.Ticks))
	prev := time.Duration(0)
	for k, tr := range res.Ticks {
		secs := (tr.At - prev).Seconds()
		prev = tr.At
		st := simulateTick{T: tr.At.Seconds(), Capacity: tr.Capacity, Shared: tr.Shared, Alloc: map[string]float64{}, Demand: map[string]float64{}, Served: map[string]float64{}}
		for i, svc := range s.Services {
			st.Alloc[svc.Name] = tr.Alloc[i]
			st.Demand[svc.Name] = float64(tr.Arrived[i]) / secs
			st.Served[svc.Name] = float64(tr.Served[i]) / secs
		}
		ticks[k] = st
	}
	return struct {
		Scenario  string         `json:"scenario"`
		Allocator string         `json:"allocator"`
		Seed      uint64         `json:"seed"`
		Metrics   sim.Metrics    `json:"metrics"`
		Ticks     []simulateTick `json:"ticks"`
	}{s.Name, res.Allocator, res.Seed, res.Metrics, ticks}
}

func writeScenarioHeader(w io.Writer, s *sim.Scenario, seed uint64) {
	fmt.Fprintf(w, "scenario %s: capacity %g/s, %d services, %v simulated (tick %v), seed %d\n",
		s.Name, s.Capacity, len(s.Services), s.Duration, s.Tick, seed)
	if s.Description != "" {
		fmt.Fprintf(w, "  %s\n", s.Description)
	}
	fmt.Fprintln(w)
}

// writeMetricsTable prints one row per result, then one per unavailable allocator.
func writeMetricsTable(w io.Writer, results []*sim.Result, unavailable map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "allocator\tutilization\tupstream 429\trejected crit/high/med/low\tqueue p99 ms crit/high/med/low\tweighted goodput\trun time")
	for _, r := range results {
		m := r.Metrics
		fmt.Fprintf(tw, "%s\t%.1f%%\t%d\t%d/%d/%d/%d\t%s/%s/%s/%s\t%.0f\t%.2fs\n",
			r.Allocator, 100*m.Utilization, m.Upstream429,
			m.Rejected[tps.Critical], m.Rejected[tps.High], m.Rejected[tps.Medium], m.Rejected[tps.Low],
			ms(m.QueueP99Ms[tps.Critical]), ms(m.QueueP99Ms[tps.High]), ms(m.QueueP99Ms[tps.Medium]), ms(m.QueueP99Ms[tps.Low]),
			m.WeightedGoodput, r.Elapsed.Seconds())
	}
	for _, name := range slices.Sorted(maps.Keys(unavailable)) {
		fmt.Fprintf(tw, "%s\tunavailable: %s\n", name, unavailable[name])
	}
	tw.Flush()
}

func ms(v float64) string { return fmt.Sprintf("%.0f", v) }

// summaryRows bounds the allocation summary of `simulate` to one screen.
const summaryRows = 20

// writeAllocationSummary prints, per window of ticks, each service's mean share and demand.
func writeAllocationSummary(w io.Writer, s *sim.Scenario, ticks []sim.TickRecord) {
	if len(ticks) == 0 {
		return
	}
	per := max(1, (len(ticks)+summaryRows-1)/summaryRows)
	fmt.Fprintf(w, "allocation over time: mean share / demand per service in req/s, %d ticks per row;\n", per)
	fmt.Fprintln(w, "shared: capacity given to no service, open to every request (most important first)")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "until\tcapacity\tshared\t")
	for _, svc := range s.Services {
		fmt.Fprintf(tw, "%s (%s)\t", svc.Name, svc.Priority)
	}
	fmt.Fprintln(tw, "total\t")
	prev := time.Duration(0)
	for start := 0; start < len(ticks); start += per {
		group := ticks[start:min(start+per, len(ticks))]
		end := group[len(group)-1].At
		secs := (end - prev).Seconds()
		prev = end
		capSum, shared := 0.0, 0.0
		alloc := make([]float64, len(s.Services))
		arrived := make([]int64, len(s.Services))
		for _, tr := range group {
			capSum += tr.Capacity
			shared += tr.Shared
			for i := range alloc {
				alloc[i] += tr.Alloc[i]
				arrived[i] += tr.Arrived[i]
			}
		}
		n := float64(len(group))
		fmt.Fprintf(tw, "%v\t%.0f\t%.0f\t", end, capSum/n, shared/n)
		var totA, totD float64
		for i := range alloc {
			a, d := alloc[i]/n, float64(arrived[i])/secs
			totA += a
			totD += d
			fmt.Fprintf(tw, "%.0f / %.0f\t", a, d)
		}
		fmt.Fprintf(tw, "%.0f / %.0f\t\n", totA, totD)
	}
	tw.Flush()
}

// progressBar draws one line on stderr, redrawn in place, only when what it shows changes.
type progressBar struct {
	w     io.Writer
	shown int
	label string
	drawn bool
}

const barWidth = 30

func newProgressBar(w io.Writer) *progressBar { return &progressBar{w: w, shown: -1} }

func (b *progressBar) set(done float64, label string) {
	pct := int(100 * min(max(done, 0), 1))
	if pct == b.shown && label == b.label {
		return
	}
	b.shown, b.label, b.drawn = pct, label, true
	fill := pct * barWidth / 100
	fmt.Fprintf(b.w, "\r[%s%s] %3d%% %-32s", strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), pct, label)
}

// finish ends the bar's line; nil-safe so JSON runs, which have none, can call it too.
func (b *progressBar) finish() {
	if b != nil && b.drawn {
		fmt.Fprintln(b.w)
	}
}
