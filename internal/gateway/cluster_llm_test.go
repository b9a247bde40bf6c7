package gateway

import (
	"context"
	"log/slog"
	"math"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"aya/internal/cluster"
	"aya/internal/config"
	"aya/internal/llm/serve"
)

// The lease names of testLLMHandler's pools, and their capacities per second.
var testLLMPools = map[string]float64{
	"llm:gpt/oa/gpt-4o:rpm":        10,  // rpm 600: a TPS pool standalone, a request pool in a cluster
	"llm:gpt/oa/gpt-4o:tpm":        100, // tpm 6000: a token pool
	"llm:small/oa/gpt-4o-mini:rpm": 0.5, // rpm 30: a token pool of requests
}

// testLLMHandler builds an LLM handler with the pools of testLLMPools, as a cluster's node
// with clustered.
func testLLMHandler(t *testing.T, clustered bool) *serve.Handler {
	t.Helper()
	text := `listeners: [{name: web, address: "127.0.0.1:0"}]
llm:
  providers: [{name: oa, type: openai, base_url: "http://127.0.0.1:1/v1"}]
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o, rpm: 600, tpm: 6000}]}
    - {name: small, deployments: [{provider: oa, model: gpt-4o-mini, rpm: 30}]}
`
	if clustered {
		text += "cluster: {redis: \"redis://127.0.0.1:1\", node: n1}\n"
	}
	cfg, err := config.Parse("aya.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	h, err := buildLLM(cfg, newLLMState(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

func llmLeasablesOf(h *serve.Handler) map[string]leasable {
	out := map[string]leasable{}
	addLLMLeasables(out, h)
	return out
}

// rpmPoolCapacity is the capacity the handler's rpm-600 pool runs on, per second.
func rpmPoolCapacity(h *serve.Handler) float64 { return h.PoolSnapshots()[0].EffectiveCapacity }

// TestLLMLeasesFallback: every LLM deployment pool gets a lease under a name stable across
// nodes and reloads, and with Redis unreachable runs on its limit ÷ the nodes last seen.
func TestLLMLeasesFallback(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing answers there
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	h := testLLMHandler(t, false)
	pools := llmLeasablesOf(h)
	if len(pools) != len(testLLMPools) {
		t.Fatalf("lease names %v, want those of %v", pools, testLLMPools)
	}
	l := newPoolLeases(client, "n1", 50*time.Millisecond, func() map[string]leasable { return pools }, slog.New(slog.DiscardHandler))
	if got := leaseEvery(pools); got != 250*time.Millisecond {
		t.Fatalf("renewed every %v, want the LLM pools' tick 250ms", got)
	}
	for _, nodes := range []int{0, 2} {
		for _, lp := range l.leased {
			lp.nodes = nodes
		}
		l.renew(context.Background())
		for name, capacity := range testLLMPools {
			v := l.view(name)
			want := capacity / float64(max(nodes, 1))
			if v == nil || math.Abs(v["lease"].(float64)-want) > 1e-9 || v["from_redis"] != false {
				t.Fatalf("last saw %d nodes: %s's lease %v, want %v from the fallback", nodes, name, v, want)
			}
		}
		if got, want := rpmPoolCapacity(h), 10/float64(max(nodes, 1)); math.Abs(got-want) > 1e-9 {
			t.Fatalf("last saw %d nodes: the rpm pool runs on %v/s, want %v", nodes, got, want)
		}
	}
	if !l.down || l.errs == 0 {
		t.Fatalf("down %v, errors %d: want the fallback reported", l.down, l.errs)
	}
}

// TestLLMLeasesThroughRedis runs two nodes' LLM pools on one redis-server: they share every
// deployment limit in halves, never above it, and a node that stops gives its half back.
func TestLLMLeasesThroughRedis(t *testing.T) {
	client := startTestRedis(t)
	var nodes [2]*poolLeases
	var handlers [2]*serve.Handler
	for i := range nodes {
		handlers[i] = testLLMHandler(t, true)
		pools := llmLeasablesOf(handlers[i])
		nodes[i] = newPoolLeases(client, "n"+strconv.Itoa(i), time.Second, func() map[string]leasable { return pools }, slog.New(slog.DiscardHandler))
	}
	nodes[0].start()
	nodes[1].start()
	lease := func(i int, name string) float64 {
		v := nodes[i].view(name)
		if v == nil {
			return 0
		}
		return v["lease"].(float64)
	}
	halves := func() bool {
		ok := true
		for name, capacity := range testLLMPools {
			a, b := lease(0, name), lease(1, name)
			if a+b > capacity+1e-9 {
				t.Fatalf("%s: leases %v + %v, above %v", name, a, b, capacity)
			}
			ok = ok && math.Abs(a-capacity/2) < 1e-6 && math.Abs(b-capacity/2) < 1e-6
		}
		return ok
	}
	for deadline := time.Now().Add(5 * time.Second); !halves(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the leases did not settle in halves within 5s")
		}
	}
	if n := len(handlers[0].PoolSnapshots()); n != 0 {
		t.Fatalf("a cluster node runs %d TPS pools for its rpm, want request pools", n)
	}

	stopped := time.Now()
	nodes[0].close()
	for name, capacity := range testLLMPools {
		for lease(1, name) < capacity-1e-6 {
			if time.Since(stopped) > 3*time.Second {
				t.Fatalf("n0 left 3s ago, yet n1 holds %v of %s's %v", lease(1, name), name, capacity)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("n1 took n0's halves %v after n0 gave its leases back", time.Since(stopped).Round(time.Millisecond))
	nodes[1].close()
}

// fakeLeasable records what the leases do to it.
type fakeLeasable struct {
	set       float64
	inherited leasable
}

func (*fakeLeasable) capacity() float64                 { return 10 }
func (*fakeLeasable) arrivals() (total, recent float64) { return 0, 0 }
func (*fakeLeasable) usage() cluster.Usage              { return cluster.Usage{} }
func (f *fakeLeasable) setCapacity(c float64)           { f.set = c }
func (f *fakeLeasable) inherit(old leasable)            { f.inherited = old }
func (*fakeLeasable) tick() time.Duration               { return 250 * time.Millisecond }
func (*fakeLeasable) metric(float64) prometheus.Metric  { return nil }

// TestLeasesInheritOnReload: a pool that replaces another under the same lease name (a reload)
// takes over the old one's window before it gets its capacity; an unchanged pool does not.
func TestLeasesInheritOnReload(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	defer client.Close()
	old, next := &fakeLeasable{}, &fakeLeasable{}
	cur := old
	l := newPoolLeases(client, "n1", 50*time.Millisecond, func() map[string]leasable { return map[string]leasable{"llm:x": cur} }, slog.New(slog.DiscardHandler))
	l.renew(context.Background())
	l.renew(context.Background())
	if old.inherited != nil || old.set != 10 {
		t.Fatalf("unchanged pool: inherited %v, capacity %v", old.inherited, old.set)
	}
	cur = next
	l.renew(context.Background())
	if next.inherited != leasable(old) || next.set != 10 {
		t.Fatalf("reloaded pool: inherited %v, capacity %v; want the old pool's, 10", next.inherited, next.set)
	}
}
