package serve

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
)

func TestLoadScore(t *testing.T) {
	tests := []struct {
		name, text string
		score      float64
		ok         bool
	}{
		{"vllm", `# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{model_name="a"} 3
vllm:num_requests_running{model_name="b"} 1
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="a"} 2
# TYPE vllm:gpu_cache_usage_perc gauge
vllm:gpu_cache_usage_perc{model_name="a"} 0.5
vllm:gpu_cache_usage_perc{model_name="b"} 0.25
`, 4 + 4*2 + 0.5, true},
		{"llama.cpp", "llamacpp:requests_processing 2\nllamacpp:requests_deferred 1\n", 2 + 4, true},
		{"tgi", "# TYPE tgi_queue_size gauge\ntgi_queue_size 3\ntgi_batch_current_size 5\n", 5 + 12, true},
		{"idle vllm", "vllm:num_requests_running 0\n", 0, true},
		{"no known family", "process_cpu_seconds_total 12\n", 0, false},
	}
	for _, tt := range tests {
		score, ok, err := LoadScore(strings.NewReader(tt.text))
		if err != nil || ok != tt.ok || score != tt.score {
			t.Errorf("%s: score %v ok %v err %v, want %v %v", tt.name, score, ok, err, tt.score, tt.ok)
		}
	}
	if _, _, err := LoadScore(strings.NewReader("vllm:num_requests_running{ 3\n")); err == nil {
		t.Error("garbage parsed without an error")
	}
}

func TestLeastLoaded(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	mk := func(name string, score float64, inflight int64, at time.Time) *Deployment {
		d := &Deployment{Model: name, Load: NewLoad(time.Second)}
		if !at.IsZero() {
			d.Load.set(score, at)
		}
		d.inflight.Store(inflight)
		return d
	}
	tests := []struct {
		name string
		ds   []*Deployment
		want string
	}{
		{"lowest score wins over fewer in flight", []*Deployment{mk("a", 5, 0, now), mk("b", 1, 9, now), mk("c", 3, 0, now)}, "b c a"},
		{"ties by in flight", []*Deployment{mk("a", 2, 3, now), mk("b", 2, 1, now), mk("c", 0.5, 5, now)}, "c b a"},
		{"one never scraped: least_busy for all", []*Deployment{mk("a", 0, 4, now), mk("b", 0, 2, time.Time{}), mk("c", 9, 1, now)}, "c b a"},
		{"stale (older than 3 intervals): least_busy", []*Deployment{mk("a", 0, 4, now.Add(-4*time.Second)), mk("b", 9, 1, now)}, "b a"},
		{"no Load at all", []*Deployment{{Model: "a"}, {Model: "b"}}, "a b"},
	}
	for _, tt := range tests {
		order(LeastLoaded, tt.ds, now)
		if got := strings.Join(names(tt.ds), " "); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestScraperReadsDemoQueue: the scraper reads the local vLLM-style provider's real queue: a
// held request raises the score, and Handler.Close stops the scraper.
func TestScraperReadsDemoQueue(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	srv, addr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAICompatible, llmdemo.Options{TimeToFirstToken: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ld := NewLoad(20 * time.Millisecond)
	h := NewHandler(NewRouter(nil, nil, 0), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	h.Scrape([]*Scraper{{URL: "http://" + addr.String() + "/metrics", Interval: 20 * time.Millisecond, Load: ld, Client: &http.Client{}, Log: slog.New(slog.DiscardHandler)}})
	waitScore := func(cond func(float64) bool) float64 {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) {
			if s, ok := ld.Score(time.Now()); ok && cond(s) {
				return s
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatal("the score never got there")
		return 0
	}
	if s := waitScore(func(float64) bool { return true }); s != 0 {
		t.Fatalf("idle server scored %v", s)
	}
	rctx, rcancel := context.WithCancel(ctx)
	req, _ := http.NewRequestWithContext(rctx, "POST", "http://"+addr.String()+"/v1/chat/completions",
		strings.NewReader(`{"model":"meta-llama/Llama-3.1-8B-Instruct","messages":[{"role":"user","content":"hi"}]}`))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}()
	if s := waitScore(func(s float64) bool { return s >= 1 }); s < 1 || srv.InFlight() != 1 {
		t.Fatalf("busy server scored %v with %d in flight", s, srv.InFlight())
	}
	rcancel()
	<-done
	h.Close() // returns only once the scraper goroutine has ended
	time.Sleep(80 * time.Millisecond)
	if _, ok := ld.Score(time.Now()); ok {
		t.Fatal("the score is still fresh 4 intervals after Close: the scraper kept running")
	}
}

func BenchmarkLoadScore(b *testing.B) {
	b.ReportAllocs()
	text := "vllm:num_requests_running{model_name=\"a\"} 3\nvllm:num_requests_waiting{model_name=\"a\"} 2\nvllm:gpu_cache_usage_perc{model_name=\"a\"} 0.5\n"
	for b.Loop() {
		LoadScore(strings.NewReader(text))
	}
}

func BenchmarkPlanLeastLoaded(b *testing.B) {
	b.ReportAllocs()
	now := time.Now()
	var ds []*Deployment
	for i, s := range []float64{3, 1, 2} {
		d := &Deployment{Model: string(rune('a' + i)), Load: NewLoad(time.Hour)}
		d.Load.set(s, now)
		ds = append(ds, d)
	}
	m := &Model{Name: "m", Strategy: LeastLoaded, Deployments: ds}
	r := NewRouter([]*Model{m}, nil, time.Second)
	for b.Loop() {
		r.Plan(m, 100)
	}
}
