package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/config"
	"aya/internal/state"
	"aya/internal/state/memory"
)

// flakyLimiter is a remote store that fails while down is set and allows everything otherwise.
type flakyLimiter struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (f *flakyLimiter) Allow(ctx context.Context, _ string, l state.Limit, _ time.Time) (state.Decision, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return state.Decision{}, errors.New("dial tcp 127.0.0.1:6379: connection refused")
	}
	return state.Decision{Allowed: true, Limit: l.Burst, Remaining: l.Burst}, nil
}

func newTestClusterLimiter(remote *flakyLimiter, failClosed bool) (*clusterLimiter, *memory.Store) {
	local := memory.New(memory.Options{})
	c := &clusterLimiter{remote: remote, local: local, timeout: 50 * time.Millisecond, failClosed: failClosed,
		ping: func(context.Context) error {
			if remote.down.Load() {
				return errors.New("refused")
			}
			return nil
		},
		log: slog.New(slog.DiscardHandler), stop: make(chan struct{})}
	c.up.Store(true)
	return c, local
}

func TestClusterLimiterFallback(t *testing.T) {
	limit := state.Limit{Algorithm: state.GCRA, Count: 1, Period: time.Hour, Burst: 2}
	ctx := context.Background()
	for _, closed := range []bool{false, true} {
		remote := &flakyLimiter{}
		c, local := newTestClusterLimiter(remote, closed)
		defer local.Close()
		defer c.close()
		for range 5 { // Redis decides: everything passes
			if d, err := c.Allow(ctx, "k", limit, time.Now()); err != nil || !d.Allowed {
				t.Fatalf("closed=%v, Redis up: %+v %v", closed, d, err)
			}
		}
		remote.down.Store(true)
		var allowed, refused int
		for range 5 {
			d, err := c.Allow(ctx, "k", limit, time.Now())
			switch {
			case closed && !errors.Is(err, errRedisDown):
				t.Fatalf("closed, Redis down: %+v %v, want errRedisDown", d, err)
			case !closed && err != nil:
				t.Fatalf("open, Redis down: %v, want the local store to decide", err)
			case d.Allowed:
				allowed++
			default:
				refused++
			}
		}
		if !closed && (allowed != 2 || refused != 3) {
			t.Fatalf("open, Redis down: %d allowed, %d refused; want the local burst of 2", allowed, refused)
		}
		// After the first failure, requests no longer wait on Redis.
		if n := remote.calls.Load(); n != 6 {
			t.Fatalf("Redis was asked %d times, want 5 while up and 1 that failed", n)
		}
		if c.up.Load() || c.errs.Load() < 1 || c.fallbacks.Load() != 5 {
			t.Fatalf("up=%v errors=%d fallbacks=%d, want down, ≥1 error, 5 fallbacks", c.up.Load(), c.errs.Load(), c.fallbacks.Load())
		}
		remote.down.Store(false)
		deadline := time.Now().Add(2 * time.Second)
		for !c.up.Load() {
			if time.Now().After(deadline) {
				t.Fatalf("closed=%v: Redis back, but the limiter did not notice within 2s", closed)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if d, err := c.Allow(ctx, "k", limit, time.Now()); err != nil || !d.Allowed {
			t.Fatalf("closed=%v, Redis back: %+v %v", closed, d, err)
		}
	}
}

func TestClusterLimiterClientLeft(t *testing.T) {
	remote := &flakyLimiter{}
	c, local := newTestClusterLimiter(remote, false)
	defer local.Close()
	defer c.close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	remote.down.Store(true) // the call fails, but because the client left
	if _, err := c.Allow(ctx, "k", state.Limit{Algorithm: state.GCRA, Count: 1, Period: time.Second, Burst: 1}, time.Now()); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled request: %v, want context.Canceled", err)
	}
	if !c.up.Load() || c.errs.Load() != 0 {
		t.Fatal("a client that left marked Redis down")
	}
}

func TestClusterStandalone(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, "listeners: [{name: web, address: \"127.0.0.1:0\"}]\nupstreams: [{name: app, targets: [{url: \"{{BACKEND}}\"}]}]\nroutes: [{name: r, upstream: app}]\nadmin: {address: \"127.0.0.1:0\"}\n", be.URL)
	resp, err := http.Get("http://" + g.admin.addr() + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got) != 1 || got["mode"] != "standalone" {
		t.Fatalf("GET /cluster without cluster: %d %v %v, want {\"mode\": \"standalone\"}", resp.StatusCode, got, err)
	}
}

