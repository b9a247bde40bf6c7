package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
	"aya/internal/httpx"
	"aya/internal/llm/provider"
	"aya/internal/llm/provider/anthropic"
	"aya/internal/llm/provider/openai"
)

// recorder is an httpx.ResponseWriter that keeps what was written.
type recorder struct {
	header  httpx.Header
	status  int
	body    bytes.Buffer
	flushes int
}

func (r *recorder) Header() *httpx.Header { return &r.header }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(p)
}
func (r *recorder) Flush() error { r.flushes++; return nil }

type env struct {
	h      *Handler
	oa, an *llmdemo.Server
	router *Router
}

// newEnv serves three models: "gpt" on the OpenAI demo, "claude" on the Anthropic demo, and
// "both" whose first deployment is the Anthropic demo and second the OpenAI one, with "gpt"
// as its fallback.
func newEnv(t *testing.T, keys map[string]*Key) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	oa, oaAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	an, anAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.Anthropic, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	o := provider.Options{Connect: time.Second, FirstByte: 5 * time.Second, Total: 10 * time.Second}
	oo, ao := o, o
	oo.BaseURL = "http://" + oaAddr.String() + "/v1"
	ao.BaseURL = "http://" + anAddr.String()
	op, ap := openai.New(oo, "k"), anthropic.New(ao, "k", 64)
	gpt := &Model{Name: "gpt", Strategy: Weighted, Deployments: []*Deployment{{Provider: op, ProviderName: "oa", Model: "gpt-4o", Weight: 1, InputCost: 2, OutputCost: 10}}}
	claude := &Model{Name: "claude", Strategy: Weighted, Deployments: []*Deployment{{Provider: ap, ProviderName: "an", Model: "claude-sonnet-4-5", Weight: 1}}}
	both := &Model{Name: "both", Strategy: LowestCost, Fallbacks: []*Model{gpt}, Deployments: []*Deployment{
		{Provider: ap, ProviderName: "an", Model: "claude-sonnet-4-5", Weight: 1},
		{Provider: op, ProviderName: "oa", Model: "gpt-4o-mini", Weight: 1, InputCost: 1},
	}}
	embed := &Model{Name: "embed", Strategy: Weighted, Deployments: []*Deployment{
		{Provider: ap, ProviderName: "an", Model: "claude-sonnet-4-5", Weight: 1}, // cannot embed: skipped
		{Provider: op, ProviderName: "oa", Model: "text-embedding-3-small", Weight: 1, InputCost: 0.02},
	}}
	router := NewRouter([]*Model{gpt, claude, both, embed}, map[string]*Model{"smart": claude}, time.Minute)
	var secrets []string
	var ks []*Key
	for s, k := range keys {
		secrets = append(secrets, s)
		ks = append(ks, k)
	}
	h := NewHandler(router, NewKeys(secrets, ks), nil, slog.New(slog.DiscardHandler))
	return &env{h: h, oa: oa, an: an, router: router}
}

func (e *env) do(method, path, body string, hdr ...string) *recorder {
	r := &httpx.Request{Method: method, Path: path, Body: strings.NewReader(body), ContentLength: int64(len(body)), ID: "req-1"}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	w := &recorder{}
	e.h.ServeHTTPX(w, r)
	return w
}

const oaBody = `{"model":%q,"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello there"}],"max_tokens":12%s}`
const anBody = `{"model":%q,"max_tokens":12,"system":"be brief","messages":[{"role":"user","content":"hello there"}]%s}`

func body(tmpl, model, extra string) string {
	return strings.Replace(strings.Replace(tmpl, "%q", `"`+model+`"`, 1), "%s", extra, 1)
}

