package test

import (
	"bufio"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// redisServer is a redis-server the test runs on a fixed loopback port, so that it can be
// killed and started again where the nodes expect it.
type redisServer struct {
	t    *testing.T
	bin  string
	port string
	dir  string
	cmd  *exec.Cmd
	done chan struct{}
}

func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install -y redis-server, as .ci/run does): the cluster test needs a real Redis")
	}
	_, port, _ := net.SplitHostPort(freePort(t))
	r := &redisServer{t: t, bin: bin, port: port, dir: t.TempDir()}
	r.start()
	t.Cleanup(r.kill)
	return r
}

func (r *redisServer) addr() string { return "127.0.0.1:" + r.port }

func (r *redisServer) start() {
	r.t.Helper()
	r.cmd = exec.Command(r.bin, "--bind", "127.0.0.1", "--port", r.port, "--save", "", "--appendonly", "no", "--dir", r.dir)
	if err := r.cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	r.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.cmd, r.done)
	deadline := time.Now().Add(10 * time.Second)
	for !r.answers() {
		if time.Now().After(deadline) {
			r.t.Fatal("redis-server did not answer PING within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// answers sends PING in the protocol's inline form.
func (r *redisServer) answers() bool {
	c, err := net.DialTimeout("tcp", r.addr(), 200*time.Millisecond)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	fmt.Fprint(c, "PING\r\n")
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

func (r *redisServer) kill() {
	if r.cmd == nil {
		return
	}
	r.cmd.Process.Kill()
	<-r.done
	r.cmd = nil
}

const clusterConfig = `
listeners: [{name: web, address: "{{WEB}}"}]
admin: {address: "{{ADMIN}}"}
access_log: {enabled: false}
cluster: {redis: "redis://{{REDIS}}", node: {{NODE}}}
upstreams: [{name: app, targets: [{url: "{{BACKEND}}"}]}]
routes:
  - name: api
    match: {path: "/api/*"}
    policies:
      - rate_limit: {key: route, rate: 100/s, burst: 10}
    upstream: app
`

// clusterNode is one aya of the cluster.
type clusterNode struct {
	*proc
	web string
}

// driveCluster sends requests to every node, round-robin per worker, faster than the limit
// (each worker at most one per 5 ms: up to 200/s a worker), for d. It returns how long the
// traffic ran and the statuses seen.
func driveCluster(t *testing.T, nodes []clusterNode, workersPerNode int, d time.Duration) (time.Duration, map[int]int) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: workersPerNode}}
	defer c.CloseIdleConnections()
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(d)
	for i, n := range nodes {
		for w := range workersPerNode {
			wg.Add(1)
			go func(url string) {
				defer wg.Done()
				local := map[int]int{}
				for time.Now().Before(stop) {
					sent := time.Now()
					resp, err := c.Get(url)
					if err != nil {
						local[0]++
					} else {
						resp.Body.Close()
						local[resp.StatusCode]++
					}
					time.Sleep(5*time.Millisecond - time.Since(sent))
				}
				mu.Lock()
				for k, v := range local {
					statuses[k] += v
				}
				mu.Unlock()
			}(fmt.Sprintf("http://%s/api/%d/%d", n.web, i, w))
		}
	}
	wg.Wait()
	return time.Since(start), statuses
}

// metric reads one unlabelled sample from a node's /metrics.
func metric(t *testing.T, admin, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return f
		}
	}
	t.Fatalf("%s: not in %s/metrics", name, admin)
	return 0
}

