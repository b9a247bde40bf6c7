package balance

import (
	"testing"
)

// TestSetCacheBuilds counts builds over a sequence of slices: the current and the previous
// set are served from the cache, anything else is built once.
func TestSetCacheBuilds(t *testing.T) {
	a, b, c := targetsOf(1, 2), targetsOf(1, 2, 3), targetsOf(4)
	tests := []struct {
		name   string
		sets   [][]*Target
		builds int
	}{
		{"same slice", [][]*Target{a, a, a}, 1},
		{"change", [][]*Target{a, b}, 2},
		{"straggler on the old set", [][]*Target{a, b, a, b, a}, 2},
		{"third set evicts the oldest", [][]*Target{a, b, c, b, a}, 4},
		{"shorter view of one array", [][]*Target{b, b[:2], b}, 2},
		{"view starting later", [][]*Target{b, b[1:], b[2:]}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			builds := 0
			cache := setCache[int]{build: func(ts []*Target) int { builds++; return len(ts) }}
			for i, set := range tt.sets {
				if got := cache.get(set); got != len(set) {
					t.Fatalf("set %d: table for %d targets, want the one for %d", i, got, len(set))
				}
			}
			if builds != tt.builds {
				t.Fatalf("%d builds, want %d", builds, tt.builds)
			}
		})
	}
}
