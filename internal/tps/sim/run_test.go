package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"aya/internal/tps"
)

// scenarioOf builds a small in-memory scenario with constant demand per service.
func scenarioOf(t testing.TB, capacity float64, duration time.Duration, svcs []tps.Service, rps []float64) *Scenario {
	t.Helper()
	names := make([]string, len(svcs))
	rows := make([]DemandRow, len(svcs))
	for i, s := range svcs {
		names[i] = s.Name
		rows[i] = DemandRow{T: 0, Service: s.Name, RPS: rps[i]}
	}
	d, err := NewDemand(names, rows)
	if err != nil {
		t.Fatal(err)
	}
	s := &Scenario{Name: "tiny", Capacity: capacity, Tick: time.Second, Duration: duration, Services: svcs,
		Queue: QueueSpec{Max: tps.DefaultQueueMax, Timeout: tps.DefaultQueueTimeout}, Demand: d}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func run(t testing.TB, s *Scenario, name string, opts Options) *Result {
	t.Helper()
	a, err := tps.NewAllocator(name)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), s, a, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// TestMetricDefinitions checks each metric against its definition on runs small enough to
// reason about by hand.
func TestMetricDefinitions(t *testing.T) {
	t.Run("underload: everything served at once", func(t *testing.T) {
		s := scenarioOf(t, 100, 20*time.Second, []tps.Service{{Name: "pay", Priority: tps.Critical}}, []float64{40})
		res := run(t, s, "waterfill", Options{Seed: 1, RecordTicks: true})
		m := res.Metrics
		if res.Served != res.Arrived || m.Rejected != (ByPriority[int64]{}) || m.Upstream429 != 0 {
			t.Fatalf("arrived %v served %v rejected %v 429 %d: want all served", res.Arrived, res.Served, m.Rejected, m.Upstream429)
		}
		if math.Abs(m.Utilization-1) > 1e-9 {
			t.Errorf("utilization %v, want 1 (served = arrived = the fair share)", m.Utilization)
		}
		if want := 8 * float64(res.Served[tps.Critical]); m.WeightedGoodput != want {
			t.Errorf("weighted goodput %v, want 8 × %d", m.WeightedGoodput, res.Served[tps.Critical])
		}
		if m.QueueP99Ms != (ByPriority[float64]{}) {
			t.Errorf("queue p99 %v, want 0 everywhere", m.QueueP99Ms)
		}
	})
	t.Run("overload of one LOW service", func(t *testing.T) {
		// 1000 rps against a cap of 100 with a 2% margin: 98 admitted per sliding second,
		// so 980 of the ~10000 arrivals in 10 s, utilization 980/1000.
		s := scenarioOf(t, 100, 10*time.Second, []tps.Service{{Name: "rep", Priority: tps.Low}}, []float64{1000})
		res := run(t, s, "waterfill", Options{Seed: 2, RecordTicks: true})
		m := res.Metrics
		served := res.Served[tps.Low]
		if served < 975 || served > 985 {
			t.Errorf("served %d, want about 980", served)
		}
		fair := 0.0
		for _, tr := range res.Ticks {
			fair += min(100, float64(tr.Arrived[0]))
		}
		if want := float64(served) / fair; math.Abs(m.Utilization-want) > 1e-12 || fair != 1000 {
			t.Errorf("utilization %v, want served/Σ min(cap, arrivals) = %d/%v", m.Utilization, served, fair)
		}
		// The rest is rejected, except what still waits at the end (a full queue).
		waiting := res.Arrived[tps.Low] - served - m.Rejected[tps.Low]
		if waiting < 0 || waiting > tps.DefaultQueueMax {
			t.Errorf("arrived %d served %d rejected %d: %d unaccounted", res.Arrived[tps.Low], served, m.Rejected[tps.Low], waiting)
		}
		if m.WeightedGoodput != float64(served) || m.Upstream429 != 0 {
			t.Errorf("weighted goodput %v (want %d), 429s %d", m.WeightedGoodput, served, m.Upstream429)
		}
		// The queue is full of requests that wait until their deadline or their turn: the
		// served ones at the tail waited nearly the whole 2 s timeout.
		if p := m.QueueP99Ms[tps.Low]; p < 1500 || p > 2000 {
			t.Errorf("LOW queue p99 %v ms, want close to the 2000 ms timeout", p)
		}
	})
	t.Run("weights and the priority split", func(t *testing.T) {
		// Once demand is seen (the first tick shares by mins only), waterfill gives CRITICAL
		// all but LOW's min: 88 and 10 of the 98 admitted per second.
		s := scenarioOf(t, 100, 20*time.Second, []tps.Service{
			{Name: "pay", Priority: tps.Critical, Min: 10}, {Name: "rep", Priority: tps.Low, Min: 10},
		}, []float64{500, 500})
		res := run(t, s, "waterfill", Options{Seed: 3, RecordTicks: true})
		var steady [2]int64
		for _, tr := range res.Ticks[5:] {
			if math.Abs(tr.Alloc[0]-88) > 1e-6 || math.Abs(tr.Alloc[1]-10) > 1e-6 {
				t.Fatalf("tick at %v: shares %v, want [88 10]", tr.At, tr.Alloc)
			}
			steady[0] += tr.Served[0]
			steady[1] += tr.Served[1]
		}
		if n := float64(len(res.Ticks) - 5); math.Abs(float64(steady[0])/n-88) > 2 || math.Abs(float64(steady[1])/n-10) > 1 {
			t.Errorf("served per second after the start: critical %.1f low %.1f, want about 88 and 10", float64(steady[0])/n, float64(steady[1])/n)
		}
		c, l := res.Served[tps.Critical], res.Served[tps.Low]
		if want := 8*float64(c) + float64(l); res.Metrics.WeightedGoodput != want {
			t.Errorf("weighted goodput %v, want 8×%d + %d", res.Metrics.WeightedGoodput, c, l)
		}
	})
	t.Run("no margin: the pool fills the partner's cap exactly and never above", func(t *testing.T) {
		// With a margin of one in a million the pool's window admits 299 per sliding
		// second against the partner's 300: bursty overload from three levels must still
		// cause no 429, and use all but one request per second of the capacity.
		s := scenarioOf(t, 300, 20*time.Second, []tps.Service{
			{Name: "a", Priority: tps.Critical, Min: 10}, {Name: "b", Priority: tps.High}, {Name: "c", Priority: tps.Low},
		}, []float64{150, 250, 400})
		s.Margin = 1e-6
		s.Tick = 250 * time.Millisecond
		res := run(t, s, "waterfill", Options{Seed: 5})
		if m := res.Metrics; m.Upstream429 != 0 || m.Utilization < 0.985 {
			t.Errorf("%d upstream 429s, utilization %.4f; want 0 and nearly 1", m.Upstream429, m.Utilization)
		}
	})
	t.Run("upstream cap below the configured one", func(t *testing.T) {
		// The partner allows 60 while the pool believes 100: the upstream answers 429, the
		// pool hears it and lowers its effective capacity.
		s := scenarioOf(t, 100, 30*time.Second, []tps.Service{{Name: "rep", Priority: tps.Low}}, []float64{300})
		s.UpstreamCapacity = 60
		res := run(t, s, "waterfill", Options{Seed: 4, RecordTicks: true})
		m := res.Metrics
		if m.Upstream429 == 0 {
			t.Fatal("no upstream 429s although the pool sends above the real cap")
		}
		if got := res.Served[tps.Low]; got > 60*30 {
			t.Errorf("served %d, more than the real cap allows in 30 s", got)
		}
		if last := res.Ticks[len(res.Ticks)-1].Capacity; last >= 98 {
			t.Errorf("effective capacity %v at the end, want it lowered by the 429s", last)
		}
		if m.Utilization > 1 || m.Utilization < 0.5 {
			t.Errorf("utilization %v against the real cap", m.Utilization)
		}
	})
}

func TestRunDeterministic(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: FlashCrowd, Seed: 2, Duration: 10 * time.Second, Load: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	js := func(seed uint64, names ...string) []byte {
		var b bytes.Buffer
		for _, name := range names {
			res := run(t, s, name, Options{Seed: seed})
			out, _ := json.Marshal(res.Metrics)
			b.Write(out)
		}
		return b.Bytes()
	}
	a, b := js(1, tps.ClassicAllocators...), js(1, tps.ClassicAllocators...)
	if !bytes.Equal(a, b) {
		t.Errorf("same seed, different metrics:\n%s\n%s", a, b)
	}
	if bytes.Equal(js(1, "waterfill"), js(2, "waterfill")) {
		t.Error("different seeds, same metrics")
	}
}

func TestRunProgressAndCancel(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Steady, Duration: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var seen []float64
	a, _ := tps.NewAllocator("aimd")
	if _, err := Run(context.Background(), s, a, Options{Progress: func(f float64) { seen = append(seen, f) }}); err != nil {
		t.Fatal(err)
	}
	// 40 ticks: one call per tick (fewer than the hundred of a long run), ending at 1.
	if len(seen) < 30 || seen[len(seen)-1] != 1 || !slices.IsSorted(seen) {
		t.Errorf("progress %v; want about one call per tick, increasing to 1", seen)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a, _ = tps.NewAllocator("aimd")
	if _, err := Run(ctx, s, a, Options{}); err == nil {
		t.Error("a cancelled run did not fail")
	}
}

func TestEvaluate(t *testing.T) {
	s, err := GenerateScenario(GenSpec{Family: Drift, Duration: 15 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	build := Allocators(map[string]func() (tps.Allocator, error){
		"learned": func() (tps.Allocator, error) { return &tps.Waterfill{}, nil },
	})
	calls := 0
	res, err := Evaluate(context.Background(), s, []string{"static", "learned"}, build, Options{Seed: 1}, func(int, float64) { calls++ })
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Allocator != "static" || res[1].Allocator != "learned" {
		t.Fatalf("results %v", res)
	}
	if want := run(t, s, "waterfill", Options{Seed: 1}).Metrics; res[1].Metrics != want {
		t.Error("the extra constructor was not the one run")
	}
	if calls == 0 {
		t.Error("no progress")
	}
	if _, err := Evaluate(context.Background(), s, []string{"nope"}, build, Options{}, nil); err == nil {
		t.Error("an unknown allocator did not fail")
	}
	if _, err := Evaluate(context.Background(), s, []string{"aimd", "aimd"}, build, Options{}, nil); err == nil {
		t.Error("a duplicate allocator did not fail")
	}
}

// BenchmarkRunMinute is one simulated minute of the partner mix (about 100k arrivals).
func BenchmarkRunMinute(b *testing.B) {
	b.ReportAllocs()
	s, err := GenerateScenario(GenSpec{Family: Diurnal, Duration: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		run(b, s, "waterfill", Options{Seed: 1})
	}
}
