package llmdemo

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestInjectedStatusesQueueAndErrorRate(t *testing.T) {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	do := func(s *Server) int {
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	s := New(OpenAI, Options{TokensPerSecond: -1})
	s.InjectStatus(503, 2)
	s.InjectStatus(429, 1)
	s.InjectStatus(500, 0)
	var got []int
	for range 5 {
		got = append(got, do(s))
	}
	want := []int{503, 503, 429, 200, 200}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	always := New(OpenAI, Options{ErrorRate: 1, TokensPerSecond: -1})
	never := New(OpenAI, Options{ErrorRate: 0, TokensPerSecond: -1})
	for range 10 {
		if do(always) != 500 || do(never) != 200 {
			t.Fatal("error rate 1 must always fail and 0 never")
		}
	}
}

func BenchmarkOpenAIChat(b *testing.B) {
	s := New(OpenAI, Options{TokensPerSecond: -1})
	body := `{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the gateway."}]}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

func BenchmarkAnthropicStream(b *testing.B) {
	s := New(Anthropic, Options{TokensPerSecond: -1})
	body := `{"model":"claude-haiku-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Say hello to the gateway."}]}`
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/v1/messages", strings.NewReader(body))
		req.Header.Set("anthropic-version", "2023-06-01")
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}
