package serve

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"aya/internal/llm"
)

// brokenProvider streams a start and one piece of text, then fails.
type brokenProvider struct{}

func (brokenProvider) Chat(context.Context, *llm.Request, string) (*llm.Response, error) {
	return nil, llm.Errorf(500, llm.ErrServer, "unused")
}

func (brokenProvider) Stream(context.Context, *llm.Request, string) (llm.Stream, error) {
	return &brokenStream{}, nil
}

type brokenStream struct{ n int }

func (s *brokenStream) Next() (llm.Event, error) {
	s.n++
	switch s.n {
	case 1:
		return llm.Event{Kind: llm.EventStart, ID: "x", Model: "m"}, nil
	case 2:
		return llm.Event{Kind: llm.EventText, Text: "partial"}, nil
	}
	return llm.Event{}, llm.Errorf(502, llm.ErrServer, "connection reset by provider")
}

func (s *brokenStream) Close() error { return nil }

// TestMidStreamFailure: once bytes reached the client nothing is retried, and the failure is
// sent as the API's own stream error event instead of a cut connection.
func TestMidStreamFailure(t *testing.T) {
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{{Provider: brokenProvider{}, ProviderName: "p", Model: "m", Weight: 1}}}
	h := NewHandler(NewRouter([]*Model{m}, nil, time.Second), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	e := &env{h: h}
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "m", `,"stream":true`))
	out := w.body.String()
	if w.status != 200 || !strings.Contains(out, `"content":"partial"`) || !strings.HasSuffix(out, "data: {\"error\":{\"message\":\"connection reset by provider\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n") || strings.Contains(out, "[DONE]") {
		t.Fatalf("openai:\n%s", out)
	}
	w = e.do("POST", "/v1/messages", body(anBody, "m", `,"stream":true`))
	out = w.body.String()
	if !strings.Contains(out, "text_delta") || !strings.HasSuffix(out, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"connection reset by provider\"}}\n\n") || strings.Contains(out, "message_stop") {
		t.Fatalf("anthropic:\n%s", out)
	}
}

type closingProvider struct {
	brokenProvider
	closed *int
}

func (p closingProvider) Close() { *p.closed++ }

func TestCloseReleasesProvidersOnce(t *testing.T) {
	n := 0
	p := closingProvider{closed: &n}
	m1 := &Model{Name: "a", Deployments: []*Deployment{{Provider: p}, {Provider: p}}}
	m2 := &Model{Name: "b", Deployments: []*Deployment{{Provider: p}}}
	h := NewHandler(NewRouter([]*Model{m1, m2}, map[string]*Model{"c": m1}, time.Second), NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	h.Close()
	if n != 1 {
		t.Fatalf("provider closed %d times, want 1", n)
	}
}
