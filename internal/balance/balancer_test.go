package balance

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"aya/internal/httpx"
)

// targetsOf returns one target per weight, named http://10.0.0.<i+1>:80.
func targetsOf(weights ...int) []*Target {
	ts := make([]*Target, len(weights))
	for i, w := range weights {
		ts[i] = NewTarget(fmt.Sprintf("http://10.0.0.%d:80", i+1), w)
	}
	return ts
}

func mustNew(tb testing.TB, algorithm string, opts Options) Balancer {
	tb.Helper()
	b, err := New(algorithm, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// ipRequest is a request from 10.<i>.<i>.<i> style addresses, distinct for distinct i.
func ipRequest(i int) *httpx.Request {
	return &httpx.Request{Path: "/", ClientIP: netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})}
}

// indexCounts counts how often each target of targets was picked.
func indexCounts(tb testing.TB, targets []*Target, picks []*Target) []int {
	tb.Helper()
	counts := make([]int, len(targets))
	for _, p := range picks {
		i := slices.Index(targets, p)
		if i < 0 {
			tb.Fatalf("picked %v, not one of the targets passed", p)
		}
		counts[i]++
	}
	return counts
}

func TestNew(t *testing.T) {
	tests := []struct {
		algorithm string
		opts      Options
		wantErr   string
	}{
		{algorithm: "round_robin"},
		{algorithm: ""},
		{algorithm: "consistent_hash", opts: Options{HashKey: "header:X-User", VirtualNodes: 40}},
		{algorithm: "maglev", opts: Options{HashKey: "cookie:session"}},
		{algorithm: "ip_hash", opts: Options{HashKey: "query:user"}},
		{algorithm: "ip_hash", opts: Options{HashKey: "path"}},
		{algorithm: "ip_hash", opts: Options{HashKey: "ip"}},
		{algorithm: "roundrobin", wantErr: `unknown algorithm "roundrobin": use one of round_robin, weighted_round_robin,`},
		{algorithm: "maglev", opts: Options{HashKey: "body"}, wantErr: `invalid hash key "body": use ip, path, header:NAME`},
		{algorithm: "maglev", opts: Options{HashKey: "header:"}, wantErr: `hash key "header:" names no header: write it as header:NAME`},
		{algorithm: "consistent_hash", opts: Options{VirtualNodes: -1}, wantErr: "virtual nodes -1 out of range"},
		{algorithm: "consistent_hash", opts: Options{VirtualNodes: maxVirtualNodes + 1}, wantErr: "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.algorithm+"/"+tt.opts.HashKey, func(t *testing.T) {
			b, err := New(tt.algorithm, tt.opts)
			if tt.wantErr == "" {
				if err != nil || b == nil {
					t.Fatalf("New = %v, %v; want a balancer", b, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v; want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestNamesAllBuild(t *testing.T) {
	names := Names()
	if len(names) != 10 {
		t.Fatalf("Names() has %d entries, want 10: %v", len(names), names)
	}
	names[0] = "changed"
	if Names()[0] != "round_robin" {
		t.Fatal("Names() returned shared state: a caller's edit leaked into the next call")
	}
	for _, name := range Names() {
		if _, err := New(name, Options{}); err != nil {
			t.Errorf("New(%q): %v", name, err)
		}
	}
}

func TestPickEmptyAndSingle(t *testing.T) {
	one := targetsOf(3)
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b := mustNew(t, name, Options{})
			r := ipRequest(1)
			if got := b.Pick(r, nil); got != nil {
				t.Errorf("Pick(nil) = %v, want nil", got)
			}
			if got := b.Pick(r, []*Target{}); got != nil {
				t.Errorf("Pick(empty) = %v, want nil", got)
			}
			for range 3 {
				if got := b.Pick(r, one); got != one[0] {
					t.Fatalf("Pick(one target) = %v, want %v", got, one[0])
				}
			}
			if got := b.Pick(nil, one); got != one[0] {
				t.Errorf("Pick(nil request) = %v, want %v", got, one[0])
			}
		})
	}
}

// TestPickAfterSetChange checks that balancers caching tables per target set notice every
// kind of new slice: another array, a shorter view of the same array, and one with a
// different length and the same first element.
func TestPickAfterSetChange(t *testing.T) {
	all := targetsOf(1, 2, 3, 4, 5)
	other := targetsOf(5, 1)
	sets := [][]*Target{all, all[:2], all[1:], other, all[:1], all}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b := mustNew(t, name, Options{})
			for _, set := range sets {
				for i := range 50 {
					if got := b.Pick(ipRequest(i), set); !slices.Contains(set, got) {
						t.Fatalf("Pick over %d targets returned %v, not one of them", len(set), got)
					}
				}
			}
		})
	}
}

// TestPickConcurrent runs picks, Begin/End and set changes at once; run it with -race.
func TestPickConcurrent(t *testing.T) {
	sets := [][]*Target{targetsOf(1, 2, 3), targetsOf(4, 1, 1, 2, 7)}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			b := mustNew(t, name, Options{HashKey: "header:X-User"})
			var current atomic.Pointer[[]*Target]
			current.Store(&sets[0])
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for g := range 4 {
				wg.Go(func() {
					for i := range 2000 {
						if g == 0 && i%200 == 0 {
							current.Store(&sets[(i/200)%2])
						}
						set := *current.Load()
						r := ipRequest(i)
						r.Header = httpx.Header{{Name: "X-User", Value: fmt.Sprint(i % 37)}}
						p := b.Pick(r, set)
						if !slices.Contains(set, p) {
							errs <- fmt.Errorf("picked %v, not in the set passed", p)
							return
						}
						p.Begin()
						p.End(0, i%10 == 0)
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
		})
	}
}
