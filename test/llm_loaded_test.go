package test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMLeastLoaded: two local vLLM-style servers behind a least_loaded model. Slow streams
// sent straight to one server (so aya's own in-flight counts cannot see them) show up in its
// scraped metrics, and aya's calls go to the other; when the load moves, the calls follow.
func TestLLMLeastLoaded(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const model = "meta-llama/Llama-3.1-8B-Instruct"
	var addrs [2]string
	var srvs [2]*llmdemo.Server
	for i := range srvs {
		srvs[i], addrs[i] = startProvider(t, llmdemo.OpenAICompatible, llmdemo.Options{Name: fmt.Sprintf("v%d", i), TokensPerSecond: 20, MaxRunning: 2})
	}
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - {name: v0, type: openai_compatible, base_url: "http://%s/v1", metrics: {url: "http://%s/metrics", interval: 100ms}}
    - {name: v1, type: openai_compatible, base_url: "http://%s/v1", metrics: {interval: 100ms, url: "http://%s/metrics"}}
  models:
    - name: local
      strategy: least_loaded
      deployments: [{provider: v0, model: %q}, {provider: v1, model: %q}]
`, web, addrs[0], addrs[0], addrs[1], addrs[1], model, model))

	// keepBusy keeps n slow streams (and so a queue: MaxRunning is 2) on server i, each
	// started again when it ends, until the returned func is called.
	keepBusy := func(i, n int) func() {
		bctx, bcancel := context.WithCancel(ctx)
		done := make(chan struct{}, n)
		for range n {
			go func() {
				defer func() { done <- struct{}{} }()
				body := fmt.Sprintf(`{"model":%q,"stream":true,"messages":[{"role":"user","content":"write a long story"}]}`, model)
				for bctx.Err() == nil {
					req, _ := http.NewRequestWithContext(bctx, "POST", "http://"+addrs[i]+"/v1/chat/completions", strings.NewReader(body))
					if resp, err := http.DefaultClient.Do(req); err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
			}()
		}
		deadline := time.Now().Add(5 * time.Second)
		for srvs[i].InFlight() < int64(n) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		time.Sleep(350 * time.Millisecond) // a few scrapes
		return func() {
			bcancel()
			for range n {
				<-done
			}
		}
	}
	call := func() string {
		t.Helper()
		body := `{"model":"local","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}`
		req, _ := http.NewRequestWithContext(ctxTimeout(t, 10*time.Second), "POST", "http://"+web+"/v1/chat/completions", strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header.Get("X-Aya-Provider")
	}
	for busy, free := range []string{"v1", "v0"} {
		release := keepBusy(busy, 3)
		for i := range 8 {
			if got := call(); got != free {
				release()
				t.Fatalf("v%d busy (%d in flight): call %d went to %s, want %s", busy, srvs[busy].InFlight(), i, got, free)
			}
		}
		release()
	}
}
