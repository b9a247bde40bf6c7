package serve

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
	"aya/internal/llm/provider"
	"aya/internal/llm/provider/openai"
)

// TestStreamFlushPerEvent: events that arrive apart leave apart, each flushed before aya
// waits for the next; a burst that arrives together leaves in fewer writes.
func TestStreamFlushPerEvent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	tests := []struct {
		name       string
		tps        float64
		minFlushes int
		maxFlushes int
	}{
		{"paced", 100, 8, 100}, // 8 tokens 10 ms apart: a flush for each
		{"burst", -1, 1, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: tt.tps})
			if err != nil {
				t.Fatal(err)
			}
			p := openai.New(provider.Options{BaseURL: "http://" + addr.String() + "/v1", Connect: time.Second, FirstByte: 5 * time.Second, Total: 10 * time.Second}, "k")
			defer p.Close()
			m := &Model{Name: "gpt", Strategy: Weighted, Deployments: []*Deployment{{Provider: p, ProviderName: "oa", Model: "gpt-4o", Weight: 1}}}
			h := NewHandler(NewRouter([]*Model{m}, nil, time.Minute), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
			e := &env{h: h}
			w := e.do("POST", "/v1/chat/completions", `{"model":"gpt","stream":true,"max_tokens":8,"messages":[{"role":"user","content":"hi"}]}`)
			out := w.body.String()
			if w.status != 200 || !strings.HasSuffix(out, "data: [DONE]\n\n") {
				t.Fatalf("%d %s", w.status, out)
			}
			if w.flushes < tt.minFlushes || w.flushes > tt.maxFlushes {
				t.Fatalf("%d flushes for %d events, want %d to %d", w.flushes, strings.Count(out, "\n\n"), tt.minFlushes, tt.maxFlushes)
			}
			t.Logf("%d flushes for %d events", w.flushes, strings.Count(out, "\n\n"))
		})
	}
}
