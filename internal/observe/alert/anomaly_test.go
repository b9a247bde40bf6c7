package alert

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"aya/internal/observe/analytics"
)

// poissonish draws a request count around mean (normal approximation, fine above ~20).
func poissonish(rng *rand.Rand, mean float64) uint64 {
	return uint64(max(0, math.Round(mean+rng.NormFloat64()*math.Sqrt(mean))))
}

// run feeds the detector one 5-second sample per step from gen and returns, per step, the
// keys firing after it.
func runDetector(t *testing.T, steps int, gen func(step int) analytics.Point, msgs ...*[]string) [][]string {
	t.Helper()
	m := &fakeMetrics{routes: []string{"api", ""}}
	log, _ := newLogger()
	e := New(Config{Anomaly: Anomaly{Enabled: true, Interval: 5 * time.Second, Sensitivity: 4, MinRPS: 1}}, Options{Metrics: m, Logger: log})
	out := make([][]string, steps)
	for i := range steps {
		m.set(analytics.Route, "api", 5*time.Second, gen(i))
		e.Evaluate(at(5 * i))
		var m string
		for _, a := range e.Firing() {
			out[i] = append(out[i], a.Key)
			m += a.Message
		}
		for _, p := range msgs {
			*p = append(*p, m)
		}
	}
	return out
}

func sample(rng *rand.Rand, rps, p95, errRate float64) analytics.Point {
	n := poissonish(rng, rps*5)
	return analytics.Point{Requests: n, RPS: float64(n) / 5, P95: p95 * (1 + 0.03*rng.NormFloat64()), Err5xx: errRate}
}

func TestAnomalyQuietOnNoise(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	// Half an hour of steady traffic with counting noise, jittery latency, and a slow swing.
	fired := runDetector(t, 360, func(i int) analytics.Point {
		rps := 100 + 30*math.Sin(float64(i)/40)
		return sample(rng, rps, 0.020, 0.002*float64(rng.IntN(3)))
	})
	for i, keys := range fired {
		if len(keys) > 0 {
			t.Fatalf("step %d: false alarm %v", i, keys)
		}
	}
}

func TestAnomalyFlagsSuddenChanges(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  string
		msg  string
		gen  func(rng *rand.Rand, i int) analytics.Point
	}{
		{"rps spike", "anomaly/rps/api", "requests per second rose to 4", func(rng *rand.Rand, i int) analytics.Point {
			if i >= 60 {
				return sample(rng, 400, 0.02, 0)
			}
			return sample(rng, 100, 0.02, 0)
		}},
		{"rps drop", "anomaly/rps/api", "requests per second fell to ", func(rng *rand.Rand, i int) analytics.Point {
			if i >= 60 {
				return sample(rng, 10, 0.02, 0)
			}
			return sample(rng, 100, 0.02, 0)
		}},
		{"latency jump", "anomaly/latency/api", "p95 latency rose to 1", func(rng *rand.Rand, i int) analytics.Point {
			if i >= 60 {
				return sample(rng, 100, 0.2, 0)
			}
			return sample(rng, 100, 0.02, 0)
		}},
		{"errors appear", "anomaly/errors/api", "5xx rate rose to 30.0%, usually 0.1%", func(rng *rand.Rand, i int) analytics.Point {
			if i >= 60 {
				return sample(rng, 100, 0.02, 0.3)
			}
			return sample(rng, 100, 0.02, 0.001)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 1))
			var msgs []string
			fired := runDetector(t, 200, func(i int) analytics.Point { return tc.gen(rng, i) }, &msgs)
			if !strings.Contains(msgs[61], tc.msg) {
				t.Errorf("message %q, want %q", msgs[61], tc.msg)
			}
			for i := range 60 {
				if len(fired[i]) > 0 {
					t.Fatalf("step %d, before the change: %v", i, fired[i])
				}
			}
			// Two anomalous samples in a row fire.
			if !strings.Contains(strings.Join(fired[61], " "), tc.key) {
				t.Fatalf("step 61 fired %v, want %s", fired[61], tc.key)
			}
			// A lasting shift becomes the new normal and resolves within the run.
			for i := 61; i < 200; i++ {
				if len(fired[i]) == 0 {
					t.Logf("resolved after %d samples (%v) at the new level", i-60, time.Duration(i-60)*5*time.Second)
					break
				}
			}
			if len(fired[199]) != 0 {
				first := -1
				for i := 61; i < 200; i++ {
					if len(fired[i]) == 0 {
						first = i
						break
					}
				}
				t.Fatalf("still firing %v after %d samples of the new level (cleared at %d)", fired[199], 140, first)
			}
		})
	}
}

func TestAnomalyIgnoresQuietRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	fired := runDetector(t, 100, func(i int) analytics.Point {
		if i%20 == 19 {
			return analytics.Point{Requests: 4, RPS: 0.8, P95: 2, Err5xx: 1} // a burst of slow errors
		}
		return sample(rng, 0.2, 0.02, 0)
	})
	for i, keys := range fired {
		if len(keys) > 0 {
			t.Fatalf("step %d: alarm on a route under min_rps: %v", i, keys)
		}
	}
}

func TestAnomalyDisabled(t *testing.T) {
	m := &fakeMetrics{routes: []string{"api"}}
	log, _ := newLogger()
	e := New(Config{}, Options{Metrics: m, Logger: log})
	for i := range 100 {
		m.set(analytics.Route, "api", 0, analytics.Point{Requests: uint64(i * i), RPS: float64(i * i)})
		e.Evaluate(at(i))
	}
	if len(e.Firing()) != 0 {
		t.Fatal("a disabled detector fired")
	}
}