// TestClusterGlobalRateLimit runs three aya processes sharing one redis-server: a rate limit
// of 100/s with a burst of 10 on one key holds across them as one limit (counted at the
// backend), GET /cluster lists the three, a dead Redis leaves them serving (fail open, each on
// its own), and a restarted Redis makes the limit global again without restarting aya.
func TestClusterGlobalRateLimit(t *testing.T) {
	redis := startRedisServer(t)
	var admitted atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { admitted.Add(1) }))
	defer backend.Close()

	nodes := make([]clusterNode, 3)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{BACKEND}}", backend.URL).Replace(clusterConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}

	const rate, burst, tolerance = 100.0, 10.0, 0.05
	check := func(phase string, d time.Duration) {
		t.Helper()
		admitted.Store(0)
		took, statuses := driveCluster(t, nodes, 2, d)
		got := float64(admitted.Load())
		want := rate*took.Seconds() + burst
		t.Logf("%s: %v of traffic over 3 nodes, statuses %v: %v admitted, want %.1f (100/s × %.2fs + %v burst): error %+.2f%%",
			phase, took.Round(time.Millisecond), statuses, got, want, took.Seconds(), burst, 100*(got-want)/want)
		if sent := statuses[200] + statuses[429]; float64(sent) < 2*want {
			t.Fatalf("%s: only %d requests answered; the test must send well over the limit", phase, sent)
		}
		if math.Abs(got-want) > tolerance*want {
			t.Fatalf("%s: %v admitted across 3 nodes, want %.1f ± 5%%: the limit is not global", phase, got, want)
		}
		if statuses[0] > 0 || statuses[503] > 0 {
			t.Fatalf("%s: failed requests: %v", phase, statuses)
		}
	}
	check("global limit", 3*time.Second)

	// Membership: one node lists all three.
	var members struct {
		Mode    string `json:"mode"`
		Node    string `json:"node"`
		RedisUp bool   `json:"redis_up"`
		Nodes   []struct {
			Name, Admin string
		} `json:"nodes"`
	}
	resp, err := http.Get("http://" + nodes[0].Admin + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonDecode(resp, &members); err != nil || members.Mode != "redis" || members.Node != "n1" || !members.RedisUp || len(members.Nodes) != 3 ||
		members.Nodes[0].Name != "n1" || members.Nodes[2].Name != "n3" || members.Nodes[2].Admin != nodes[2].Admin {
		t.Fatalf("GET /cluster: %+v %v, want the 3 nodes with their admin addresses", members, err)
	}

	// Redis dies: every node keeps serving, limiting on its own, and says so in its metrics.
	redis.kill()
	admitted.Store(0)
	_, statuses := driveCluster(t, nodes, 1, time.Second)
	if statuses[200] == 0 || statuses[0] > 0 || statuses[503] > 0 {
		t.Fatalf("Redis down: statuses %v, want the nodes to keep serving (fail open)", statuses)
	}
	for _, n := range nodes {
		if up, errs := metric(t, n.Admin, "aya_cluster_redis_up"), metric(t, n.Admin, "aya_cluster_redis_errors_total"); up != 0 || errs < 1 {
			t.Fatalf("Redis down, node %s: aya_cluster_redis_up %v, errors %v; want 0 and at least 1", n.Admin, up, errs)
		}
	}
	// Each node limits itself to 100/s + 10: together up to three times the limit.
	if got := admitted.Load(); got > 3*(110+10) {
		t.Fatalf("Redis down: %d admitted in 1s over 3 nodes, want each node to hold its own 100/s", got)
	}
	t.Logf("Redis down: statuses %v, %d admitted in 1s (each node on its own)", statuses, admitted.Load())

	// Redis comes back on the same port: the nodes notice by themselves, and the limit is
	// global again.
	restarted := time.Now()
	redis.start()
	for _, n := range nodes {
		for metric(t, n.Admin, "aya_cluster_redis_up") != 1 {
			if time.Since(restarted) > 5*time.Second {
				t.Fatalf("node %s: Redis is back for 5s, yet aya_cluster_redis_up is not 1", n.Admin)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	t.Logf("Redis restart: every node decides through Redis again %v after it answers", time.Since(restarted).Round(time.Millisecond))
	check("after the Redis restart", 2*time.Second)

	// A node that stops leaves the list at once.
	nodes[2].stop(5 * time.Second)
	resp, err = http.Get("http://" + nodes[0].Admin + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	if err := jsonDecode(resp, &members); err != nil || len(members.Nodes) != 2 {
		t.Fatalf("GET /cluster after n3 stopped: %+v %v, want n1 and n2", members, err)
	}
}
