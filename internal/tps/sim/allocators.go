package sim

import (
	"context"
	"fmt"
	"slices"

	"aya/internal/tps"
)

// AllocatorNames are the allocators `aya tps evaluate` compares by default, in report order.
func AllocatorNames() []string {
	return []string{"static", "proportional", "waterfill", "aimd", "learned"}
}

// Builder makes a fresh allocator by name; every run needs its own (allocators keep state).
type Builder func(name string) (tps.Allocator, error)

// Allocators is the registry of allocators a simulation can run: the classic ones of package
// tps plus extra, which adds or replaces constructors by name. The learned policy lives in
// package tps/rl, which builds on this one, so the caller adds it:
//
//	sim.Allocators(map[string]func() (tps.Allocator, error){"learned": newLearned})
func Allocators(extra map[string]func() (tps.Allocator, error)) Builder {
	opts := make([]tps.AllocatorOption, 0, len(extra))
	for name, build := range extra {
		opts = append(opts, tps.WithAllocator(name, build))
	}
	return func(name string) (tps.Allocator, error) {
		return tps.NewAllocator(name, opts...)
	}
}

// Evaluate runs each named allocator on the scenario with the same arrivals (opts.Seed) and
// returns the results in the order of names. progress, when set, gets the index of the
// allocator running and its fraction done.
func Evaluate(ctx context.Context, s *Scenario, names []string, build Builder, opts Options, progress func(i int, done float64)) ([]*Result, error) {
	if i := firstDuplicate(names); i >= 0 {
		return nil, fmt.Errorf("allocator %q listed twice", names[i])
	}
	results := make([]*Result, 0, len(names))
	for i, name := range names {
		a, err := build(name)
		if err != nil {
			return nil, err
		}
		o := opts
		if progress != nil {
			o.Progress = func(done float64) { progress(i, done) }
		}
		res, err := Run(ctx, s, a, o)
		if err != nil {
			return nil, fmt.Errorf("allocator %s: %w", name, err)
		}
		res.Allocator = name
		results = append(results, res)
		if progress != nil {
			progress(i, 1)
		}
	}
	return results, nil
}

func firstDuplicate(names []string) int {
	for i := range names {
		if slices.Contains(names[:i], names[i]) {
			return i
		}
	}
	return -1
}
