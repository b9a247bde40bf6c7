package test

import (
	"fmt"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMSDKTimeoutFallback: the preferred provider takes 5 s to its first token; with
// first_token: 300ms aya gives up on it and the other provider answers — streamed or not, the
// client sees no error and waits well under the slow provider's delay.
func TestLLMSDKTimeoutFallback(t *testing.T) {
	_, slowAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TimeToFirstToken: 5 * time.Second})
	_, fastAddr := startProvider(t, llmdemo.Anthropic, llmdemo.Options{TokensPerSecond: -1})
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - {name: slow, type: openai, base_url: "http://%s/v1", timeouts: {first_token: 300ms}}
    - {name: fast, type: anthropic, base_url: "http://%s"}
  models:
    - name: m
      strategy: lowest_cost
      deployments:
        - {provider: slow, model: gpt-4o, cost: {input: 1, output: 1}}
        - {provider: fast, model: claude-sonnet-4-5, cost: {input: 5, output: 5}}
`, web, slowAddr, fastAddr))
	c := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey("any"), option.WithMaxRetries(0))
	start := time.Now()
	if _, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("m")); err != nil {
		t.Fatalf("chat: %v", err)
	}
	// The slow deployment now cools down; the stream goes straight to the fast one, or, if
	// it were tried, would time out the same way.
	s := c.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), oaParams("m"))
	for s.Next() {
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("took %v: the slow provider was waited for", d)
	}
}
