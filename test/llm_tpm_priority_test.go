package test

import (
	"encoding/json"
	"errors"
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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMTPMPriority, through the binary with the official OpenAI SDK: a deployment whose tpm
// (1200, a bucket of 200 tokens refilled at 20 a second) is the bottleneck, on a local provider
// that enforces the same tpm, is flooded with a low-priority key's calls, then a critical key's
// calls arrive. The provider never answers 429 (aya keeps its count under the tpm); every
// critical call is answered; the lows that cannot be served within queue_timeout get aya's 429
// rate_limit_exceeded with Retry-After; the call log shows the calls' priorities.
func TestLLMTPMPriority(t *testing.T) {
	const tpm = 1200
	demo := llmdemo.New(llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1, TPM: tpm})
	var provider429 atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		demo.ServeHTTP(&statusCounter{ResponseWriter: w, n: &provider429}, r)
	}))
	t.Cleanup(srv.Close)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  queue_timeout: 10s
  providers:
    - {name: oa, type: openai, base_url: "%s/v1"}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o, tpm: %d}]}
  keys:
    - {key: sk-low, name: bulk, priority: low}
    - {key: sk-crit, name: pager, priority: critical}
`, web, srv.URL, tpm))
	client := func(key string) openai.Client {
		return openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey(key), option.WithMaxRetries(0))
	}
	type result struct {
		tier string
		err  error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
	)
	fire := func(tier string, c openai.Client, n int) {
		for range n {
			wg.Go(func() {
				_, err := c.Chat.Completions.New(ctxTimeout(t, 60*time.Second), oaParams("gpt"))
				mu.Lock()
				results = append(results, result{tier, err})
				mu.Unlock()
			})
		}
	}
	// Wait until aya answers (a critical call, so the flood below starts on a nearly full bucket).
	warm := client("sk-crit")
	if _, err := warm.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt")); err != nil {
		t.Fatal(err)
	}
	const lows, crits = 60, 5
	start := time.Now()
	fire("low", client("sk-low"), lows)
	time.Sleep(300 * time.Millisecond)
	fire("critical", client("sk-crit"), crits)
	wg.Wait()
	took := time.Since(start)

	served := map[string]int{}
	for _, r := range results {
		if r.err == nil {
			served[r.tier]++
			continue
		}
		var apiErr *openai.Error
		if r.tier != "low" || !errors.As(r.err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" ||
			apiErr.Response.Header.Get("Retry-After") == "" || !strings.Contains(apiErr.Message, "tpm (1200)") {
			t.Fatalf("%s call: %v", r.tier, r.err)
		}
	}
	t.Logf("served %v of %d low and %d critical in %v", served, lows, crits, took)
	if n := provider429.Load(); n != 0 {
		t.Fatalf("the provider answered 429 %d times", n)
	}
	if served["critical"] != crits {
		t.Fatalf("served %v: want every critical call", served)
	}
	if served["low"] == lows {
		t.Fatal("every low call was served: the deployment was not saturated")
	}
	if took > 40*time.Second {
		t.Fatalf("the flood took %v", took)
	}
	// The call log tells the calls' priorities apart.
	r, err := http.Get("http://" + p.Admin + "/llm/calls?key=pager&limit=100")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var log struct {
		Calls []struct {
			Priority string `json:"priority"`
			Batch    bool   `json:"batch"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(r.Body).Decode(&log); err != nil {
		t.Fatal(err)
	}
	if len(log.Calls) != crits+1 {
		t.Fatalf("call log: %d calls of the critical key, want %d", len(log.Calls), crits+1)
	}
	for _, c := range log.Calls {
		if c.Priority != "critical" || c.Batch {
			t.Fatalf("call log: %+v, want priority critical, not batch", c)
		}
	}
	r2, err := http.Get("http://" + p.Admin + "/llm/calls?priority=critical&limit=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Body.Close()
	if err := json.NewDecoder(r2.Body).Decode(&log); err != nil || len(log.Calls) != crits+1 {
		t.Fatalf("GET /llm/calls?priority=critical: %d calls (%v), want %d", len(log.Calls), err, crits+1)
	}
	// The pool's metrics count the critical tokens admitted and the low ones that waited.
	if v := poolMetric(t, p.Admin, "aya_llm_pool_admitted_tokens_total", "critical"); v <= 0 {
		t.Errorf("aya_llm_pool_admitted_tokens_total{tier=critical} = %v", v)
	}
	if v := poolMetric(t, p.Admin, "aya_llm_pool_queued_tokens_total", "low"); v <= 0 {
		t.Errorf("aya_llm_pool_queued_tokens_total{tier=low} = %v", v)
	}
}

// poolMetric sums a pool metric's series of one tier.
func poolMetric(t *testing.T, admin, name, tier string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sum := 0.0
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, `tier="`+tier+`"`) {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}

// statusCounter counts the 429s a handler writes.
type statusCounter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (s *statusCounter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests {
		s.n.Add(1)
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusCounter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
