package sim

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"aya/internal/tps"
)

// TestShippedScenarios loads every scenario in examples/tps and checks the floor the learned
// policy must beat: waterfill keeps the hard guarantees (no upstream 429, no CRITICAL
// rejection) and uses at least 97% of what could be served.
func TestShippedScenarios(t *testing.T) {
	paths, err := filepath.Glob("../../../examples/tps/*.yaml")
	if err != nil || len(paths) < 4 {
		t.Fatalf("want at least 4 shipped scenarios, found %v (%v)", paths, err)
	}
	for _, p := range paths {
		s, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if s.Duration < 5*time.Minute || s.Duration > 20*time.Minute || len(s.Services) < 4 {
			t.Errorf("%s: %v with %d services; shipped scenarios run 5–20 minutes with 4+ services", p, s.Duration, len(s.Services))
		}
		levels := map[tps.Priority]bool{}
		for _, svc := range s.Services {
			levels[svc.Priority] = true
		}
		if len(levels) != 4 {
			t.Errorf("%s: priorities %v; want all four", p, levels)
		}
		if raceEnabled {
			continue
		}
		t.Run(s.Name, func(t *testing.T) {
			t.Parallel()
			res, err := Run(context.Background(), s, &tps.Waterfill{}, Options{Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			m := res.Metrics
			if m.Upstream429 != 0 || m.Rejected[tps.Critical] != 0 {
				t.Errorf("waterfill: %d upstream 429s, %d CRITICAL rejections; want 0 and 0", m.Upstream429, m.Rejected[tps.Critical])
			}
			if m.Utilization < 0.97 {
				t.Errorf("waterfill: utilization %.3f, want at least 0.97", m.Utilization)
			}
		})
	}
}
