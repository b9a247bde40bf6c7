package test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
)

const clusterLLMPoolsConfig = `
listeners: [{name: web, address: "{{WEB}}"}]
admin: {address: "{{ADMIN}}"}
access_log: {enabled: false}
cluster: {redis: "redis://{{REDIS}}", node: {{NODE}}}
llm:
  queue_timeout: 2s
  providers:
    - {name: oa, type: openai, base_url: "{{PROVIDER}}/v1"}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o, tpm: {{TPM}}}]}
  keys:
    - {key: sk-low, name: bulk, priority: low}
    - {key: sk-crit, name: pager, priority: critical}
`

// servedLog records the tokens of every answered call (the provider's usage) and when.
type servedLog struct {
	mu     sync.Mutex
	at     []time.Time
	tokens []int
}

func (s *servedLog) add(n int) {
	s.mu.Lock()
	s.at, s.tokens = append(s.at, time.Now()), append(s.tokens, n)
	s.mu.Unlock()
}

// between sums the tokens answered within [from, to).
func (s *servedLog) between(from, to time.Time) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	sum := 0
	for i, t := range s.at {
		if !t.Before(from) && t.Before(to) {
			sum += s.tokens[i]
		}
	}
	return sum
}

// llmLeases reads a node's aya_llm_cluster_lease series of limit from its metrics.
func llmLeases(t *testing.T, admin, limit string) []float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []float64
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "aya_llm_cluster_lease{") || !strings.Contains(line, `limit="`+limit+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		out = append(out, v)
	}
	return out
}

// TestClusterLLMPools runs two aya nodes sharing one deployment's tpm through Redis leases, in
// front of one local provider that enforces the same tpm (it answers 429 past it). Low calls
// are sent to both nodes at well above the tpm, with a trickle of critical calls. The provider
// must answer no 429, and serve at least 80% of the tpm's rate once the nodes' buckets drained
// — but not much more: two nodes that each applied the whole tpm would send twice its rate.
// Every critical call is answered.
func TestClusterLLMPools(t *testing.T) {
	const (
		tpm         = 30000 // 500 tokens a second
		perNode     = 40    // low calls a second on each node: ~1000 tokens a second, twice the tpm's rate
		load        = 15 * time.Second
		steadyAfter = 6 * time.Second // a node's 10 s bucket (of its half) has drained by then
	)
	redis := startRedisServer(t)
	demo := llmdemo.New(llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1, TPM: tpm})
	var provider429 atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		demo.ServeHTTP(&statusCounter{ResponseWriter: w, n: &provider429}, r)
	}))
	t.Cleanup(srv.Close)

	nodes := make([]clusterNode, 2)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{PROVIDER}}", srv.URL, "{{TPM}}", strconv.Itoa(tpm)).Replace(clusterLLMPoolsConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	defer c.CloseIdleConnections()
	body := []byte(`{"model":"gpt","max_tokens":16,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the gateway."}]}`)
	served := &servedLog{}
	var lowOK, lowRefused, critOK, critSent, other atomic.Int64
	var failures sync.Map
	call := func(ctx context.Context, web, key string, critical bool) {
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+web+"/v1/chat/completions", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				other.Add(1)
				failures.Store(err.Error(), true)
			}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 200:
			var r struct {
				Usage struct {
					Total int `json:"total_tokens"`
				} `json:"usage"`
			}
			if err := json.Unmarshal(b, &r); err != nil || r.Usage.Total <= 0 {
				other.Add(1)
				failures.Store("no usage: "+string(b), true)
				return
			}
			served.add(r.Usage.Total)
			if critical {
				critOK.Add(1)
			} else {
				lowOK.Add(1)
			}
		case resp.StatusCode == 429 && !critical && strings.Contains(string(b), "rate_limit_exceeded"):
			lowRefused.Add(1) // aya's refusal (the provider's 429s are counted at the provider)
		default:
			other.Add(1)
			failures.Store(fmt.Sprintf("%d %s", resp.StatusCode, b), true)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), load)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, n := range nodes {
		wg.Go(func() {
			tick := time.NewTicker(time.Second / perNode)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				wg.Go(func() { call(ctx, n.web, "sk-low", false) })
				if i%perNode == perNode/2 { // one critical call a second on each node
					critSent.Add(1)
					wg.Go(func() { call(context.Background(), n.web, "sk-crit", true) })
				}
			}
		})
	}
	wg.Wait()
	end := time.Now()

	rate := float64(tpm) / 60
	steady := float64(served.between(start.Add(steadyAfter), start.Add(load))) / (load - steadyAfter).Seconds()
	total := served.between(start, end)
	leases := append(llmLeases(t, nodes[0].Admin, "tpm"), llmLeases(t, nodes[1].Admin, "tpm")...)
	t.Logf("provider: %d 429s; served %d tokens in %v (%.0f/s; %.0f/s after %v, %.0f%% of the tpm's %.0f/s); leases %.0f of %d tpm",
		provider429.Load(), total, end.Sub(start).Round(time.Millisecond), float64(total)/end.Sub(start).Seconds(),
		steady, steadyAfter, 100*steady/rate, rate, leases, tpm)
	t.Logf("calls: low %d ok, %d refused by aya; critical %d of %d ok; %d other", lowOK.Load(), lowRefused.Load(), critOK.Load(), critSent.Load(), other.Load())
	failures.Range(func(k, _ any) bool { t.Logf("failure: %v", k); return true })

	if n := provider429.Load(); n != 0 {
		t.Errorf("the provider answered 429 %d times; want 0", n)
	}
	if steady < 0.8*rate {
		t.Errorf("the provider served %.0f tokens/s once the buckets drained, want at least 80%% of %.0f/s", steady, rate)
	}
	// Two nodes each on the whole tpm would serve twice its rate; the leases keep it to the rate
	// (the 10% covers the provider's count against aya's estimates, settled after each call).
	if steady > 1.1*rate {
		t.Errorf("the provider served %.0f tokens/s once the buckets drained, above the tpm's %.0f/s: the nodes do not share it", steady, rate)
	}
	// Both nodes' buckets (10 s of their half each) and the load's rate, and no more.
	if limit := 1.1 * rate * (end.Sub(start).Seconds() + 10); float64(total) > limit {
		t.Errorf("the provider served %d tokens in %v, above %.0f (the tpm's rate over the run and one 10 s bucket)", total, end.Sub(start), limit)
	}
	if len(leases) != 2 || leases[0]+leases[1] > tpm+1e-6 || leases[0] < 0.3*tpm || leases[1] < 0.3*tpm {
		t.Errorf("leases %v: want one per node, adding up to at most %d, each near half", leases, tpm)
	}
	if critOK.Load() != critSent.Load() || critSent.Load() == 0 {
		t.Errorf("%d of %d critical calls answered; want all", critOK.Load(), critSent.Load())
	}
	if lowRefused.Load() == 0 {
		t.Error("no low call was refused: the deployment was not saturated")
	}
	if other.Load() != 0 {
		t.Errorf("%d calls failed otherwise", other.Load())
	}
}
