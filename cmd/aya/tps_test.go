package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"aya/internal/tps/sim"
)

// smallScenario writes a 10-second generated scenario and returns its path.
func smallScenario(t *testing.T) string {
	t.Helper()
	s, err := sim.GenerateScenario(sim.GenSpec{Name: "small", Family: sim.Bursts, Seed: 1, Duration: 10 * time.Second, Load: 1.2})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "small.yaml")
	if err := s.WriteFiles(p); err != nil {
		t.Fatal(err)
	}
	return p
}

func runAya(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestTPSEvaluateJSONKeys(t *testing.T) {
	p := smallScenario(t)
	code, out, errs := runAya("tps", "evaluate", "--scenario", p, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got map[string]map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("not one JSON object: %v\n%s", err, out)
	}
	want := slices.Sorted(slices.Values(sim.AllocatorNames()))
	if keys := sortedKeys(got); !slices.Equal(keys, want) {
		t.Fatalf("top-level keys %v, want exactly %v", keys, want)
	}
	metricKeys := []string{"queue_p99_ms", "rejected", "upstream_429", "utilization", "weighted_goodput"}
	for name, m := range got {
		if keys := sortedKeys(m); !slices.Equal(keys, metricKeys) {
			t.Errorf("%s: keys %v, want exactly %v", name, keys, metricKeys)
		}
		for _, k := range []string{"rejected", "queue_p99_ms"} {
			var per map[string]float64
			if err := json.Unmarshal(m[k], &per); err != nil {
				t.Fatalf("%s.%s: %v", name, k, err)
			}
			if keys := sortedKeys(per); !slices.Equal(keys, []string{"critical", "high", "low", "medium"}) {
				t.Errorf("%s.%s: keys %v, want the four priorities", name, k, keys)
			}
		}
	}
}

func TestTPSEvaluateChosenAllocatorsAndSeed(t *testing.T) {
	p := smallScenario(t)
	eval := func(seed string) string {
		code, out, errs := runAya("tps", "evaluate", "--scenario", p, "--allocators", "waterfill, aimd", "--json", "--seed", seed)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errs)
		}
		return out
	}
	a, b, c := eval("1"), eval("1"), eval("2")
	var got map[string]sim.Metrics
	if err := json.Unmarshal([]byte(a), &got); err != nil {
		t.Fatal(err)
	}
	if keys := sortedKeys(got); !slices.Equal(keys, []string{"aimd", "waterfill"}) {
		t.Errorf("keys %v, want aimd and waterfill", keys)
	}
	if a != b {
		t.Error("same seed, different output")
	}
	if a == c {
		t.Error("different seeds, same output")
	}
}

func TestTPSEvaluateTable(t *testing.T) {
	p := smallScenario(t)
	code, out, errs := runAya("tps", "evaluate", "--scenario", p, "--allocators", "static,waterfill")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"scenario small:", "allocator", "utilization", "weighted goodput", "\nstatic ", "\nwaterfill "} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	if !strings.Contains(errs, "100%") || !strings.Contains(errs, "waterfill (2/2)") {
		t.Errorf("no progress bar on stderr: %q", errs)
	}
}

