package serve

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"aya/internal/llm"
)

func ptr[T any](v T) *T { return &v }

func TestCacheable(t *testing.T) {
	tests := []struct {
		name string
		req  llm.Request
		want bool
	}{
		{"temperature 0", llm.Request{Temperature: ptr(0.0)}, true},
		{"seed, default temperature", llm.Request{Seed: ptr(int64(7))}, true},
		{"temperature 0 and a seed", llm.Request{Temperature: ptr(0.0), Seed: ptr(int64(7))}, true},
		{"temperature above 0", llm.Request{Temperature: ptr(0.7)}, false},
		{"temperature above 0 with a seed", llm.Request{Temperature: ptr(0.7), Seed: ptr(int64(7))}, false},
		{"nothing said", llm.Request{}, false},
	}
	for _, tt := range tests {
		if got := cacheable(&tt.req); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCacheKey(t *testing.T) {
	base := func() *llm.Request {
		return &llm.Request{Model: "m", System: "s", Temperature: ptr(0.0), MaxTokens: 10,
			Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "hi"}}}},
			Tools:    []llm.Tool{{Name: "f", Parameters: json.RawMessage(`{"type":"object","properties":{"a":{"type":"string"}}}`)}}}
	}
	k := keyOf("chat_completions", base())
	same := []func(*llm.Request){
		func(r *llm.Request) { r.Stream, r.IncludeUsage = true, true },
		func(r *llm.Request) { r.User = "someone" },
		func(r *llm.Request) {
			r.Tools[0].Parameters = json.RawMessage(`{ "properties": {"a": {"type": "string"}}, "type": "object" }`)
		},
	}
	for i, f := range same {
		r := base()
		f(r)
		if keyOf("chat_completions", r) != k {
			t.Errorf("same #%d: the key changed", i)
		}
	}
	differ := []func(*llm.Request){
		func(r *llm.Request) { r.Model = "n" },
		func(r *llm.Request) { r.System = "t" },
		func(r *llm.Request) { r.Messages[0].Content[0].Text = "ho" },
		func(r *llm.Request) { r.Temperature = nil; r.Seed = ptr(int64(1)) },
		func(r *llm.Request) { r.MaxTokens = 11 },
		func(r *llm.Request) { r.Stop = []string{"x"} },
		func(r *llm.Request) { r.Tools = nil },
		func(r *llm.Request) { r.ResponseFormat = &llm.ResponseFormat{Type: "json_object"} },
	}
	for i, f := range differ {
		r := base()
		f(r)
		if keyOf("chat_completions", r) == k {
			t.Errorf("differ #%d: same key", i)
		}
	}
	if keyOf("messages", base()) == k {
		t.Error("the ingress API is not in the key")
	}
}

func TestCacheTTLAndLRU(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCache(time.Minute, 2)
	c.now = func() time.Time { return now }
	d := &Deployment{ProviderName: "p", Model: "m"}
	k := func(b byte) cacheKey { return cacheKey{b} }
	c.put(k(1), &llm.Response{Text: "one"}, d)
	c.put(k(2), &llm.Response{Text: "two"}, d)
	if _, ok := c.get(k(1)); !ok { // 1 is now the most recent
		t.Fatal("miss right after put")
	}
	c.put(k(3), &llm.Response{Text: "three"}, d) // evicts 2, the least recently used
	if _, ok := c.get(k(2)); ok {
		t.Fatal("the least recently used entry was kept beyond max_entries")
	}
	if e, ok := c.get(k(1)); !ok || e.resp.Text != "one" || e.provider != "p" {
		t.Fatalf("entry 1: %+v %v", e, ok)
	}
	now = now.Add(time.Minute)
	if _, ok := c.get(k(3)); ok || c.Len() != 1 {
		t.Fatalf("expired entry served (len %d)", c.Len())
	}
	c.put(k(4), &llm.Response{Text: strings.Repeat("x", maxCachedText+1)}, d)
	if _, ok := c.get(k(4)); ok {
		t.Fatal("an answer over the size bound was cached")
	}
}

// TestCollectorReplayRoundTrip: an answer rebuilt from stream events and replayed gives the
// same answer again.
func TestCollectorReplayRoundTrip(t *testing.T) {
	want := llm.Response{ID: "id1", Model: "m", Text: "hello world", Finish: llm.FinishToolCalls,
		ToolCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}, {ID: "c2", Name: "g", Arguments: `{}`}},
		Usage:     llm.Usage{Input: 10, Output: 5, CachedInput: 2}}
	var col collector
	for _, ev := range replay(&want) {
		col.add(ev)
	}
	got, _ := json.Marshal(col.resp)
	w, _ := json.Marshal(want)
	if string(got) != string(w) {
		t.Fatalf("got %s\nwant %s", got, w)
	}
}

const detBody = `,"temperature":0`

