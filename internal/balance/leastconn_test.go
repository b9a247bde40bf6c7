package balance

import (
	"fmt"
	"slices"
	"testing"
)

// loaded returns targets with the given weights, each with inflight[i] requests in flight.
func loaded(weights []int, inflight []int) []*Target {
	targets := targetsOf(weights...)
	for i, n := range inflight {
		for range n {
			targets[i].Begin()
		}
	}
	return targets
}

func TestLeastConnPicksLeastLoaded(t *testing.T) {
	tests := []struct {
		algorithm string
		weights   []int
		inflight  []int
		want      []int // indexes that may be picked; all of them must be
	}{
		{"least_conn", []int{1, 1, 1}, []int{3, 1, 2}, []int{1}},
		{"least_conn", []int{9, 1, 1}, []int{3, 1, 2}, []int{1}}, // weights ignored
		{"least_conn", []int{1, 1, 1, 1}, []int{2, 0, 5, 0}, []int{1, 3}},
		{"least_conn", []int{1, 1, 1}, []int{0, 0, 0}, []int{0, 1, 2}},
		{"weighted_least_conn", []int{4, 1, 1}, []int{3, 1, 2}, []int{0}},       // 0.75 < 1 < 2
		{"weighted_least_conn", []int{4, 1, 1}, []int{4, 3, 1}, []int{0, 2}},    // 1 = 1 < 3
		{"weighted_least_conn", []int{1, 1, 1}, []int{3, 1, 2}, []int{1}},       // plain least_conn
		{"weighted_least_conn", []int{2, 6, 3}, []int{1, 2, 1}, []int{1, 2}},    // 1/2 > 1/3 = 1/3
		{"weighted_least_conn", []int{5, 1, 1}, []int{0, 0, 0}, []int{0, 1, 2}}, // idle: weighted turns
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/w%v/in%v", tt.algorithm, tt.weights, tt.inflight), func(t *testing.T) {
			targets := loaded(tt.weights, tt.inflight)
			b := mustNew(t, tt.algorithm, Options{})
			picks := make([]*Target, 70)
			for i := range picks {
				picks[i] = b.Pick(nil, targets)
			}
			for i, c := range indexCounts(t, targets, picks) {
				if allowed := slices.Contains(tt.want, i); allowed != (c > 0) {
					t.Errorf("target %d picked %d times; want picked: %v", i, c, allowed)
				}
			}
		})
	}
}

// TestLeastConnTiesRotate checks that equal loads take turns exactly, not first-wins.
func TestLeastConnTiesRotate(t *testing.T) {
	targets := targetsOf(1, 1, 1, 1)
	b := mustNew(t, "least_conn", Options{})
	picks := make([]*Target, 4*25)
	for i := range picks {
		picks[i] = b.Pick(nil, targets)
	}
	for i, c := range indexCounts(t, targets, picks) {
		if c != 25 {
			t.Errorf("target %d picked %d times of 100, want 25", i, c)
		}
	}
}

// TestWeightedLeastConnUnderLoad simulates a pool under constant concurrency: 100 requests
// always in flight, all equally slow, the oldest finishing before each new pick. Least
// in-flight per weight then holds each target's share of the in-flight requests, and so of
// the picks, at its weight's share.
func TestWeightedLeastConnUnderLoad(t *testing.T) {
	weights := []int{5, 3, 2}
	targets := targetsOf(weights...)
	b := mustNew(t, "weighted_least_conn", Options{})
	var queue []*Target // in flight, oldest first
	pick := func() *Target {
		p := b.Pick(nil, targets)
		p.Begin()
		queue = append(queue, p)
		return p
	}
	for range 100 {
		pick()
	}
	picks := make([]*Target, 10_000)
	for i := range picks {
		queue[0].End(0, false)
		queue = queue[1:]
		picks[i] = pick()
	}
	checkShares(t, indexCounts(t, targets, picks), weights, 0.01)
}
