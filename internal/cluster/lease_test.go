package cluster

import (
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// leaseSum adds up the leases the hash holds now.
func leaseSum(t *testing.T, c *goredis.Client, key string) float64 {
	t.Helper()
	all, err := c.HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, v := range all {
		f, err := strconv.ParseFloat(strings.Fields(v)[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		sum += f
	}
	return sum
}

// TestLeaseShares renews the leases of a few nodes until they settle, and checks the shares:
// demand first, max-min fair under contention, spare capacity spread evenly.
func TestLeaseShares(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	for i, tc := range []struct {
		name    string
		cap     float64
		demands []float64
		want    []float64
	}{
		{"alone takes it all", 100, []float64{30}, []float64{100}},
		{"demand fits: spare spread evenly", 100, []float64{20, 40}, []float64{40, 60}},
		{"contention: equal halves", 100, []float64{100, 100}, []float64{50, 50}},
		{"unequal demand fits exactly", 100, []float64{80, 20}, []float64{80, 20}},
		{"small demand kept, rest max-min fair", 100, []float64{10, 100, 100}, []float64{10, 45, 45}},
		{"over by unequal demands: rest by unmet demand", 90, []float64{10, 50, 110}, []float64{10, 34, 46}},
		{"idle node", 100, []float64{0, 200}, []float64{0, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leases := make([]*Lease, len(tc.demands))
			for j := range leases {
				l, err := NewLease(c, "pool"+strconv.Itoa(i), "n"+strconv.Itoa(j), LeaseOptions{Hold: 20 * time.Millisecond})
				if err != nil {
					t.Fatal(err)
				}
				leases[j] = l
			}
			got := make([]float64, len(leases))
			// Shrinking leases hold their old size for 20 ms; a few rounds past it settle.
			for round := range 6 {
				for j, l := range leases {
					g, err := l.Renew(ctx, tc.cap, tc.demands[j])
					if err != nil {
						t.Fatal(err)
					}
					if g.Nodes != len(leases) && round > 0 {
						t.Fatalf("round %d: %d nodes, want %d", round, g.Nodes, len(leases))
					}
					got[j] = g.Lease
					if s := leaseSum(t, c, leases[0].key); s > tc.cap+1e-9 {
						t.Fatalf("round %d: leases add up to %v, above the capacity %v", round, s, tc.cap)
					}
				}
				time.Sleep(25 * time.Millisecond)
			}
			for j := range got {
				if math.Abs(got[j]-tc.want[j]) > 1e-6 {
					t.Fatalf("leases %v, want %v", got, tc.want)
				}
			}
		})
	}
}

// TestLeaseNeverOverCommits renews four nodes with random demands, in random order, and checks
// after every renewal that the leases add up to at most the capacity.
func TestLeaseNeverOverCommits(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	const capacity = 100.0
	r := rand.New(rand.NewPCG(1, 2))
	leases := make([]*Lease, 4)
	for j := range leases {
		leases[j], _ = NewLease(c, "random", "n"+strconv.Itoa(j), LeaseOptions{Hold: 5 * time.Millisecond, TTL: 50 * time.Millisecond})
	}
	for i := range 400 {
		j := r.IntN(len(leases))
		g, err := leases[j].Renew(ctx, capacity, r.Float64()*150)
		if err != nil {
			t.Fatal(err)
		}
		if g.Lease < 0 || g.Lease > capacity {
			t.Fatalf("renewal %d: lease %v out of [0, %v]", i, g.Lease, capacity)
		}
		if s := leaseSum(t, c, leases[0].key); s > capacity+1e-9 {
			t.Fatalf("renewal %d: leases add up to %v, above the capacity %v", i, s, capacity)
		}
		if i%50 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
}

// TestLeaseHandover checks the timing: a lease that shrinks counts at its old size for Hold,
// a dead node's lease lapses after TTL, and a released one after Hold.
func TestLeaseHandover(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	const hold, ttl = 150 * time.Millisecond, 400 * time.Millisecond
	newLease := func(node string) *Lease {
		l, err := NewLease(c, "handover", node, LeaseOptions{Hold: hold, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := newLease("a"), newLease("b")
	renew := func(l *Lease, demand, want float64) {
		t.Helper()
		g, err := l.Renew(ctx, 100, demand)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(g.Lease-want) > 1e-6 {
			t.Fatalf("node %s: lease %v, want %v", l.node, g.Lease, want)
		}
	}
	renew(a, 100, 100) // alone
	renew(b, 100, 0)   // a holds everything
	renew(a, 100, 50)  // a shrinks to its fair share…
	renew(b, 100, 0)   // …but its old lease counts for hold
	time.Sleep(hold + 20*time.Millisecond)
	renew(b, 100, 50)

	// a dies: b takes its share once a's lease lapsed.
	renew(b, 100, 50)
	time.Sleep(ttl + 20*time.Millisecond)
	renew(b, 100, 100)

	// a comes back and releases: b may grow again after hold.
	renew(a, 100, 0)
	renew(b, 100, 50)
	renew(a, 100, 0) // b's old lease still counts for hold
	time.Sleep(hold + 20*time.Millisecond)
	renew(a, 100, 50)
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	renew(b, 100, 50) // a's released lease still counts for hold
	time.Sleep(hold + 20*time.Millisecond)
	renew(b, 100, 100)
}

func TestNewLeaseNeedsNames(t *testing.T) {
	if _, err := NewLease(nil, "", "n1", LeaseOptions{}); err == nil {
		t.Fatal("no error for an empty capacity name")
	}
	if _, err := NewLease(nil, "pool", "", LeaseOptions{}); err == nil {
		t.Fatal("no error for an empty node name")
	}
}

func BenchmarkLeaseRenew(b *testing.B) {
	c := startRedis(b)
	ctx := context.Background()
	leases := make([]*Lease, 3)
	for j := range leases {
		leases[j], _ = NewLease(c, "bench", "n"+strconv.Itoa(j), LeaseOptions{})
	}
	b.ReportAllocs()
	for i := range b.N {
		if _, err := leases[i%3].Renew(ctx, 100, 40); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLeaseUsageCounts: what a node reports as used counts against the others like a lease,
// after its lease shrank and after it lapsed, until the window passed; the others then take it.
func TestLeaseUsageCounts(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	const hold, ttl, window = 20 * time.Millisecond, 60 * time.Millisecond, 300 * time.Millisecond
	newLease := func(node string) *Lease {
		l, err := NewLease(c, "usage", node, LeaseOptions{Hold: hold, TTL: ttl})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := newLease("a"), newLease("b")
	renew := func(l *Lease, demand, used, want float64) {
		t.Helper()
		g, err := l.RenewUsage(ctx, 100, demand, Usage{Used: used, Window: window})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(g.Lease-want) > 1e-6 {
			t.Fatalf("node %s: lease %v, want %v", l.node, g.Lease, want)
		}
	}
	renew(a, 100, 0, 100) // alone
	renew(a, 100, 80, 100)
	renew(b, 100, 0, 0) // a's lease counts whole
	time.Sleep(hold + 5*time.Millisecond)
	renew(a, 100, 80, 50) // a's share shrinks to half…
	time.Sleep(hold + 5*time.Millisecond)
	renew(b, 100, 0, 20) // …but b may not take more than a's used leaves
	// a dies: its lease lapses after the TTL, but its used counts until the window passed.
	time.Sleep(ttl + 5*time.Millisecond)
	renew(b, 100, 0, 20)
	time.Sleep(window)
	renew(b, 100, 0, 100)
	// A release keeps the used too.
	renew(a, 0, 30, 0)
	if err := a.Release(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(hold + 5*time.Millisecond)
	renew(b, 100, 0, 70)
	// A plain Renew (b reports nothing used) sees a's used all the same.
	g, err := b.Renew(ctx, 100, 100)
	if err != nil || math.Abs(g.Lease-70) > 1e-6 {
		t.Fatalf("plain renewal: %v %v", g, err)
	}
}

// TestLeaseEntryFormat: a lease without a window keeps the five fields nodes without Usage read
// (a rolling upgrade), also once released; one with a window adds its used and its end.
func TestLeaseEntryFormat(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		u      Usage
		fields int
	}{
		{"no window", Usage{}, 5},
		{"window", Usage{Used: 3, Window: time.Second}, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, _ := NewLease(c, "format-"+strconv.Itoa(tc.fields), "n1", LeaseOptions{})
			for _, release := range []bool{false, true} {
				if release {
					if err := l.Release(ctx); err != nil {
						t.Fatal(err)
					}
				} else if _, err := l.RenewUsage(ctx, 100, 10, tc.u); err != nil {
					t.Fatal(err)
				}
				v, err := c.HGet(ctx, l.key, "n1").Result()
				if err != nil {
					t.Fatal(err)
				}
				if n := len(strings.Fields(v)); n != tc.fields {
					t.Fatalf("released %v: entry %q has %d fields, want %d", release, v, n, tc.fields)
				}
			}
		})
	}
}