// TestCrossProvider sends each ingress API to each provider, streamed and not.
func TestCrossProvider(t *testing.T) {
	e := newEnv(t, nil)
	for _, path := range []string{"/v1/chat/completions", "/v1/messages"} {
		for _, model := range []string{"gpt", "claude", "smart"} {
			for _, stream := range []bool{false, true} {
				tmpl := oaBody
				if path == "/v1/messages" {
					tmpl = anBody
				}
				extra := ""
				if stream {
					extra = `,"stream":true`
				}
				w := e.do("POST", path, body(tmpl, model, extra))
				if w.status != 200 {
					t.Fatalf("%s %s stream=%v: %d %s", path, model, stream, w.status, w.body.String())
				}
				out := w.body.String()
				switch {
				case !stream && path == "/v1/messages":
					var m struct {
						Type       string
						Content    []struct{ Text string }
						StopReason string                                  `json:"stop_reason"`
						Usage      struct{ InputTokens, OutputTokens int } `json:"usage"`
					}
					if err := json.Unmarshal([]byte(out), &m); err != nil || m.Type != "message" || m.Content[0].Text == "" || m.StopReason == "" {
						t.Fatalf("%s %s: %s", path, model, out)
					}
				case !stream:
					var c struct {
						Object  string
						Choices []struct {
							Message      struct{ Content string }
							FinishReason string `json:"finish_reason"`
						}
						Usage struct {
							PromptTokens int `json:"prompt_tokens"`
						}
					}
					if err := json.Unmarshal([]byte(out), &c); err != nil || c.Object != "chat.completion" || c.Choices[0].Message.Content == "" || c.Usage.PromptTokens == 0 {
						t.Fatalf("%s %s: %s", path, model, out)
					}
				case path == "/v1/messages":
					if !strings.HasPrefix(out, "event: message_start\n") || !strings.HasSuffix(out, "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n") || !strings.Contains(out, "text_delta") {
						t.Fatalf("%s %s stream:\n%s", path, model, out)
					}
				default:
					if !strings.HasSuffix(out, "data: [DONE]\n\n") || strings.Contains(out, `"usage"`) || strings.Count(out, `"finish_reason":"`) != 1 {
						t.Fatalf("%s %s stream:\n%s", path, model, out)
					}
				}
				// An unpaced provider's burst may leave in few writes; TestStreamFlushPerEvent
				// checks that paced events leave one by one.
				if stream && w.flushes < 1 {
					t.Fatalf("%s %s: %d flushes: the stream was not flushed", path, model, w.flushes)
				}
			}
		}
	}
}

func TestIncludeUsage(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "claude", `,"stream":true,"stream_options":{"include_usage":true}`))
	out := w.body.String()
	if !strings.Contains(out, `"choices":[],"usage":{"prompt_tokens":`) || !strings.Contains(out, `"usage":null`) {
		t.Fatalf("want usage:null chunks then a usage chunk:\n%s", out)
	}
}

// TestFallback: the cheapest deployment (Anthropic) answers 529, then 500 on the OpenAI one:
// the call still succeeds, on the fallback model, and the failed deployments cool down.
func TestFallback(t *testing.T) {
	e := newEnv(t, nil)
	for _, stream := range []string{"", `,"stream":true`} {
		e.an.InjectStatus(529, 1)
		e.oa.InjectStatus(500, 1)
		w := e.do("POST", "/v1/chat/completions", body(oaBody, "both", stream))
		if w.status != 200 || w.header.Get("X-Aya-Model") != "gpt-4o" {
			t.Fatalf("stream=%q: %d %s %s", stream, w.status, w.header.Get("X-Aya-Model"), w.body.String())
		}
		m, _ := e.router.Lookup("both")
		if plan := e.router.Plan(m, 10); plan[0].Model != "gpt-4o" {
			t.Fatalf("cooling deployments were not moved last: first is %s", plan[0].Model)
		}
		for _, d := range m.Deployments {
			d.cooldown.Store(0)
		}
	}
}

func TestErrorsInClientShape(t *testing.T) {
	e := newEnv(t, nil)
	tests := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/v1/chat/completions", body(oaBody, "nope", ""), 404, `{"error":{"message":"The model ` + "`nope`" + ` does not exist or you do not have access to it.","type":"invalid_request_error","param":"model","code":"model_not_found"}}`},
		{"/v1/messages", body(anBody, "nope", ""), 404, `{"type":"error","error":{"type":"not_found_error","message":"model: nope"}}`},
		{"/v1/messages", `{"model":"gpt","messages":[{"role":"user","content":"x"}]}`, 400, `"type":"invalid_request_error"`},
	}
	for _, tt := range tests {
		w := e.do("POST", tt.path, tt.body)
		if w.status != tt.status || !strings.Contains(w.body.String(), tt.want) {
			t.Errorf("%s: got %d %s", tt.path, w.status, w.body.String())
		}
	}
	// A non-retryable provider error reaches the client as it was, in the client's shape.
	e.an.InjectStatus(429, 5)
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "claude", `,"stream":true`))
	if w.status != 429 || w.header.Get("Retry-After") != "1" || !strings.Contains(w.body.String(), `"code":"rate_limit_exceeded"`) {
		t.Fatalf("got %d %v %s", w.status, w.header, w.body.String())
	}
}

