package llmdemo

import (
	"encoding/json"
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

func TestContextWindow(t *testing.T) {
	tests := []struct {
		kind Kind
		path string
		hdr  map[string]string
		body string
		want string
	}{
		{OpenAI, "/v1/chat/completions", nil,
			`{"model":"gpt-4o","max_tokens":8,"messages":[{"role":"user","content":"one two three"}]}`, `"code":"context_length_exceeded"`},
		{Anthropic, "/v1/messages", map[string]string{"anthropic-version": "2023-06-01"},
			`{"model":"claude-haiku-4-5","max_tokens":8,"messages":[{"role":"user","content":"one two three"}]}`, `prompt is too long: 11 tokens > 10 maximum`},
		{Gemini, "/v1beta/models/gemini-2.5-flash:generateContent", nil,
			`{"contents":[{"parts":[{"text":"one two three"}]}],"generationConfig":{"maxOutputTokens":8}}`, `"status":"INVALID_ARGUMENT"`},
	}
	for _, tt := range tests {
		t.Run(tt.kind.String(), func(t *testing.T) {
			s := New(tt.kind, Options{ContextWindow: 10, TokensPerSecond: -1})
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(t.Context(), http.MethodPost, tt.path, strings.NewReader(tt.body))
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			s.ServeHTTP(rec, req)
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tt.want) {
				t.Fatalf("%d %s, want 400 with %s", rec.Code, rec.Body.String(), tt.want)
			}
			fits := strings.Replace(tt.body, ":8", ":7", 1)
			rec = httptest.NewRecorder()
			req = httptest.NewRequestWithContext(t.Context(), http.MethodPost, tt.path, strings.NewReader(fits))
			for k, v := range tt.hdr {
				req.Header.Set(k, v)
			}
			s.ServeHTTP(rec, req)
			if rec.Code != 200 {
				t.Fatalf("a request that fits: %d %s", rec.Code, rec.Body.String())
			}
		})
	}
}

func TestJSONSchemaAnswers(t *testing.T) {
	s := New(OpenAI, Options{TokensPerSecond: -1})
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"rate it"}],"response_format":{"type":"json_schema","json_schema":{"name":"r","strict":true,
	 "schema":{"type":"object","properties":{"score":{"type":"integer"},"label":{"type":"string","enum":["good","bad"]},"tags":{"type":"array","items":{"type":"string"}}}}}}}`
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
	var resp struct {
		Choices []struct {
			Message struct{ Content string }
		}
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Score *int
		Label string
		Tags  []string
	}
	if err := json.Unmarshal([]byte(resp.Choices[0].Message.Content), &got); err != nil || got.Score == nil || (got.Label != "good" && got.Label != "bad") || len(got.Tags) != 1 {
		t.Fatalf("content %q does not fit the schema: %v", resp.Choices[0].Message.Content, err)
	}
}
