package test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMPriority, through the binary with the official OpenAI SDK: a deployment whose rpm (300,
// five calls a second) is the bottleneck is flooded with a low-priority key's calls, then batch
// calls, then a high-priority key's calls and one call that raises itself to critical with
// x-aya-priority. Every high and critical call is answered, ahead of the lows still waiting;
// lows that cannot be served within queue_timeout get 429 rate_limit_exceeded with Retry-After;
// batch calls are never refused and come after every high call.
func TestLLMPriority(t *testing.T) {
	_, addr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  queue_timeout: 1500ms
  providers:
    - {name: oa, type: openai, base_url: "http://%s/v1"}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o, rpm: 300}]}
  keys:
    - {key: sk-low, name: bulk, priority: low}
    - {key: sk-high, name: app, priority: high}
    - {key: sk-any, name: ops, allow_priority_header: true}
    - {key: sk-batch, name: nightly, batch: true}
`, web, addr))
	client := func(key string, opts ...option.RequestOption) openai.Client {
		return openai.NewClient(append([]option.RequestOption{option.WithBaseURL("http://" + web + "/v1/"),
			option.WithAPIKey(key), option.WithMaxRetries(0)}, opts...)...)
	}
	// Wait until aya answers, and let the pool's tokens fill up again after it.
	warm := client("sk-high")
	if _, err := warm.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)

	type result struct {
		tier  string
		err   error
		order int // completion rank among all calls
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
				results = append(results, result{tier, err, len(results)})
				mu.Unlock()
			})
		}
	}
	const lows, batches, highs = 20, 4, 6
	fire("low", client("sk-low"), lows)
	time.Sleep(100 * time.Millisecond)
	fire("batch", client("sk-batch"), batches)
	time.Sleep(100 * time.Millisecond)
	fire("high", client("sk-high"), highs)
	fire("critical", client("sk-any", option.WithHeader("x-aya-priority", "critical")), 1)
	wg.Wait()

	served := map[string]int{}
	lastHigh, firstBatch := -1, len(results)
	for _, r := range results {
		if r.err == nil {
			served[r.tier]++
			switch r.tier {
			case "high", "critical":
				lastHigh = max(lastHigh, r.order)
			case "batch":
				firstBatch = min(firstBatch, r.order)
			}
			continue
		}
		var apiErr *openai.Error
		if r.tier != "low" || !errors.As(r.err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "rate_limit_exceeded" ||
			apiErr.Response.Header.Get("Retry-After") == "" {
			t.Fatalf("%s call: %v", r.tier, r.err)
		}
	}
	t.Logf("served %v of %d low, %d batch, %d high, 1 critical", served, lows, batches, highs)
	if served["high"] != highs || served["critical"] != 1 || served["batch"] != batches {
		t.Fatalf("served %v: want every high, critical and batch call", served)
	}
	if served["low"] == lows {
		t.Fatalf("every low call was served: the deployment was not saturated")
	}
	if lastHigh > firstBatch {
		t.Fatalf("a batch call finished before the last high one (%d > %d)", lastHigh, firstBatch)
	}
	// The lows already holding capacity when the highs came finish first; after the first high,
	// at most a couple of lows (a tick's tokens) finish before the last high.
	firstHigh := -1
	for _, r := range results {
		if r.err == nil && (r.tier == "high" || r.tier == "critical") && (firstHigh < 0 || r.order < firstHigh) {
			firstHigh = r.order
		}
	}
	between := 0
	for _, r := range results {
		if r.err == nil && r.tier == "low" && r.order > firstHigh && r.order < lastHigh {
			between++
		}
	}
	if between > 2 {
		t.Fatalf("%d low calls finished among the high ones", between)
	}
}
