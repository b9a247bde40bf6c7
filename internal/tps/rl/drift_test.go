package rl

import (
	"math/rand/v2"
	"testing"
)

func TestPageHinkley(t *testing.T) {
	tests := []struct {
		name      string
		before    float64 // mean forecast error before tick 500
		after     float64 // and after
		wantDrift bool
	}{
		{"stationary", 0.08, 0.08, false},
		{"error doubles", 0.08, 0.3, true},
		{"error falls", 0.3, 0.08, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(5, 6))
			ph := PageHinkley{Delta: 0.02, Lambda: 3, MinSamples: 50}
			at := -1
			for i := range 1500 {
				m := tt.before
				if i >= 500 {
					m = tt.after
				}
				if ph.Add(m*(0.5+rng.Float64())) && at < 0 {
					at = i
				}
			}
			if got := ph.Drifted(); got != tt.wantDrift {
				t.Fatalf("drift = %v (first at tick %d), want %v", got, at, tt.wantDrift)
			}
			if tt.wantDrift && at < 500 {
				t.Errorf("drift signalled at tick %d, before the change at 500", at)
			}
			ph.Reset()
			if ph.Drifted() {
				t.Error("Reset kept the drift flag")
			}
		})
	}
}