// BenchmarkClusterLimiter is what the cluster wrapper adds to a decision (its timeout
// context), over a remote that answers at once.
func BenchmarkClusterLimiter(b *testing.B) {
	c, local := newTestClusterLimiter(&flakyLimiter{}, false)
	defer local.Close()
	defer c.close()
	ctx := context.Background()
	l := state.Limit{Algorithm: state.GCRA, Count: 1e9, Period: time.Second, Burst: 1e6}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		c.Allow(ctx, "k", l, now)
	}
}

// TestClusterRedisDown wires cluster: to a Redis that refuses connections: rate-limited routes
// fail open (the node limits on its own) or closed (503) as on_redis_down says, and the admin
// API says Redis is down.
func TestClusterRedisDown(t *testing.T) {
	be := backend(t)
	for _, mode := range []string{"open", "closed"} {
		g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "{{BACKEND}}"}]}]
routes: [{name: r, upstream: app, policies: [{rate_limit: {key: route, rate: 1/h, burst: 2}}]}]
admin: {address: "127.0.0.1:0"}
access_log: {enabled: false}
cluster: {redis: "redis://127.0.0.1:1", node: n1, on_redis_down: `+mode+`}
`, be.URL)
		var codes []int
		for range 3 {
			resp, err := http.Get("http://" + g.Addr("web") + "/x")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			codes = append(codes, resp.StatusCode)
		}
		want := []int{200, 200, 429} // the node's own bucket of 2
		if mode == "closed" {
			want = []int{503, 503, 503}
		}
		if fmt.Sprint(codes) != fmt.Sprint(want) {
			t.Fatalf("on_redis_down %s: %v, want %v", mode, codes, want)
		}
		resp, err := http.Get("http://" + g.admin.addr() + "/cluster")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 503 {
			t.Fatalf("GET /cluster with Redis down: %d, want 503", resp.StatusCode)
		}
		if c := g.cluster.limiter; c.up.Load() || c.errs.Load() < 1 || c.fallbacks.Load() != 3 {
			t.Fatalf("on_redis_down %s: up=%v errors=%d fallbacks=%d", mode, c.up.Load(), c.errs.Load(), c.fallbacks.Load())
		}
	}
}

func TestNewRedisClient(t *testing.T) {
	cases := []struct {
		url     string
		cluster bool
		want    string // the client's type, or a piece of the error
	}{
		{"redis://127.0.0.1:6379/2", false, "*redis.Client"},
		{"unix:///run/redis.sock", false, "*redis.Client"},
		{"redis://s1:26379?addr=s2:26379&master_name=main", false, "*redis.Client"}, // a failover client
		{"redis://n1:7000?addr=n2:7000", true, "*redis.ClusterClient"},
		{"redis://u:hunter2@h:1?nope=1", false, "redis URL is not usable"},
	}
	for _, tc := range cases {
		c, err := newRedisClient(&config.Cluster{Redis: tc.url, RedisCluster: tc.cluster, Timeout: config.Duration(50 * time.Millisecond)})
		got := ""
		if err != nil {
			got = err.Error()
			if strings.Contains(got, "hunter2") {
				t.Errorf("%s: the error repeats the password: %v", tc.url, err)
			}
		} else {
			got = fmt.Sprintf("%T", c)
			c.Close()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("%s (cluster %v): %s, want %s", tc.url, tc.cluster, got, tc.want)
		}
	}
}

// TestRateLimitOnRedisDownPerPolicy: a policy's own on_redis_down wins over the cluster's, both
// ways, on one node with Redis unreachable.
func TestRateLimitOnRedisDownPerPolicy(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: app, targets: [{url: "{{BACKEND}}"}]}]
routes:
  - {name: strict, match: {path: "/strict"}, upstream: app, policies: [{rate_limit: {key: route, rate: 1/h, burst: 2, on_redis_down: closed}}]}
  - {name: lenient, match: {path: "/lenient"}, upstream: app, policies: [{rate_limit: {key: route, rate: 1/h, burst: 2}}]}
admin: {address: "127.0.0.1:0"}
access_log: {enabled: false}
cluster: {redis: "redis://127.0.0.1:1", node: n1, on_redis_down: open}
`, be.URL)
	get := func(path string) int {
		resp, err := http.Get("http://" + g.Addr("web") + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	var strict, lenient []int
	for range 3 {
		strict, lenient = append(strict, get("/strict")), append(lenient, get("/lenient"))
	}
	if fmt.Sprint(strict) != "[503 503 503]" || fmt.Sprint(lenient) != "[200 200 429]" {
		t.Fatalf("Redis down: strict (closed) %v, lenient (the cluster's open) %v", strict, lenient)
	}
}
