package serve

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
	"aya/internal/httpx"
	"aya/internal/llm/provider"
	"aya/internal/llm/provider/openai"
)

// BenchmarkServeChat is the handler's whole path for an OpenAI call to an OpenAI-style
// provider on 127.0.0.1 — key, decode, route, encode, the provider round trip, decode,
// account, encode — the demo provider's own work included (it runs in the process).
func BenchmarkServeChat(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, addr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		b.Fatal(err)
	}
	p := openai.New(provider.Options{BaseURL: "http://" + addr.String() + "/v1", Connect: time.Second, FirstByte: 5 * time.Second, Total: 10 * time.Second}, "k")
	defer p.Close()
	m := &Model{Name: "gpt", Strategy: Weighted, Deployments: []*Deployment{{Provider: p, ProviderName: "oa", Model: "gpt-4o-mini", Weight: 1, InputCost: 0.15, OutputCost: 0.6}}}
	h := NewHandler(NewRouter([]*Model{m}, nil, time.Minute), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	for _, stream := range []bool{false, true} {
		name, extra := "non-stream", ""
		if stream {
			name, extra = "stream", `"stream":true,`
		}
		body := `{"model":"gpt",` + extra + `"max_tokens":16,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"say hello to the benchmark"}]}`
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := &httpx.Request{Method: "POST", Path: "/v1/chat/completions", Body: strings.NewReader(body), ContentLength: int64(len(body)), ID: "req-1"}
				w := &recorder{}
				h.ServeHTTPX(w, r)
				if w.status != 200 {
					b.Fatalf("%d %s", w.status, w.body.String())
				}
			}
		})
	}
}
