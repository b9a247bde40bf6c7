package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const clusterTPSConfig = `
listeners: [{name: web, address: "{{WEB}}"}]
admin: {address: "{{ADMIN}}"}
access_log: {enabled: false}
cluster: {redis: "redis://{{REDIS}}", node: {{NODE}}}
upstreams: [{name: partner, targets: [{url: "http://{{UP}}"}], pool: {max_idle: 256}}]
tps:
  pools:
    - name: partner
      capacity: {{CAP}}
      allocator: waterfill
      tick: 250ms
      # Three nodes, the load generator and the upstream share 2 cores here: 5% covers the
      # time between aya's admission and the upstream's count.
      margin: 5%
      queue: {max: 2000, timeout: 2s}
      services: [{name: api, priority: high}]
routes:
  - {name: api, match: {path: "/*"}, tps: {pool: partner, service: api}, upstream: partner}
`

// arrivalLog records when every request reached the upstream, admitted or not.
type arrivalLog struct {
	next  http.Handler
	mu    sync.Mutex
	times []time.Time
}

func (a *arrivalLog) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	a.times = append(a.times, time.Now())
	a.mu.Unlock()
	a.next.ServeHTTP(w, r)
}

// maxPerSecond is the most arrivals in any sliding second within [from, to).
func (a *arrivalLog) maxPerSecond(from, to time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	var ts []time.Time
	for _, t := range a.times {
		if !t.Before(from) && t.Before(to) {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	best, lo := 0, 0
	for hi := range ts {
		for ts[hi].Sub(ts[lo]) >= time.Second {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// tpsLease reads a node's lease on pool "partner" from GET /tps.
func tpsLease(t *testing.T, admin string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/tps")
	if err != nil {
		t.Fatalf("GET /tps on %s: %v", admin, err)
	}
	var body struct {
		Pools []struct {
			Name    string `json:"name"`
			Cluster *struct {
				Lease     float64 `json:"lease"`
				Nodes     int     `json:"nodes"`
				FromRedis bool    `json:"from_redis"`
			} `json:"cluster"`
		} `json:"pools"`
	}
	if err := jsonDecode(resp, &body); err != nil || len(body.Pools) != 1 || body.Pools[0].Cluster == nil || !body.Pools[0].Cluster.FromRedis {
		t.Fatalf("GET /tps on %s: %+v %v, want pool partner with a lease from Redis", admin, body, err)
	}
	return body.Pools[0].Cluster.Lease
}

// TestClusterTPSPoolCap runs three aya nodes sharing one TPS pool of 100/s through Redis
// leases in front of an upstream that allows 100 requests in any sliding second: 240/s offered
// across the nodes, the upstream must see no 429 and at most 100 arrivals in any sliding
// second. Then one node is killed (SIGKILL, so it returns nothing): the two others' leases
// must grow to half the capacity each within the lease TTL (1.25 s at a 250 ms tick) and a
// renewal.
func TestClusterTPSPoolCap(t *testing.T) {
	const capacity, perNode = 100, 80
	redis := startRedisServer(t)
	capped := &cappedUpstream{cap: capacity}
	up := &arrivalLog{next: capped}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: up}
	go srv.Serve(ln)
	defer srv.Close()

	nodes := make([]clusterNode, 3)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{UP}}", ln.Addr().String(), "{{CAP}}", fmt.Sprint(capacity)).Replace(clusterTPSConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}

	// Open-loop load, perNode requests per second on each node, until its context ends.
	var ok, ayaReject, other atomic.Int64
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer c.CloseIdleConnections()
	var wg sync.WaitGroup
	load := func(ctx context.Context, web string) {
		defer wg.Done()
		tick := time.NewTicker(time.Second / perNode)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := c.Get("http://" + web + "/x")
				if err != nil {
					if ctx.Err() == nil {
						other.Add(1)
					}
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == 200:
					ok.Add(1)
				case resp.StatusCode == 429 && strings.Contains(string(b), `"pool":"partner"`):
					ayaReject.Add(1)
				case resp.StatusCode != 429: // upstream 429s are counted by the upstream
					other.Add(1)
				}
			}()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	killCtx, killLoad := context.WithCancel(ctx)
	for i, n := range nodes {
		wg.Add(1)
		if i == 2 {
			go load(killCtx, n.web)
		} else {
			go load(ctx, n.web)
		}
	}

	// Phase 1: three nodes, 240/s offered for a 100/s cap.
	time.Sleep(3 * time.Second) // the leases settle from the first node holding everything
	from, over0, served0 := time.Now(), capped.over.Load(), capped.served.Load()
	time.Sleep(6 * time.Second)
	to := time.Now()
	over, served := capped.over.Load()-over0, capped.served.Load()-served0
	peak := up.maxPerSecond(from, to)
	leases := []float64{tpsLease(t, nodes[0].Admin), tpsLease(t, nodes[1].Admin), tpsLease(t, nodes[2].Admin)}
	rate := float64(served) / to.Sub(from).Seconds()
	t.Logf("3 nodes, %d/s offered: upstream served %.1f/s (%.1f%% of the cap), %d upstream 429s, peak %d in a sliding second; leases %.1f", 3*perNode, rate, rate, over, peak, leases)
	if over != 0 {
		t.Errorf("the upstream answered 429 %d times with 3 nodes; want 0: the cap does not hold across nodes", over)
	}
	if peak > capacity {
		t.Errorf("%d requests reached the upstream in one sliding second, above the cap %d", peak, capacity)
	}
	if rate < 0.8*capacity {
		t.Errorf("upstream served %.1f/s, want at least 80%% of the cap %d: the leases leave capacity unused", rate, capacity)
	}
	if sum := leases[0] + leases[1] + leases[2]; sum > capacity+1e-6 {
		t.Errorf("leases %v add up to %v, above the cap", leases, sum)
	}

	// Phase 2: n3 dies without giving its lease back.
	killed := time.Now()
	nodes[2].cmd.Process.Kill()
	killLoad()
	var took time.Duration
	for {
		a, b := tpsLease(t, nodes[0].Admin), tpsLease(t, nodes[1].Admin)
		if a+b >= capacity-1 {
			took = time.Since(killed)
			t.Logf("n3 killed: n1 and n2 hold %.1f + %.1f after %v", a, b, took.Round(10*time.Millisecond))
			break
		}
		if time.Since(killed) > 5*time.Second {
			t.Fatalf("n3 killed 5s ago, yet n1 and n2 hold only %.1f + %.1f of %d", a, b, capacity)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// TTL 1.25 s, then the next renewal of each survivor (250 ms apart) finds the lease gone.
	const bound = 1250*time.Millisecond + 2*250*time.Millisecond + 250*time.Millisecond
	if took > bound {
		t.Errorf("the survivors took n3's share after %v, want within %v (the lease TTL and two renewals)", took, bound)
	}
	from, over0, served0 = time.Now().Add(time.Second), capped.over.Load(), capped.served.Load()
	time.Sleep(4 * time.Second)
	to = time.Now()
	over, served = capped.over.Load()-over0, capped.served.Load()-served0
	rate = float64(served) / to.Sub(from.Add(-time.Second)).Seconds()
	peak = up.maxPerSecond(from, to)
	t.Logf("2 nodes, %d/s offered: upstream served %.1f/s, %d upstream 429s, peak %d in a sliding second", 2*perNode, rate, over, peak)
	if over != 0 || peak > capacity {
		t.Errorf("after n3 died: %d upstream 429s, peak %d per sliding second; want 0 and at most %d", over, peak, capacity)
	}
	if rate < 0.8*capacity {
		t.Errorf("after n3 died the upstream served %.1f/s, want at least 80%% of the cap: its share was not taken", rate)
	}
	cancel()
	wg.Wait()
	t.Logf("answers: %d ok, %d aya 429, %d other", ok.Load(), ayaReject.Load(), other.Load())
	if other.Load() != 0 {
		t.Errorf("%d requests failed otherwise", other.Load())
	}
}
