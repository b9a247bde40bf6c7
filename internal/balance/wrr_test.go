package balance

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestSmoothWeightedRoundRobinSequence(t *testing.T) {
	tests := []struct {
		weights []int
		period  string // targets as letters a, b, c, ...
	}{
		{[]int{5, 1, 1}, "aabacaa"},
		{[]int{1, 1, 1}, "abc"},
		{[]int{2, 1}, "aba"},
		{[]int{2, 2, 4}, "cabc"}, // the period of 1,1,2
		{[]int{0, -3}, "ab"},     // weights below 1 count as 1
		{[]int{4}, "a"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.weights), func(t *testing.T) {
			targets := targetsOf(tt.weights...)
			b := mustNew(t, "weighted_round_robin", Options{})
			var got strings.Builder
			for range 2 * len(tt.period) {
				got.WriteByte(byte('a' + indexOf(targets, b.Pick(nil, targets))))
			}
			if want := strings.Repeat(tt.period, 2); got.String() != want {
				t.Fatalf("weights %v: sequence %s, want %s", tt.weights, got.String(), want)
			}
		})
	}
}

func indexOf(targets []*Target, p *Target) int {
	for i, t := range targets {
		if t == p {
			return i
		}
	}
	return -1
}

// TestWeightedProportions checks the deterministic weighted algorithms against the 1%
// bound: over 10k picks every target's share is within one percentage point of its
// weight's share. weighted_least_conn here sees an idle pool (every request ends before the
// next), where its weighted tie-break must carry the weights.
func TestWeightedProportions(t *testing.T) {
	weights := []int{5, 3, 2}
	for _, name := range []string{"weighted_round_robin", "weighted_least_conn"} {
		t.Run(name, func(t *testing.T) {
			targets := targetsOf(weights...)
			b := mustNew(t, name, Options{})
			picks := make([]*Target, 10_000)
			for i := range picks {
				picks[i] = b.Pick(nil, targets)
				picks[i].Begin()
				picks[i].End(0, false)
			}
			checkShares(t, indexCounts(t, targets, picks), weights, 0.01)
		})
	}
}

// checkShares fails when a target's share of counts differs from its weight's share by more
// than tolerance (an absolute fraction of all picks).
func checkShares(t *testing.T, counts, weights []int, tolerance float64) {
	t.Helper()
	total, wsum := 0, 0
	for i := range counts {
		total += counts[i]
		wsum += weights[i]
	}
	for i := range counts {
		got, want := float64(counts[i])/float64(total), float64(weights[i])/float64(wsum)
		if math.Abs(got-want) > tolerance {
			t.Errorf("target %d (weight %d): share %.4f, want %.4f ± %.4f (counts %v)", i, weights[i], got, want, tolerance, counts)
		}
	}
}

func TestSequenceWeightsBounded(t *testing.T) {
	tests := []struct {
		name    string
		weights []int
		max     int // longest acceptable period
	}{
		{"gcd", []int{4, 6, 10}, 2 + 3 + 5},
		{"huge weights", []int{1_000_000, 1, 500_000}, maxSequence + 3},
		{"beyond maxWeight", []int{1 << 40, 1}, maxSequence + 2},
		{"many targets", slices.Repeat([]int{100, 1}, 1000), maxSequenceWork/2000 + 2000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := sequenceWeights(targetsOf(tt.weights...))
			total := 0
			for i, x := range w {
				if x < 1 {
					t.Fatalf("target %d gets %d turns per period, want at least 1", i, x)
				}
				if tt.weights[i] > tt.weights[(i+1)%len(w)] && x <= w[(i+1)%len(w)] {
					t.Fatalf("target %d (weight %d) no longer gets more turns than the next (weight %d): %d <= %d",
						i, tt.weights[i], tt.weights[(i+1)%len(w)], x, w[(i+1)%len(w)])
				}
				total += x
			}
			if total > tt.max {
				t.Fatalf("period %d, want at most %d", total, tt.max)
			}
		})
	}
}
