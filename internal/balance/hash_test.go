package balance

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"testing"

	"aya/internal/httpx"
)

// pickAll picks once per request; every pick sees the same slice, so tables are built once.
func pickAll(b Balancer, targets []*Target, keys int) []*Target {
	picks := make([]*Target, keys)
	for i := range picks {
		picks[i] = b.Pick(ipRequest(i), targets)
	}
	return picks
}

// TestHashProportions checks each target's share of 100k distinct client IPs. ip_hash and
// maglev split the key space exactly by weight (the weight line, the table's slot counts),
// so only key sampling noise remains (σ ≤ 0.0016 at 100k keys) and the 1% bound holds.
// A ring only approximates: a target's arc is the sum of its k random gaps, whose relative
// standard deviation is 1/√k; the bound is three of those plus three σ of sampling noise.
func TestHashProportions(t *testing.T) {
	const keys = 100_000
	for _, name := range []string{"ip_hash", "consistent_hash", "maglev"} {
		for _, weights := range [][]int{{5, 3, 2}, {1, 1, 1, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 4}} {
			t.Run(fmt.Sprintf("%s/%v", name, weights), func(t *testing.T) {
				targets := targetsOf(weights...)
				counts := indexCounts(t, targets, pickAll(mustNew(t, name, Options{}), targets, keys))
				if name != "consistent_hash" {
					checkShares(t, counts, weights, 0.01)
					return
				}
				wsum := 0
				for _, w := range weights {
					wsum += w
				}
				points := make([]int, len(targets))
				for _, owner := range buildRing(targets, DefaultVirtualNodes, maxRingPoints).owners {
					points[owner]++
				}
				for i, w := range weights {
					want := float64(w) / float64(wsum)
					tol := 3*want/math.Sqrt(float64(points[i])) + 3*math.Sqrt(want*(1-want)/keys)
					if got := float64(counts[i]) / keys; math.Abs(got-want) > tol {
						t.Errorf("target %d (weight %d): share %.4f, want %.4f ± %.4f", i, w, got, want, tol)
					}
				}
			})
		}
	}
}

// TestHashMovement removes each target of N in turn and checks how many of 10k keys move:
// at most 1/N + 2% overall. On a ring only the removed target's keys may move; Maglev
// rebuilds its table and may shift a few more, which the paper bounds as small — here at
// most 1% of all keys.
func TestHashMovement(t *testing.T) {
	const keys = 10_000
	tests := []struct {
		algorithm        string
		survivorsMayMove float64
	}{
		{"consistent_hash", 0},
		{"maglev", 0.01},
	}
	for _, tt := range tests {
		for _, n := range []int{5, 10} {
			for removed := range n {
				t.Run(fmt.Sprintf("%s/N=%d/remove=%d", tt.algorithm, n, removed), func(t *testing.T) {
					all := targetsOf(make([]int, n)...)
					rest := slices.Delete(slices.Clone(all), removed, removed+1)
					b := mustNew(t, tt.algorithm, Options{})
					before := pickAll(b, all, keys)
					after := pickAll(b, rest, keys)
					moved, survivorsMoved := 0, 0
					for k := range keys {
						if before[k] != after[k] {
							moved++
							if before[k] != all[removed] {
								survivorsMoved++
							}
						}
					}
					if limit := 1/float64(n) + 0.02; float64(moved)/keys > limit {
						t.Errorf("%d of %d keys moved (%.4f), want at most %.4f", moved, keys, float64(moved)/keys, limit)
					}
					if float64(survivorsMoved)/keys > tt.survivorsMayMove {
						t.Errorf("%d keys of unchanged targets moved, want at most %.0f", survivorsMoved, tt.survivorsMayMove*keys)
					}
				})
			}
		}
	}
}

// TestHashKeySources checks that each HashKey reads its part of the request: requests that
// share the key go to one target whatever their client IP, and distinct keys spread.
func TestHashKeySources(t *testing.T) {
	tests := []struct {
		hashKey string
		with    func(r *httpx.Request, key string)
	}{
		{"header:X-User", func(r *httpx.Request, key string) { r.Header.Add("x-user", key) }},
		{"cookie:sid", func(r *httpx.Request, key string) { r.Header.Add("Cookie", "a=b; sid="+key+"; c=d") }},
		{"query:user", func(r *httpx.Request, key string) { r.Query = "a=1&user=" + key }},
		{"path", func(r *httpx.Request, key string) { r.Path = "/u/" + key }},
		{"ip", func(r *httpx.Request, key string) {
			r.ClientIP = netip.MustParseAddr("192.0.2.1").Next()
			for range len(key) {
				r.ClientIP = r.ClientIP.Next()
			}
		}},
	}
	targets := targetsOf(1, 1, 1, 1, 1)
	for _, tt := range tests {
		for _, algorithm := range []string{"ip_hash", "consistent_hash", "maglev"} {
			t.Run(algorithm+"/"+tt.hashKey, func(t *testing.T) {
				b := mustNew(t, algorithm, Options{HashKey: tt.hashKey})
				seen := map[*Target]bool{}
				for k := range 200 {
					key := fmt.Sprintf("%0*d", k+1, k) // distinct keys of distinct lengths
					var first *Target
					for client := range 5 {
						r := ipRequest(1000 + client)
						if tt.hashKey == "ip" {
							r = &httpx.Request{Path: "/"}
						}
						tt.with(r, key)
						p := b.Pick(r, targets)
						if first == nil {
							first = p
						} else if p != first {
							t.Fatalf("key %q went to %s and %s", key, first.Name, p.Name)
						}
					}
					seen[first] = true
				}
				if len(seen) != len(targets) {
					t.Fatalf("200 keys reached %d of %d targets", len(seen), len(targets))
				}
			})
		}
	}
}

