package test

import (
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
    - {name: tok, type: openai, base_url: "{{TOK}}/v1"}
    - {name: req, type: openai, base_url: "{{REQ}}/v1"}
  models:
    - {name: gpt, deployments: [{provider: tok, model: gpt-4o, tpm: {{TPM}}}]}
    - {name: fast, deployments: [{provider: req, model: gpt-4o-mini, rpm: {{RPM}}}]}
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

// poolRun is one deployment of TestClusterLLMPools: its provider, the load on it and what came
// back.
type poolRun struct {
	model, limit string
	perMinute    int
	perNode      int                  // low calls a second on each node
	weigh        func(tokens int) int // what a served call counts against the limit
	provider429  atomic.Int64
	served       servedLog
	lowOK        atomic.Int64
	lowRefused   atomic.Int64
	critOK       atomic.Int64
	critSent     atomic.Int64
	other        atomic.Int64
}

// TestClusterLLMPools runs two aya nodes sharing two deployments' limits through Redis leases,
// each in front of its own local provider enforcing the same limit (it answers 429 past it): a
// tpm of 30000 and an rpm of 600. Low calls are sent to both nodes at about twice each limit's
// rate, with a trickle of critical calls. The providers must answer no 429 and serve at least
// 80% of the limit's rate once the leases settled — but not much more: two nodes that
// each applied the whole limit would send twice its rate. Every critical call is answered.
func TestClusterLLMPools(t *testing.T) {
	const (
		load        = 15 * time.Second
		steadyAfter = 6 * time.Second // the leases settled (the pools start on none, with empty buckets)
	)
	runs := []*poolRun{
		// ~27 tokens a call: ~1000 tokens a second on each node, twice the tpm's 500/s.
		{model: "gpt", limit: "tpm", perMinute: 30000, perNode: 40, weigh: func(n int) int { return n }},
		// 20 calls a second on each node, twice the rpm's 10/s.
		{model: "fast", limit: "rpm", perMinute: 600, perNode: 20, weigh: func(int) int { return 1 }},
	}
	redis := startRedisServer(t)
	urls := make([]string, len(runs))
	for i, run := range runs {
		o := llmdemo.Options{TokensPerSecond: -1, TPM: run.perMinute}
		if run.limit == "rpm" {
			o = llmdemo.Options{TokensPerSecond: -1, RPM: run.perMinute}
		}
		demo := llmdemo.New(llmdemo.OpenAI, o)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			demo.ServeHTTP(&statusCounter{ResponseWriter: w, n: &run.provider429}, r)
		}))
		t.Cleanup(srv.Close)
		urls[i] = srv.URL
	}

	nodes := make([]clusterNode, 2)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{TOK}}", urls[0], "{{REQ}}", urls[1], "{{TPM}}", strconv.Itoa(runs[0].perMinute),
			"{{RPM}}", strconv.Itoa(runs[1].perMinute)).Replace(clusterLLMPoolsConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}

	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer c.CloseIdleConnections()
	var failures sync.Map
	call := func(ctx context.Context, run *poolRun, web, key string, critical bool) {
		body := `{"model":"` + run.model + `","max_tokens":16,"messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the gateway."}]}`
		req, _ := http.NewRequestWithContext(ctx, "POST", "http://"+web+"/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				run.other.Add(1)
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
				run.other.Add(1)
				failures.Store("no usage: "+string(b), true)
				return
			}
			run.served.add(run.weigh(r.Usage.Total))
			if critical {
				run.critOK.Add(1)
			} else {
				run.lowOK.Add(1)
			}
		case resp.StatusCode == 429 && !critical && strings.Contains(string(b), "rate_limit_exceeded"):
			run.lowRefused.Add(1) // aya's refusal (the providers' 429s are counted at the providers)
		default:
			run.other.Add(1)
			failures.Store(fmt.Sprintf("%d %s", resp.StatusCode, b), true)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), load)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for _, n := range nodes {
		for _, run := range runs {
			wg.Go(func() {
				tick := time.NewTicker(time.Second / time.Duration(run.perNode))
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					wg.Go(func() { call(ctx, run, n.web, "sk-low", false) })
					if i%run.perNode == run.perNode/2 { // one critical call a second on each node
						run.critSent.Add(1)
						wg.Go(func() { call(context.Background(), run, n.web, "sk-crit", true) })
					}
				}
			})
		}
	}
	wg.Wait()
	end := time.Now()
	failures.Range(func(k, _ any) bool { t.Logf("failure: %v", k); return true })

	for _, run := range runs {
		rate := float64(run.perMinute) / 60
		steady := float64(run.served.between(start.Add(steadyAfter), start.Add(load))) / (load - steadyAfter).Seconds()
		total := run.served.between(start, end)
		leases := append(llmLeases(t, nodes[0].Admin, run.limit), llmLeases(t, nodes[1].Admin, run.limit)...)
		t.Logf("%s %d: provider %d 429s; served %d in %v (%.1f/s; %.1f/s after %v, %.0f%% of the rate %.1f/s); leases %.0f",
			run.limit, run.perMinute, run.provider429.Load(), total, end.Sub(start).Round(time.Millisecond),
			float64(total)/end.Sub(start).Seconds(), steady, steadyAfter, 100*steady/rate, rate, leases)
		t.Logf("%s calls: low %d ok, %d refused by aya; critical %d of %d ok; %d other", run.limit,
			run.lowOK.Load(), run.lowRefused.Load(), run.critOK.Load(), run.critSent.Load(), run.other.Load())

		if n := run.provider429.Load(); n != 0 {
			t.Errorf("%s: the provider answered 429 %d times; want 0", run.limit, n)
		}
		if steady < 0.8*rate {
			t.Errorf("%s: the provider served %.1f/s once the buckets drained, want at least 80%% of %.1f/s", run.limit, steady, rate)
		}
		// Two nodes each on the whole limit would serve twice its rate; the leases keep it to the
		// rate (the 10% covers the provider's count of tokens against aya's estimates, settled
		// after each call).
		if steady > 1.1*rate {
			t.Errorf("%s: the provider served %.1f/s once the buckets drained, above the rate %.1f/s: the nodes do not share it", run.limit, steady, rate)
		}
		// Both nodes' buckets (10 s of their half each) and the rate over the run, and no more.
		if limit := 1.1 * rate * (end.Sub(start).Seconds() + 10); float64(total) > limit {
			t.Errorf("%s: the provider served %d in %v, above %.0f (the rate over the run and one 10 s bucket)", run.limit, total, end.Sub(start), limit)
		}
		if len(leases) != 2 || leases[0]+leases[1] > float64(run.perMinute)+1e-6 || leases[0] < 0.3*float64(run.perMinute) || leases[1] < 0.3*float64(run.perMinute) {
			t.Errorf("%s: leases %v: want one per node, adding up to at most %d, each near half", run.limit, leases, run.perMinute)
		}
		if run.critOK.Load() != run.critSent.Load() || run.critSent.Load() == 0 {
			t.Errorf("%s: %d of %d critical calls answered; want all", run.limit, run.critOK.Load(), run.critSent.Load())
		}
		if run.lowRefused.Load() == 0 {
			t.Errorf("%s: no low call was refused: the deployment was not saturated", run.limit)
		}
		if run.other.Load() != 0 {
			t.Errorf("%s: %d calls failed otherwise", run.limit, run.other.Load())
		}
	}
}
