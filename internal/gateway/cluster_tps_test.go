package gateway

import (
	"context"
	"log/slog"
	"math"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aya/internal/config"
	"aya/internal/tps"
)

// testTPSPool is a running-config pool of capacity 100 with a 10% margin, so its effective
// capacity is 0.9 × its lease.
func testTPSPool(t testing.TB) *tpsPool {
	t.Helper()
	a, err := tps.NewAllocator("waterfill")
	if err != nil {
		t.Fatal(err)
	}
	p, err := tps.NewPool(tps.PoolConfig{Name: "partner", Capacity: 100, Margin: 0.1, Tick: 100 * time.Millisecond,
		Services: []tps.Service{{Name: "api", Priority: tps.High}}}, a)
	if err != nil {
		t.Fatal(err)
	}
	return &tpsPool{cfg: config.TPSPool{Name: "partner", Tick: config.Duration(100 * time.Millisecond)}, pool: p}
}

func effective(p *tpsPool) float64 { return p.pool.Snapshot().EffectiveCapacity }

// leasableOf is a test pool as the leases see it, under its lease name.
func leasableOf(p *tpsPool) map[string]leasable {
	return map[string]leasable{"tps:partner": tpsLeasable{name: "partner", pool: p.pool, every: p.cfg.Tick.D()}}
}

// TestTPSLeasesFallback: with Redis unreachable a node runs its pools on capacity ÷ the nodes
// it last saw (all of it when it never saw any), and says so.
func TestTPSLeasesFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	p := testTPSPool(t)
	l := newPoolLeases(client, "n1", 50*time.Millisecond, func() map[string]leasable { return leasableOf(p) }, slog.New(slog.DiscardHandler))

	for _, tc := range []struct {
		name      string
		lastNodes int
		want      float64
	}{
		{"never saw a node", 0, 90},
		{"last saw three", 3, 30},
		{"last saw two", 2, 45},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if lp := l.leased["tps:partner"]; lp != nil {
				lp.nodes = tc.lastNodes
			}
			l.renew(context.Background())
			if got := effective(p); math.Abs(got-tc.want) > 1e-9 {
				t.Fatalf("effective capacity %v, want %v", got, tc.want)
			}
			v := l.view("tps:partner")
			if v["from_redis"] != false || !l.down || l.errs == 0 {
				t.Fatalf("view %v, down %v, errors %d: want the fallback reported", v, l.down, l.errs)
			}
		})
	}
}

// TestTPSLeasesThroughRedis runs two nodes' leases on one redis-server: equal demand splits
// the capacity in halves, and a node that stops gives its half back to the other.
func TestTPSLeasesThroughRedis(t *testing.T) {
	client := startTestRedis(t)

	nodes := make([]*poolLeases, 2)
	pools := make([]*tpsPool, 2)
	for i := range nodes {
		p := testTPSPool(t)
		pools[i] = p
		nodes[i] = newPoolLeases(client, "n"+strconv.Itoa(i), time.Second, func() map[string]leasable { return leasableOf(p) }, slog.New(slog.DiscardHandler))
	}
	// Both nodes see 200 arrivals per second, twice the capacity.
	arrive := func(d time.Duration) {
		for _, p := range pools {
			for range int(200 * d.Seconds()) {
				p.pool.Arrive(0, 0)
			}
		}
	}
	nodes[0].start()
	nodes[1].start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		arrive(100 * time.Millisecond)
		time.Sleep(100 * time.Millisecond)
		a, b := effective(pools[0]), effective(pools[1])
		if a+b > 90+1e-6 {
			t.Fatalf("effective capacities %v + %v, above 90 (the capacity after the margin)", a, b)
		}
		if math.Abs(a-45) < 1 && math.Abs(b-45) < 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("effective capacities %v and %v after 5s of equal demand, want 45 each", a, b)
		}
	}

	stopped := time.Now()
	nodes[0].close()
	for effective(pools[1]) < 89 {
		arrive(100 * time.Millisecond)
		time.Sleep(100 * time.Millisecond)
		if time.Since(stopped) > 3*time.Second {
			t.Fatalf("n1 left 3s ago, yet n2's effective capacity is %v, want 90", effective(pools[1]))
		}
	}
	t.Logf("n2 took n1's share %v after n1 gave its lease back (hold %v)", time.Since(stopped).Round(time.Millisecond), leaseHold)
	nodes[1].close()
}

func BenchmarkTPSLeaseDemand(b *testing.B) {
	p := testTPSPool(b)
	lp := &leasedPool{}
	src := leasableOf(p)["tps:partner"]
	now := time.Now()
	b.ReportAllocs()
	for i := range b.N {
		lp.demand(src, now.Add(time.Duration(i)*time.Millisecond))
	}
}

// startTestRedis runs a redis-server on a free loopback port for the test (skipping it when
// none is installed) and returns a client of it; both end with the test.
func startTestRedis(t *testing.T) *goredis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install -y redis-server): the lease test needs a real Redis")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + port})
	t.Cleanup(func() { client.Close() })
	for deadline := time.Now().Add(10 * time.Second); client.Ping(context.Background()).Err() != nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
	}
	return client
}