// TestHashKeyFallbacks: without the key a request is hashed by its client IP, then by its TCP
// peer; with neither, requests rotate over the targets.
func TestHashKeyFallbacks(t *testing.T) {
	targets := targetsOf(1, 1, 1, 1, 1)
	for _, algorithm := range []string{"ip_hash", "consistent_hash", "maglev"} {
		t.Run(algorithm, func(t *testing.T) {
			b := mustNew(t, algorithm, Options{HashKey: "header:X-User"})
			byIP := map[*Target]bool{}
			for i := range 100 {
				noKey := ipRequest(i)
				emptyKey := ipRequest(i)
				emptyKey.Header.Add("X-User", "")
				peerOnly := &httpx.Request{RemoteAddr: netip.AddrPortFrom(noKey.ClientIP, 40000)}
				p := b.Pick(noKey, targets)
				if b.Pick(emptyKey, targets) != p || b.Pick(peerOnly, targets) != p {
					t.Fatalf("client %v: keyless, empty-key and peer-only requests went to different targets", noKey.ClientIP)
				}
				byIP[p] = true
			}
			if len(byIP) < len(targets) {
				t.Fatalf("100 client IPs reached %d of %d targets", len(byIP), len(targets))
			}
			anonymous := make([]*Target, 1000)
			for i := range anonymous {
				anonymous[i] = b.Pick(&httpx.Request{}, targets)
			}
			checkShares(t, indexCounts(t, targets, anonymous), []int{1, 1, 1, 1, 1}, 0.05)
		})
	}
}

// TestIPHashStable: one client keeps its target across picks, balancer instances (a reload)
// and slices with the same targets, and whether it arrives over IPv4 or IPv4-mapped IPv6.
func TestIPHashStable(t *testing.T) {
	targets := targetsOf(1, 2, 1, 3)
	for _, algorithm := range []string{"ip_hash", "consistent_hash", "maglev"} {
		t.Run(algorithm, func(t *testing.T) {
			first := mustNew(t, algorithm, Options{})
			again, clone := mustNew(t, algorithm, Options{}), slices.Clone(targets)
			for i := range 200 {
				r := ipRequest(i * 7919)
				want := first.Pick(r, targets)
				mapped := &httpx.Request{ClientIP: netip.AddrFrom16(r.ClientIP.As16())}
				for range 3 {
					if got := first.Pick(r, targets); got != want {
						t.Fatalf("client %v moved from %s to %s", r.ClientIP, want.Name, got.Name)
					}
				}
				if got := again.Pick(r, clone); got != want {
					t.Fatalf("client %v: new balancer and slice picked %s, first picked %s", r.ClientIP, got.Name, want.Name)
				}
				if got := first.Pick(mapped, targets); got != want {
					t.Fatalf("client %v as %v went to %s, want %s", r.ClientIP, mapped.ClientIP, got.Name, want.Name)
				}
			}
		})
	}
}

// TestHashGolden pins the hash function: changing it would move every sticky client to a
// new target on upgrade, and make instances of different versions disagree.
func TestHashGolden(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
	}{
		{"", 0xff2e69699c4857e},
		{"a", 0x1573177e38558437},
		{"http://10.0.0.1:80#0", 0xbd62fa78f8aab3ab},
		{"a long session cookie value 0123456789", 0x4e698700d7bc5636},
	}
	for _, tt := range tests {
		if got := hash(tt.in); got != tt.want {
			t.Errorf("hash(%q) = %#x, want %#x", tt.in, got, tt.want)
		}
		if got := hash([]byte(tt.in)); got != tt.want {
			t.Errorf("hash([]byte(%q)) = %#x, want %#x", tt.in, got, tt.want)
		}
	}
}

func TestRingSizeBounded(t *testing.T) {
	tests := []struct {
		name      string
		weights   []int
		wantPerWU int // points per weight unit, 0 when weights are scaled instead
	}{
		{"fits", []int{1, 2, 3}, 16},
		{"halved to fit", []int{20, 20, 20}, 4},
		{"absurd weights", []int{maxWeight, maxWeight, 1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			targets := targetsOf(tt.weights...)
			const maxPoints = 256
			rg := buildRing(targets, 16, maxPoints)
			if len(rg.points) > maxPoints+len(targets) {
				t.Fatalf("ring has %d points, want at most %d", len(rg.points), maxPoints+len(targets))
			}
			points := make([]int, len(targets))
			for _, o := range rg.owners {
				points[o]++
			}
			for i, w := range tt.weights {
				if points[i] == 0 {
					t.Fatalf("target %d has no point", i)
				}
				if tt.wantPerWU != 0 && points[i] != w*tt.wantPerWU {
					t.Fatalf("target %d (weight %d) has %d points, want %d", i, w, points[i], w*tt.wantPerWU)
				}
			}
		})
	}
}

// TestMaglevSlotsFollowWeights: the weighted fill gives each target its weight's share of
// the table's slots, off by at most one slot per target.
func TestMaglevSlotsFollowWeights(t *testing.T) {
	for _, weights := range [][]int{{5, 3, 2}, {1, 1, 1}, {1, 100}, {7, 1, 1, 1, 3}} {
		t.Run(fmt.Sprint(weights), func(t *testing.T) {
			slots := make([]int, len(weights))
			for _, owner := range buildMaglev(targetsOf(weights...)) {
				slots[owner]++
			}
			wsum := 0
			for _, w := range weights {
				wsum += w
			}
			for i, w := range weights {
				want := float64(maglevSize) * float64(w) / float64(wsum)
				if math.Abs(float64(slots[i])-want) > float64(len(weights)) {
					t.Errorf("target %d (weight %d) has %d slots, want %.1f ± %d", i, w, slots[i], want, len(weights))
				}
			}
		})
	}
}
