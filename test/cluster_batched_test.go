package test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestClusterBatchedRateLimit runs three aya processes with cluster.sync: batched on one
// redis-server: each node takes the key's tokens in batches and hands them out itself, and
// the limit of 100/s (burst 10) still holds across them within 5%.
func TestClusterBatchedRateLimit(t *testing.T) {
	redis := startRedisServer(t)
	var admitted atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { admitted.Add(1) }))
	defer backend.Close()

	batchedConfig := strings.Replace(clusterConfig, "node: {{NODE}}}", "node: {{NODE}}, sync: batched}", 1)
	nodes := make([]clusterNode, 3)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{BACKEND}}", backend.URL).Replace(batchedConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}

	const rate, burst, tolerance = 100.0, 10.0, 0.05
	took, statuses := driveCluster(t, nodes, 2, 3*time.Second)
	got := float64(admitted.Load())
	want := rate*took.Seconds() + burst
	t.Logf("sync: batched: %v of traffic over 3 nodes, statuses %v: %v admitted, want %.1f (100/s × %.2fs + %v burst): error %+.2f%%",
		took.Round(time.Millisecond), statuses, got, want, took.Seconds(), burst, 100*(got-want)/want)
	if sent := statuses[200] + statuses[429]; float64(sent) < 2*want {
		t.Fatalf("only %d requests answered; the test must send well over the limit", sent)
	}
	if math.Abs(got-want) > tolerance*want {
		t.Fatalf("%v admitted across 3 batched nodes, want %.1f ± 5%%", got, want)
	}
	if statuses[0] > 0 || statuses[503] > 0 {
		t.Fatalf("failed requests: %v", statuses)
	}
	for _, n := range nodes {
		if up := metric(t, n.Admin, "aya_cluster_redis_up"); up != 1 {
			t.Fatalf("node %s: aya_cluster_redis_up %v, want 1 (every decision through Redis's tokens)", n.Admin, up)
		}
	}
}
