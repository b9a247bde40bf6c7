package balance

import (
	"testing"
)

func TestRoundRobinFair(t *testing.T) {
	targets := targetsOf(7, 1, 1, 1, 1) // weights are ignored
	b := mustNew(t, "round_robin", Options{})
	for round := range 200 {
		for i := range targets {
			if got := b.Pick(nil, targets); got != targets[i] {
				t.Fatalf("round %d pick %d: got %s, want %s", round, i, got.Name, targets[i].Name)
			}
		}
	}
}

// TestRandomFair: 100k uniform picks over 5 targets give each 20000 ± 126 (one standard
// deviation); a 1000-pick band is 7.9 standard deviations, so this fails by chance about
// once in 10^14 runs.
func TestRandomFair(t *testing.T) {
	targets := targetsOf(7, 1, 1, 1, 1) // weights are ignored
	b := mustNew(t, "random", Options{})
	picks := make([]*Target, 100_000)
	for i := range picks {
		picks[i] = b.Pick(nil, targets)
	}
	checkShares(t, indexCounts(t, targets, picks), []int{1, 1, 1, 1, 1}, 0.01)
}

func TestP2CAvoidsTheMoreLoaded(t *testing.T) {
	tests := []struct {
		name     string
		inflight []int
		never    int // index never picked
	}{
		{"first busier", []int{5, 2}, 0},
		{"second busier", []int{0, 1}, 1},
		{"five targets", []int{3, 0, 9, 2, 1}, 2},
		{"two busiest tie", []int{4, 4, 0}, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets := loaded(make([]int, len(tt.inflight)), tt.inflight)
			b := mustNew(t, "p2c", Options{})
			picks := make([]*Target, 5000)
			for i := range picks {
				picks[i] = b.Pick(nil, targets)
			}
			counts := indexCounts(t, targets, picks)
			if tt.never >= 0 && counts[tt.never] > 0 {
				t.Fatalf("the most loaded target was picked %d times (counts %v)", counts[tt.never], counts)
			}
			least := 0
			for i, n := range tt.inflight {
				if n < tt.inflight[least] {
					least = i
				}
			}
			for i, c := range counts {
				if c > counts[least] {
					t.Errorf("target %d (in flight %d) picked more than the least loaded: %v", i, tt.inflight[i], counts)
				}
			}
		})
	}
}
