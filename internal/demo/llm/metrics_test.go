package llmdemo

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// scrape reads one gauge from the Prometheus text at base/metrics.
func scrape(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(?:\{[^}]*\})? (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in\n%s", name, body)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestMetricsFollowLoad(t *testing.T) {
	s, base := start(t, OpenAICompatible, Options{MaxRunning: 1, TimeToFirstToken: 300 * time.Millisecond, TokensPerSecond: -1})
	body := `{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"load me"}]}`
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			// t.Fatal must not run off the test goroutine, so errors surface as missing load.
			resp, err := http.Post(base+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	deadline := time.Now().Add(2 * time.Second)
	for scrape(t, base, "vllm:num_requests_waiting") != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("waiting never reached 2 (in flight %d)", s.InFlight())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if r, c := scrape(t, base, "vllm:num_requests_running"), scrape(t, base, "vllm:gpu_cache_usage_perc"); r != 1 || c <= 0 || c > 1 {
		t.Fatalf("running %v cache %v", r, c)
	}
	if scrape(t, base, "llamacpp:requests_deferred") != 2 {
		t.Fatal("llama.cpp deferred gauge disagrees")
	}
	wg.Wait()
	for _, g := range []string{"vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:gpu_cache_usage_perc"} {
		if v := scrape(t, base, g); v != 0 {
			t.Fatalf("%s = %v after the load", g, v)
		}
	}
	if s.Requests() != 3 {
		t.Fatalf("requests %d", s.Requests())
	}
}