func TestKeys(t *testing.T) {
	k := &Key{Name: "team", Models: map[string]bool{"gpt": true}, RPM: 2, Usage: &Usage{}}
	e := newEnv(t, map[string]*Key{"sk-team": k})
	if w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", "")); w.status != 401 {
		t.Fatalf("no key: %d", w.status)
	}
	if w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""), "Authorization", "Bearer sk-other"); w.status != 401 {
		t.Fatalf("wrong key: %d", w.status)
	}
	if w := e.do("POST", "/v1/messages", body(anBody, "claude", ""), "x-api-key", "sk-team"); w.status != 404 {
		t.Fatalf("model the key may not use: %d %s", w.status, w.body.String())
	}
	if w := e.do("POST", "/v1/messages", body(anBody, "gpt", ""), "x-api-key", "sk-team"); w.status != 200 {
		t.Fatalf("x-api-key: %d %s", w.status, w.body.String())
	}
	if w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""), "Authorization", "Bearer sk-team"); w.status != 200 || w.header.Get("X-Ratelimit-Remaining-Requests") != "0" || w.header.Get("X-Ratelimit-Limit-Requests") != "2" {
		t.Fatalf("bearer: %d %v", w.status, w.header)
	}
	w := e.do("POST", "/v1/chat/completions", body(oaBody, "gpt", ""), "Authorization", "Bearer sk-team")
	if w.status != 429 || w.header.Get("Retry-After") == "" {
		t.Fatalf("rpm 2, third call: %d", w.status)
	}
	if k.Requests.Load() != 2 || k.InputTokens.Load() == 0 || k.CostUSD() <= 0 {
		t.Fatalf("accounting: %d requests, %d input tokens, $%v", k.Requests.Load(), k.InputTokens.Load(), k.CostUSD())
	}
	if w := e.do("GET", "/v1/models", "", "Authorization", "Bearer sk-team"); w.status != 200 || w.body.String() != `{"object":"list","data":[{"id":"gpt","object":"model","created":0,"owned_by":"aya"}]}` {
		t.Fatalf("models: %d %s", w.status, w.body.String())
	}
}

func TestModels(t *testing.T) {
	e := newEnv(t, nil)
	w := e.do("GET", "/v1/models", "", "anthropic-version", "2023-06-01")
	var list struct {
		Data    []struct{ ID, Type string }
		HasMore *bool `json:"has_more"`
	}
	if err := json.Unmarshal(w.body.Bytes(), &list); err != nil || len(list.Data) != 5 || list.Data[0].Type != "model" || list.HasMore == nil {
		t.Fatalf("%s", w.body.String())
	}
	if w := e.do("GET", "/v1/models/smart", ""); w.status != 200 {
		t.Fatalf("%d", w.status)
	}
	if w := e.do("GET", "/v1/models/a%2Fb", ""); w.status != 404 || !strings.Contains(w.body.String(), "`a/b`") {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
}

func TestWeightedShuffle(t *testing.T) {
	a, b, c := &Deployment{Model: "a", Weight: 3}, &Deployment{Model: "b", Weight: 1}, &Deployment{Model: "standby"}
	firsts := map[string]int{}
	for range 4000 {
		ds := []*Deployment{a, b, c}
		weightedShuffle(ds)
		firsts[ds[0].Model]++
		if ds[2] != c {
			t.Fatal("a weight-0 deployment came before a weighted one")
		}
	}
	if r := float64(firsts["a"]) / 4000; r < 0.7 || r > 0.8 {
		t.Fatalf("a first %.2f of the time, want about 0.75", r)
	}
}

type consumerNoter struct{ name string }

func (n *consumerNoter) NoteConsumer(name string) { n.name = name }

// The request's record (the access log's consumer field) names the virtual key used.
func TestFindNotesTheKeyAsConsumer(t *testing.T) {
	ks := NewKeys([]string{"sk-team"}, []*Key{{Name: "team"}})
	n := &consumerNoter{}
	r := &httpx.Request{Header: httpx.Header{{Name: "Authorization", Value: "Bearer sk-team"}}, Local: n}
	if k, e := ks.Find(r); e != nil || k.Name != "team" || n.name != "team" {
		t.Fatalf("key %v, error %v, noted %q", k, e, n.name)
	}
}
