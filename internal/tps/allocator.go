package tps

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// AllocatorOption adds to what NewAllocator can build.
type AllocatorOption func(builders map[string]func() (Allocator, error))

// WithAllocator lets NewAllocator build name with build, for this call only. This is how the
// learned policy (package tps/rl, which imports tps) is made available without tps importing it
// and without a global registry: the caller that knows about rl passes
// WithAllocator("learned", ...). It may also replace a classic allocator, e.g. by a wrapper
// that logs.
func WithAllocator(name string, build func() (Allocator, error)) AllocatorOption {
	return func(b map[string]func() (Allocator, error)) { b[name] = build }
}

// ClassicAllocators are the allocators tps builds by itself.
var ClassicAllocators = []string{"static", "proportional", "waterfill", "aimd"}

// NewAllocator builds a fresh allocator by its config name. Allocators keep per-pool state
// (aimd remembers its shares), so every pool needs its own.
func NewAllocator(name string, opts ...AllocatorOption) (Allocator, error) {
	builders := map[string]func() (Allocator, error){
		"static":       func() (Allocator, error) { return &Static{}, nil },
		"proportional": func() (Allocator, error) { return &Proportional{}, nil },
		"waterfill":    func() (Allocator, error) { return &Waterfill{}, nil },
		"aimd":         func() (Allocator, error) { return &AIMD{}, nil },
	}
	for _, o := range opts {
		o(builders)
	}
	if build, ok := builders[name]; ok {
		a, err := build()
		if err != nil {
			return nil, fmt.Errorf("allocator %q: %w", name, err)
		}
		return a, nil
	}
	names := make([]string, 0, len(builders))
	for n := range builders {
		names = append(names, n)
	}
	slices.Sort(names)
	return nil, fmt.Errorf("allocator %q: unknown; use one of %s", name, strings.Join(names, ", "))
}

// wantOf is the rate a service should get next tick to meet its demand: the forecast for the
// next tick when one is given, else the last tick's arrival rate, plus enough to drain what is
// queued within one tick (so queues empty rather than linger until their deadlines).
func wantOf(obs *Observation, i int) float64 {
	st := obs.Stats[i]
	d := st.Demand
	if len(st.Forecast) > 0 {
		d = st.Forecast[0]
	}
	if !(d > 0) || math.IsInf(d, 1) {
		d = 0
	}
	if st.Queued > 0 && obs.Tick > 0 {
		d += float64(st.Queued) / obs.Tick.Seconds()
	}
	return d
}

// levelWeight is the share weight of a priority for allocators that split by priority:
// critical 8, high 4, medium 2, low 1 (the goodput weights).
func levelWeight(p Priority) float64 {
	return (p % numPriorities).GoodputWeight()
}
