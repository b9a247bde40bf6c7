package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMCache, through the binary with the official OpenAI SDK: a repeated temperature-0 call
// is answered from aya's cache (the provider counts one request, x-aya-cache says hit), the
// same request streamed is replayed as a stream the SDK's reader and accumulator take, usage
// included, and temperature > 0 is never cached. A temperature-0 prompt endpoint is cached
// the same way.
func TestLLMCache(t *testing.T) {
	oa, addr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  cache: {ttl: 1m, max_entries: 100}
  providers:
    - {name: oa, type: openai, base_url: "http://%s/v1"}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o}]}
  keys:
    - {key: sk-client, name: tests}
  prompts:
    - name: summarize
      path: /api/summarize
      model: gpt
      template: "Summarize {{text}} in {{n}} words"
      input_schema: {required: [text, n], properties: {text: string, n: integer}}
      output: json
      temperature: 0
`, web, addr))
	c := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))
	params := oaParams("gpt")
	params.Temperature = openai.Float(0)

	chat := func(p openai.ChatCompletionNewParams) (*openai.ChatCompletion, string) {
		t.Helper()
		var resp *http.Response
		cc, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), p, option.WithResponseInto(&resp))
		if err != nil {
			t.Fatal(err)
		}
		return cc, resp.Header.Get("X-Aya-Cache")
	}
	live, h1 := chat(params)
	cached, h2 := chat(params)
	if h1 != "miss" || h2 != "hit" || oa.Requests() != 1 {
		t.Fatalf("x-aya-cache %q then %q, provider requests %d: want miss, hit, 1", h1, h2, oa.Requests())
	}
	if cached.Choices[0].Message.Content != live.Choices[0].Message.Content || cached.Usage.TotalTokens != live.Usage.TotalTokens || cached.Usage.TotalTokens == 0 {
		t.Fatalf("hit %q %+v, live %q %+v", cached.Choices[0].Message.Content, cached.Usage, live.Choices[0].Message.Content, live.Usage)
	}

	// Streamed: replayed from the cache as SSE chunks the SDK reads, with the usage chunk.
	sp := params
	sp.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	var resp *http.Response
	s := c.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), sp, option.WithResponseInto(&resp))
	var acc openai.ChatCompletionAccumulator
	chunks := 0
	for s.Next() {
		acc.AddChunk(s.Current())
		chunks++
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if resp.Header.Get("X-Aya-Cache") != "hit" || oa.Requests() != 1 || chunks < 3 {
		t.Fatalf("stream: x-aya-cache %q, provider requests %d, %d chunks", resp.Header.Get("X-Aya-Cache"), oa.Requests(), chunks)
	}
	if acc.Choices[0].Message.Content != live.Choices[0].Message.Content || acc.Usage.CompletionTokens != live.Usage.CompletionTokens || acc.Choices[0].FinishReason == "" {
		t.Fatalf("replayed %q %+v, live %q %+v", acc.Choices[0].Message.Content, acc.Usage, live.Choices[0].Message.Content, live.Usage)
	}

	// Sampling: every call reaches the provider, and none is marked.
	hot := oaParams("gpt")
	hot.Temperature = openai.Float(0.8)
	for range 2 {
		if _, h := chat(hot); h != "" {
			t.Fatalf("temperature 0.8: x-aya-cache %q", h)
		}
	}
	if oa.Requests() != 3 {
		t.Fatalf("provider requests %d, want 3: temperature 0.8 must not be cached", oa.Requests())
	}

	// A prompt endpoint at temperature 0: JSON out, the repeat from the cache, bad input a 400
	// naming the field.
	post := func(body string) (int, string, string) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctxTimeout(t, 10*time.Second), "POST", "http://"+web+"/api/summarize", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sk-client")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("X-Aya-Cache"), string(b)
	}
	st1, c1, b1 := post(`{"text":"the gateway","n":5}`)
	st2, c2, b2 := post(`{"text":"the gateway","n":5}`)
	var obj map[string]any
	if st1 != 200 || st2 != 200 || c1 != "miss" || c2 != "hit" || b1 != b2 || json.Unmarshal([]byte(b1), &obj) != nil || oa.Requests() != 4 {
		t.Fatalf("prompt: %d %q %s, then %d %q %s; provider requests %d", st1, c1, b1, st2, c2, b2, oa.Requests())
	}
	if st, _, b := post(`{"text":"the gateway","n":"five"}`); st != 400 || !strings.Contains(b, `"param":"n"`) {
		t.Fatalf("bad input: %d %s", st, b)
	}
}
