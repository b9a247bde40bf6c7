package test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// startDemo is startProvider unpaced, for tests that only need the provider's address.
func startDemo(t *testing.T, kind llmdemo.Kind, o llmdemo.Options) string {
	t.Helper()
	o.TokensPerSecond = -1
	_, addr := startProvider(t, kind, o)
	return addr
}

// TestLLMFallbackRules, through the binary with openai-go: a prompt too long for a
// small-window deployment is answered by the context_window_fallbacks model; a prompt each
// provider refuses on policy (OpenAI's 400 content_policy_violation, Gemini's blocked prompt,
// Claude's stop_reason refusal) is answered by the content_policy_fallbacks model; and classes
// a model does not fall back on reach the client with the provider's code.
func TestLLMFallbackRules(t *testing.T) {
	blocked := llmdemo.Options{BlockedWords: []string{"forbidden"}}
	tiny := startDemo(t, llmdemo.OpenAI, llmdemo.Options{ContextWindow: 300})
	big := startDemo(t, llmdemo.Anthropic, llmdemo.Options{})
	oaPolicy := startDemo(t, llmdemo.OpenAI, blocked)
	anPolicy := startDemo(t, llmdemo.Anthropic, blocked)
	gmPolicy := startDemo(t, llmdemo.Gemini, blocked)
	safe := startDemo(t, llmdemo.OpenAI, llmdemo.Options{})
	broke := startDemo(t, llmdemo.OpenAI, llmdemo.Options{InsufficientQuota: true})
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - {name: tiny, type: openai, base_url: "http://%s/v1"}
    - {name: big, type: anthropic, base_url: "http://%s"}
    - {name: oa-policy, type: openai, base_url: "http://%s/v1"}
    - {name: an-policy, type: anthropic, base_url: "http://%s"}
    - {name: gm-policy, type: gemini, base_url: "http://%s"}
    - {name: safe, type: openai, base_url: "http://%s/v1"}
    - {name: broke, type: openai, base_url: "http://%s/v1"}
  models:
    - {name: small, deployments: [{provider: tiny, model: gpt-4o-mini}], context_window_fallbacks: [large]}
    - {name: large, deployments: [{provider: big, model: claude-sonnet-4-5}]}
    - {name: guarded-openai, deployments: [{provider: oa-policy, model: gpt-4o}], content_policy_fallbacks: [safe-model]}
    - {name: guarded-claude, deployments: [{provider: an-policy, model: claude-sonnet-4-5}], content_policy_fallbacks: [safe-model]}
    - {name: guarded-gemini, deployments: [{provider: gm-policy, model: gemini-2.5-flash}], content_policy_fallbacks: [safe-model]}
    - {name: safe-model, deployments: [{provider: safe, model: gpt-4o}]}
    - {name: unguarded, deployments: [{provider: oa-policy, model: gpt-4o}], fallbacks: [safe-model]}
    - name: strict
      deployments: [{provider: broke, model: gpt-4o, weight: 1}, {provider: safe, model: gpt-4o-mini, weight: 0}]
      fallback_on: [server_error, overloaded, timeout]
`, web, tiny, big, oaPolicy, anPolicy, gmPolicy, safe, broke))
	c := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey("any"), option.WithMaxRetries(0))
	ask := func(model, prompt string, stream bool) (string, error) {
		params := oaParams(model)
		params.Messages[1] = openai.UserMessage(prompt)
		var resp *http.Response
		if !stream {
			_, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), params, option.WithResponseInto(&resp))
			if err != nil {
				return "", err
			}
			return resp.Header.Get("X-Aya-Provider"), nil
		}
		s := c.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), params, option.WithResponseInto(&resp))
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			return "", err
		}
		if len(acc.Choices) == 0 || acc.Choices[0].Message.Content == "" {
			return "", fmt.Errorf("the stream brought no text")
		}
		return resp.Header.Get("X-Aya-Provider"), nil
	}
	long := strings.Repeat("Tell me about the history of the gateway. ", 60) // ~500 tokens
	for _, stream := range []bool{false, true} {
		if got, err := ask("small", long, stream); err != nil || got != "big" {
			t.Errorf("stream %v: a prompt too long for tiny: answered by %q, err %v; want big", stream, got, err)
		}
		if got, err := ask("small", "hi", stream); err != nil || got != "tiny" {
			t.Errorf("stream %v: a short prompt: answered by %q, err %v; want tiny", stream, got, err)
		}
		for _, m := range []string{"guarded-openai", "guarded-claude", "guarded-gemini"} {
			if got, err := ask(m, "something forbidden", stream); err != nil || got != "safe" {
				t.Errorf("stream %v, %s: a refused prompt answered by %q, err %v; want safe", stream, m, got, err)
			}
		}
		// Not in the default fallback_on: the provider's refusal, code and all; ordinary
		// fallbacks are not tried.
		_, err := ask("unguarded", "something forbidden", stream)
		var oe *openai.Error
		if !errors.As(err, &oe) || oe.StatusCode != 400 || oe.Code != "content_policy_violation" {
			t.Errorf("stream %v, unguarded: err %v, want the provider's 400 content_policy_violation", stream, err)
		}
		// insufficient_quota is auth, not in strict's fallback_on: the client gets it.
		_, err = ask("strict", "hi", stream)
		if !errors.As(err, &oe) || oe.StatusCode != 429 || oe.Code != "insufficient_quota" {
			t.Errorf("stream %v, strict: err %v, want the provider's 429 insufficient_quota", stream, err)
		}
	}
	// The call log counts the refused try before the answer.
	r, err := http.Get("http://" + p.Admin + "/llm/calls?model=guarded-gemini&limit=1")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var log struct {
		Calls []struct {
			Provider       string `json:"provider"`
			FailedAttempts int    `json:"failed_attempts"`
			Status         int    `json:"status"`
		} `json:"calls"`
	}
	if err := json.NewDecoder(r.Body).Decode(&log); err != nil || len(log.Calls) != 1 || log.Calls[0].FailedAttempts != 1 || log.Calls[0].Provider != "safe" {
		t.Fatalf("call log: %+v, %v", log, err)
	}
}