// TestHandlerCache: a repeated temperature-0 call is answered from the cache (the provider
// counts one request), as JSON or replayed as a stream in either API; temperature > 0 is never
// cached; a key that opted out neither reads nor fills the cache; hits are logged with their
// usage at no cost.
func TestHandlerCache(t *testing.T) {
	e := newEnv(t, map[string]*Key{"sk-a": {Name: "a"}, "sk-off": {Name: "off"}})
	e.h.SetCache(NewCache(time.Minute, 100), []string{"off"})
	log := NewCallLog(32)
	e.h.SetRecorder(log)
	auth := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	first := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", detBody), auth("sk-a")...)
	if first.status != 200 || first.header.Get("X-Aya-Cache") != "miss" {
		t.Fatalf("first: %d %q %s", first.status, first.header.Get("X-Aya-Cache"), first.body.String())
	}
	second := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", detBody), auth("sk-a")...)
	if second.status != 200 || second.header.Get("X-Aya-Cache") != "hit" || second.header.Get("X-Aya-Provider") != "oa" {
		t.Fatalf("second: %d %q", second.status, second.header.Get("X-Aya-Cache"))
	}
	var a, b struct {
		Choices []struct{ Message struct{ Content string } }
		Usage   struct{ PromptTokens, CompletionTokens int } `json:"usage"`
	}
	json.Unmarshal(first.body.Bytes(), &a)
	json.Unmarshal(second.body.Bytes(), &b)
	if a.Choices[0].Message.Content == "" || a.Choices[0].Message.Content != b.Choices[0].Message.Content {
		t.Fatalf("hit answered %q, the provider %q", b.Choices[0].Message.Content, a.Choices[0].Message.Content)
	}
	if n := e.oa.Requests(); n != 1 {
		t.Fatalf("the provider got %d requests, want 1", n)
	}
	// The same request streamed: replayed from the entry, with OpenAI's framing.
	st := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", detBody+`,"stream":true,"stream_options":{"include_usage":true}`), auth("sk-a")...)
	out := st.body.String()
	if st.header.Get("X-Aya-Cache") != "hit" || !strings.HasSuffix(out, "data: [DONE]\n\n") || strings.Count(out, `"finish_reason":"`) != 1 ||
		!strings.Contains(out, `"choices":[],"usage":{"prompt_tokens":`) || !strings.Contains(out, a.Choices[0].Message.Content) {
		t.Fatalf("streamed hit:\n%s", out)
	}
	// Anthropic API: its own entries; a stream fills the cache, a plain call reads it.
	if w := e.do("POST", "/v1/messages", body(anBody, "claude", detBody+`,"stream":true`), auth("sk-a")...); w.header.Get("X-Aya-Cache") != "miss" {
		t.Fatalf("anthropic stream: %q", w.header.Get("X-Aya-Cache"))
	}
	w := e.do("POST", "/v1/messages", body(anBody, "claude", detBody), auth("sk-a")...)
	if w.header.Get("X-Aya-Cache") != "hit" || !strings.Contains(w.body.String(), `"type":"message"`) || e.an.Requests() != 1 {
		t.Fatalf("anthropic hit %q (%d requests): %s", w.header.Get("X-Aya-Cache"), e.an.Requests(), w.body.String())
	}
	w = e.do("POST", "/v1/messages", body(anBody, "claude", detBody+`,"stream":true`), auth("sk-a")...)
	if out := w.body.String(); w.header.Get("X-Aya-Cache") != "hit" || !strings.HasPrefix(out, "event: message_start\n") || !strings.HasSuffix(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") {
		t.Fatalf("anthropic streamed hit:\n%s", out)
	}
	// Sampling and the opted-out key go to the provider every time, without the header.
	for _, c := range []struct {
		extra string
		key   string
	}{{`,"temperature":0.7`, "sk-a"}, {`,"temperature":0.7,"seed":3`, "sk-a"}, {detBody, "sk-off"}} {
		before := e.oa.Requests()
		for range 2 {
			if w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", c.extra), auth(c.key)...); w.status != 200 || w.header.Get("X-Aya-Cache") != "" {
				t.Fatalf("%s %s: %d %q", c.extra, c.key, w.status, w.header.Get("X-Aya-Cache"))
			}
		}
		if n := e.oa.Requests() - before; n != 2 {
			t.Fatalf("%s %s: %d provider requests, want 2", c.extra, c.key, n)
		}
	}
	hits := 0
	for _, c := range log.Query(CallFilter{}) {
		if c.CacheHit {
			hits++
			if c.CostUSD != 0 || c.InputTokens == 0 || c.OutputTokens == 0 || c.Provider == "" || c.Status != 200 {
				t.Fatalf("hit logged as %+v", c)
			}
		}
	}
	if hits != 4 {
		t.Fatalf("%d hits logged, want 4", hits)
	}
}

func BenchmarkCacheKey(b *testing.B) {
	b.ReportAllocs()
	req := &llm.Request{Model: "gpt", System: "be brief", Temperature: ptr(0.0), MaxTokens: 100,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "hello there, how are you today?"}}}}}
	for b.Loop() {
		keyOf("chat_completions", req)
	}
}

func BenchmarkCacheHit(b *testing.B) {
	b.ReportAllocs()
	c := NewCache(time.Hour, 1000)
	req := &llm.Request{Model: "gpt", Temperature: ptr(0.0), Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "hi"}}}}}
	k := keyOf("chat_completions", req)
	c.put(k, &llm.Response{Text: "hello"}, &Deployment{})
	for b.Loop() {
		c.get(keyOf("chat_completions", req))
	}
}