func TestTPSLearnedUnavailable(t *testing.T) {
	p := smallScenario(t)
	bad := filepath.Join(t.TempDir(), "model.bin")
	if err := os.WriteFile(bad, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Asked for explicitly in JSON: a clear failure.
	code, _, errs := runAya("tps", "evaluate", "--scenario", p, "--allocators", "waterfill,learned", "--json", "--model", bad)
	if code != 1 || !strings.Contains(errs, "learned is unavailable") {
		t.Errorf("explicit learned with a bad model: exit %d, %q", code, errs)
	}
	// By default in JSON: left out, said so on stderr.
	code, out, errs := runAya("tps", "evaluate", "--scenario", p, "--json", "--model", bad)
	var got map[string]json.RawMessage
	if code != 0 || json.Unmarshal([]byte(out), &got) != nil {
		t.Fatalf("exit %d: %s %s", code, errs, out)
	}
	if _, ok := got["learned"]; ok || len(got) != 4 || !strings.Contains(errs, "leaving out learned") {
		t.Errorf("default JSON with a bad model: keys %v, stderr %q", sortedKeys(got), errs)
	}
	// In the table: a row that says so.
	code, out, _ = runAya("tps", "evaluate", "--scenario", p, "--model", bad)
	if code != 0 || !strings.Contains(out, "learned") || !strings.Contains(out, "unavailable") {
		t.Errorf("table with a bad model: exit %d\n%s", code, out)
	}
}

func TestTPSSimulate(t *testing.T) {
	p := smallScenario(t)
	code, out, errs := runAya("tps", "simulate", "--scenario", p, "--allocator", "waterfill")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, w := range []string{"waterfill", "allocation over time", "payments (critical)", "analytics (low)", "total"} {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
	code, out, errs = runAya("tps", "simulate", "--scenario", p, "--allocator", "aimd", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var got struct {
		Allocator string
		Metrics   sim.Metrics
		Ticks     []struct {
			T     float64
			Alloc map[string]float64
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatal(err)
	}
	if got.Allocator != "aimd" || len(got.Ticks) != 20 || got.Ticks[19].T != 10 || len(got.Ticks[0].Alloc) != 6 {
		t.Errorf("allocator %q, %d ticks, last at %v", got.Allocator, len(got.Ticks), got.Ticks[len(got.Ticks)-1].T)
	}
}

func TestTPSUsageErrors(t *testing.T) {
	p := smallScenario(t)
	badDir := t.TempDir()
	bad := filepath.Join(badDir, "bad.yaml")
	os.WriteFile(bad, []byte("capacity: 100\ntick: 1s\nservices:\n  - {name: a, priority: urgent}\ndemand: x.csv\n"), 0o644)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"tps"}, 2, "aya tps simulate"},
		{[]string{"tps", "fly"}, 2, `unknown command "fly"`},
		{[]string{"tps", "evaluate"}, 2, "--scenario is required"},
		{[]string{"tps", "simulate", "--scenario", p}, 2, "--allocator is required"},
		{[]string{"tps", "simulate", "--scenario", p, "--allocator", "magic"}, 2, `allocator "magic": unknown`},
		{[]string{"tps", "evaluate", "--scenario", p, "--allocators", "static,magic"}, 2, `allocator "magic": unknown`},
		{[]string{"tps", "evaluate", "--scenario", p, "--allocators", "aimd,aimd"}, 1, "listed twice"},
		{[]string{"tps", "evaluate", "--scenario", bad}, 1, "bad.yaml:4: service \"a\": priority \"urgent\""},
		{[]string{"tps", "evaluate", "--scenario", filepath.Join(badDir, "none.yaml")}, 1, "no such file"},
		{[]string{"tps", "generate", "--family", "tides", "--out", filepath.Join(badDir, "t.yaml")}, 1, `trace family "tides"`},
	}
	for _, c := range cases {
		code, out, errs := runAya(c.args...)
		if code != c.code || !strings.Contains(out+errs, c.want) {
			t.Errorf("%v: exit %d, output %q %q; want exit %d and %q", c.args, code, out, errs, c.code, c.want)
		}
	}
}

func TestTPSGenerate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gen.yaml")
	code, out, errs := runAya("tps", "generate", "--family", "drift", "--seed", "3", "--duration", "1m", "--out", p)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	if !strings.Contains(out, "wrote "+p) {
		t.Errorf("output %q", out)
	}
	s, err := sim.Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "gen" || s.Duration != time.Minute || s.Capacity != 1500 {
		t.Errorf("loaded %s: %v, capacity %v", s.Name, s.Duration, s.Capacity)
	}
}
